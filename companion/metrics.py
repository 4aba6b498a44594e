"""Evaluation metrics for language models, each written from its definition (chapter 6).

- :func:`perplexity`: exp of the mean negative log-likelihood per token, with sliding windows for
  texts longer than the context.
- :func:`bleu`: corpus BLEU (Papineni et al., 2002), equal to ``sacrebleu.corpus_bleu`` with its
  defaults (13a tokenisation, exponential smoothing), on the 0-100 scale.
- :func:`rouge`: ROUGE-1, ROUGE-2 and ROUGE-L F-measures (Lin, 2004), equal to
  ``rouge_score.rouge_scorer.RougeScorer``, on the 0-1 scale.
- :func:`exact_match` and :func:`token_f1`: the SQuAD v1.1 answer metrics, 0-100 as the official
  script reports them.
- :func:`cohen_kappa`: agreement of two annotators beyond chance, equal to scikit-learn's.
- :func:`bootstrap_ci`: a percentile bootstrap confidence interval for any of the above,
  resampling examples or whole groups of them.
- :func:`paired_outcomes` and :func:`sign_test`: two systems on the same items, compared by the
  items only one of them gets right (McNemar's exact test).
- :func:`risk_coverage` and :func:`threshold_for`: selective answering, where a system answers only
  when its confidence clears a threshold, traded between how much it answers and how often it is
  right.

The n-gram counting, clipping, brevity penalty, smoothing, longest common subsequence and
F-measures are written here. Only the *tokenisers* come from the reference libraries
(sacrebleu's ``13a`` and rouge-score's default): a BLEU or ROUGE number is only comparable with
another computed with the same tokenisation, so we use theirs rather than invent a third.

``references`` is, everywhere, a list with one entry per prediction; each entry is a list of
acceptable reference strings (a single string is accepted as a list of one).
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

BLEU_MAX_ORDER = 4
ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL")
KAPPA_WEIGHTS: tuple[str | None, ...] = (None, "linear", "quadratic")
HUMAN_EVAL_FILE = Path(__file__).resolve().parent.parent / "data" / "human_eval.jsonl"
HUMAN_EVAL_FIELDS = ("id", "task", "output", "reference", "rating_a", "rating_b")


# --- input checks ---------------------------------------------------------------------------


def _is_list(value: object) -> bool:
    """True for a list, tuple or array; False for a string (a sequence of characters) or scalar."""
    return not isinstance(value, str) and isinstance(value, Sequence | np.ndarray)


def _check_texts(texts: object, what: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValueError(f"{what} must be a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{what} is empty; expected at least one string")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"{what}[{i}] must be a string, got {type(text).__name__}")
    return list(texts)


def _check_pairs(predictions: object, references: object) -> tuple[list[str], list[list[str]]]:
    """Validate ``predictions`` (list of str) against ``references`` (list of lists of str)."""
    preds = _check_texts(predictions, "predictions")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise ValueError(
            f"references must be a list (one entry per prediction), got {type(references).__name__}"
        )
    if len(references) != len(preds):
        raise ValueError(
            f"got {len(preds)} predictions but {len(references)} reference entries; "
            "expected one entry (a list of reference strings) per prediction"
        )
    refs = []
    for i, entry in enumerate(references):
        if isinstance(entry, str):
            entry = [entry]
        refs.append(_check_texts(entry, f"references[{i}]"))
    return preds, refs


# --- perplexity ---------------------------------------------------------------------------------

WINDOW_BATCH_TOKENS = 1024  # tokens per forward pass when a long text is cut into windows


def _windows(n_tokens: int, max_length: int, stride: int) -> list[tuple[int, int, int]]:
    """Sliding windows ``(begin, end, first_target)`` over ``n_tokens`` tokens.

    Window k reads tokens ``[k * stride, k * stride + max_length)`` and scores those from
    ``first_target`` on: the ones no earlier window scored (the very first token is never scored,
    having no context). The last window ends at the last token.
    """
    windows, prev_end = [], 0
    for begin in range(0, n_tokens, stride):
        end = min(begin + max_length, n_tokens)
        first_target = max(prev_end, begin + 1)  # a target needs one token of context
        if first_target < end:
            windows.append((begin, end, first_target))
        prev_end = end
        if end == n_tokens:
            break
    return windows



def perplexity(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: str | Sequence[str],
    max_length: int | None = None,
    stride: int | None = None,
) -> float:
    """Corpus perplexity ``exp(-(1/N) sum_t log p(x_t | x_<t))`` over all N scored tokens (ch. 6).

    Each text is tokenised on its own (with the tokenizer's default special tokens); every token
    after the first is scored given the tokens before it. Texts longer than ``max_length``
    (default: the model's context length) are read with a sliding window that advances
    ``stride`` tokens (default ``max_length // 2``) and scores only the tokens not scored by an
    earlier window, so each token is predicted with at least ``max_length - stride`` tokens of
    context. When a text fits in one window this is exactly ``exp`` of the causal-LM loss.
    Texts are weighted by their number of scored tokens, not averaged per text.
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = _check_texts(texts, "texts")
    if max_length is None:
        max_length = getattr(model.config, "max_position_embeddings", None)
        if max_length is None:
            raise ValueError("the model config has no max_position_embeddings; pass max_length")
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
        raise ValueError(f"max_length must be an integer >= 2, got {max_length!r}")
    if stride is None:
        stride = max(1, max_length // 2)
    if not isinstance(stride, int) or isinstance(stride, bool) or not 1 <= stride <= max_length:
        raise ValueError(
            f"stride must be an integer in [1, max_length={max_length}], got {stride!r}"
        )

    device = next(model.parameters()).device
    nll_sum, n_scored = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")["input_ids"][0].to(device)
            # windows of equal length go through the model together, a batch at a time
            by_length: dict[int, list[tuple[int, int, int]]] = {}
            for window in _windows(len(ids), max_length, stride):
                by_length.setdefault(window[1] - window[0], []).append(window)
            for length, group in by_length.items():
                rows = max(1, WINDOW_BATCH_TOKENS // length)
                for i in range(0, len(group), rows):
                    chunk = group[i : i + rows]
                    batch = torch.stack([ids[begin:end] for begin, end, _ in chunk])
                    logits = model(input_ids=batch).logits
                    for row, (begin, end, first) in enumerate(chunk):
                        # logits at window position j predict token begin + j + 1
                        predicting = logits[row, first - begin - 1 : end - begin - 1].float()
                        logprobs = torch.log_softmax(predicting, dim=-1)
                        nll_sum -= logprobs.gather(1, ids[first:end, None]).sum().item()
                        n_scored += end - first
    if n_scored == 0:
        raise ValueError("no token to score: every text has fewer than two tokens")
    return math.exp(nll_sum / n_scored)


# --- BLEU -----------------------------------------------------------------------------------


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu_statistics(
    predictions: Sequence[str], references: Sequence[Sequence[str] | str]
) -> dict[str, Any]:
    """The sufficient statistics of corpus BLEU (chapter 6), summed over the corpus.

    ``matches[n-1]``: clipped n-gram matches, each hypothesis n-gram counted at most as often as
    it occurs in the reference where it occurs most; ``totals[n-1]``: hypothesis n-grams;
    ``hyp_len``; ``ref_len``: for each sentence the reference length closest to the hypothesis
    length (the shorter on a tie), summed.
    """
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    preds, refs = _check_pairs(predictions, references)
    tokenize = Tokenizer13a()
    matches = [0] * BLEU_MAX_ORDER
    totals = [0] * BLEU_MAX_ORDER
    hyp_len = ref_len = 0
    for pred, ref_list in zip(preds, refs, strict=True):
        hyp = tokenize(pred.rstrip()).split()
        ref_tokens = [tokenize(r.rstrip()).split() for r in ref_list]
        hyp_len += len(hyp)
        ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in ref_tokens)[1]
        for n in range(1, BLEU_MAX_ORDER + 1):
            hyp_counts = _ngrams(hyp, n)
            max_ref_counts: Counter = Counter()
            for r in ref_tokens:
                max_ref_counts |= _ngrams(r, n)  # | keeps the maximum count per n-gram
            totals[n - 1] += sum(hyp_counts.values())
            matches[n - 1] += sum(min(c, max_ref_counts[g]) for g, c in hyp_counts.items())
    return {"matches": matches, "totals": totals, "hyp_len": hyp_len, "ref_len": ref_len}


def bleu(predictions: Sequence[str], references: Sequence[Sequence[str] | str]) -> float:
    """Corpus BLEU = BP * exp(mean_n log p_n), n = 1..4, on the 0-100 scale (chapter 6).

    ``p_n`` is the clipped n-gram precision pooled over the corpus; a ``p_n`` with no match is
    smoothed to ``1 / (2^k * total_n)`` for the k-th such order (sacrebleu's ``exp`` method); the
    brevity penalty is ``BP = exp(1 - r / c)`` when the hypotheses are shorter (c) than the
    references (r), else 1. Equal to ``sacrebleu.corpus_bleu(predictions, refs)`` with defaults.
    """
    stats = bleu_statistics(predictions, references)
    matches, totals = stats["matches"], stats["totals"]
    c, r = stats["hyp_len"], stats["ref_len"]
    if not any(matches):
        return 0.0
    log_precisions = []
    halvings = 1.0
    for m, t in zip(matches, totals, strict=True):
        if t == 0:  # hypotheses too short to hold any n-gram of this order: BLEU is 0
            return 0.0
        if m == 0:
            halvings *= 2
            log_precisions.append(math.log(100.0 / (halvings * t)))
        else:
            log_precisions.append(math.log(100.0 * m / t))
    brevity = 1.0 if c >= r else math.exp(1 - r / c)
    return brevity * math.exp(sum(log_precisions) / BLEU_MAX_ORDER)


# --- ROUGE ----------------------------------------------------------------------------------


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, by dynamic programming over one row."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, start=1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def _f_measure(overlap: int, n_pred: int, n_ref: int) -> float:
    precision = overlap / max(n_pred, 1)
    recall = overlap / max(n_ref, 1)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def rouge(
    predictions: Sequence[str],
    references: Sequence[Sequence[str] | str],
    use_stemmer: bool = False,
) -> dict[str, float]:
    """Mean ROUGE-1/2/L F-measures, 0-1 (chapter 6): ``F = 2PR / (P + R)`` per example.

    ROUGE-n counts overlapping n-grams (precision over the prediction's n-grams, recall over the
    reference's); ROUGE-L uses the longest common subsequence in their place. With several
    references, each type takes the reference with the best F-measure. Tokens are rouge-score's:
    lower-cased alphanumeric runs, Porter-stemmed if ``use_stemmer``.
    """
    from rouge_score.tokenizers import DefaultTokenizer

    preds, refs = _check_pairs(predictions, references)
    tokenizer = DefaultTokenizer(use_stemmer=use_stemmer)
    sums = dict.fromkeys(ROUGE_TYPES, 0.0)
    for pred, ref_list in zip(preds, refs, strict=True):
        p = tokenizer.tokenize(pred)
        best = dict.fromkeys(ROUGE_TYPES, 0.0)
        for ref in ref_list:
            r = tokenizer.tokenize(ref)
            scores = {"rougeL": _f_measure(_lcs_length(r, p), len(p), len(r))}
            for n in (1, 2):
                pn, rn = _ngrams(p, n), _ngrams(r, n)
                overlap = sum((pn & rn).values())
                scores[f"rouge{n}"] = _f_measure(overlap, sum(pn.values()), sum(rn.values()))
            best = {k: max(best[k], scores[k]) for k in ROUGE_TYPES}
        sums = {k: sums[k] + best[k] for k in ROUGE_TYPES}
    return {k: sums[k] / len(preds) for k in ROUGE_TYPES}


# --- question answering: SQuAD v1.1 -------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation (chapter 6): lower-case, drop ASCII punctuation, drop the
    articles a/an/the, collapse white space."""
    if not isinstance(text, str):
        raise ValueError(f"expected an answer string, got {type(text).__name__}")
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _f1_one(prediction: str, reference: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str] | str]
) -> list[float]:
    """Per-example exact match, 1.0 or 0.0, after :func:`normalize_answer` (chapter 6)."""
    preds, refs = _check_pairs(predictions, references)
    return [
        float(any(normalize_answer(p) == normalize_answer(r) for r in rs))
        for p, rs in zip(preds, refs, strict=True)
    ]


def token_f1_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str] | str]
) -> list[float]:
    """Per-example token F1 (0-1), the best over the references (chapter 6)."""
    preds, refs = _check_pairs(predictions, references)
    return [max(_f1_one(p, r) for r in rs) for p, rs in zip(preds, refs, strict=True)]


def exact_match(predictions: Sequence[str], references: Sequence[Sequence[str] | str]) -> float:
    """Percent of predictions equal to some reference after SQuAD normalisation, 0-100 (ch. 6)."""
    scores = exact_match_scores(predictions, references)
    return 100.0 * sum(scores) / len(scores)


def token_f1(predictions: Sequence[str], references: Sequence[Sequence[str] | str]) -> float:
    """Mean over examples of the best bag-of-tokens F1 against the references, 0-100 (ch. 6).

    Per pair, with the normalised token multisets: ``P = |common| / |pred|``,
    ``R = |common| / |ref|``, ``F1 = 2PR / (P + R)`` (0 when nothing is common).
    """
    scores = token_f1_scores(predictions, references)
    return 100.0 * sum(scores) / len(scores)


# --- agreement between annotators -----------------------------------------------------------


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], weights: str | None = None) -> float:
    """Cohen's kappa ``(p_o - p_e) / (1 - p_e)`` for two annotators' labels (chapter 6).

    ``p_o`` is the observed agreement and ``p_e`` the agreement expected if each annotator drew
    labels independently from their own label frequencies. With ``weights="linear"`` or
    ``"quadratic"``, a disagreement between ordered labels i and j counts ``|i-j|`` or
    ``(i-j)^2`` (by position in the sorted label set): ``kappa = 1 - sum w*O / sum w*E``. Equal to
    ``sklearn.metrics.cohen_kappa_score``; NaN when it is undefined (chance agreement is 1).
    """
    for name, labels in (("a", a), ("b", b)):
        if not _is_list(labels):
            raise ValueError(f"{name} must be a list of labels, got {type(labels).__name__}")
        if len(labels) == 0:
            raise ValueError(f"{name} is empty; expected one label per rated item")
    if len(a) != len(b):
        raise ValueError(f"the annotators rated {len(a)} and {len(b)} items; expected the same")
    if weights not in KAPPA_WEIGHTS:
        raise ValueError(f"weights must be one of {KAPPA_WEIGHTS}, got {weights!r}")
    labels = sorted(set(a) | set(b))
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[index[x], index[y]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    if weights is None:
        w = (distance > 0).astype(float)
    else:
        w = distance if weights == "linear" else distance**2
    chance_disagreement = float((w * expected).sum())
    if chance_disagreement == 0:
        return float("nan")
    return 1.0 - float((w * observed).sum()) / chance_disagreement


# --- bootstrap confidence intervals ---------------------------------------------------------


class ConfidenceInterval(NamedTuple):
    """The lower and upper ends of a confidence interval."""

    low: float
    high: float


def bootstrap_ci(
    metric: Callable[[Sequence[Any], Sequence[Any]], float | dict[str, float]],
    predictions: Sequence[Any],
    references: Sequence[Any],
    n: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    groups: Sequence[Any] | None = None,
) -> ConfidenceInterval | dict[str, ConfidenceInterval]:
    """Percentile bootstrap interval of ``metric(predictions, references)`` (chapter 6).

    Draw ``n`` resamples of the example indices with replacement, recompute the metric on each
    (a corpus metric such as BLEU is recomputed on the whole resampled corpus), and return the
    ``(1 - confidence)/2`` and ``(1 + confidence)/2`` quantiles. A metric returning a dict (like
    :func:`rouge`) gets one interval per key. ``cohen_kappa`` works too: pass the two annotators'
    labels as ``predictions`` and ``references``.

    ``groups`` (one label per example) makes it a cluster bootstrap: whole groups are drawn with
    replacement and bring all their examples along. Use it when examples share a cause of success
    or failure (tasks written from one template, say): resampling them one by one would treat
    ``m`` correlated examples as ``m`` independent ones and give too narrow an interval.
    """
    if not callable(metric):
        raise ValueError(f"metric must be callable, got {type(metric).__name__}")
    for name, seq in (("predictions", predictions), ("references", references)):
        if not _is_list(seq):
            raise ValueError(f"{name} must be a list, got {type(seq).__name__}")
    if len(predictions) == 0:
        raise ValueError("predictions is empty; expected at least one example")
    if len(predictions) != len(references):
        raise ValueError(
            f"got {len(predictions)} predictions but {len(references)} references; expected equal"
        )
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n (the number of resamples) must be an integer >= 2, got {n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    m = len(predictions)
    if groups is None:
        members = [[i] for i in range(m)]
    else:
        if not _is_list(groups):
            raise ValueError(f"groups must be a list of labels, got {type(groups).__name__}")
        if len(groups) != m:
            raise ValueError(f"groups must give one label per example: expected {m}, "
                             f"got {len(groups)}")
        by_label: dict[Any, list[int]] = {}
        for i, label in enumerate(groups):
            by_label.setdefault(label, []).append(i)
        members = list(by_label.values())
    rng = np.random.default_rng(seed)
    samples: list[float | dict[str, float]] = []
    for drawn in rng.integers(0, len(members), size=(n, len(members))):
        idx = [i for g in drawn for i in members[g]]
        samples.append(metric([predictions[i] for i in idx], [references[i] for i in idx]))
    quantiles = [(1 - confidence) / 2, (1 + confidence) / 2]

    def interval(values: list[float], key: str) -> ConfidenceInterval:
        array = np.asarray(values, dtype=float)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"the metric{key} was undefined (NaN or inf) on some resamples")
        low, high = np.quantile(array, quantiles)
        return ConfidenceInterval(float(low), float(high))

    if isinstance(samples[0], dict):
        return {k: interval([s[k] for s in samples], f"[{k!r}]") for k in samples[0]}
    return interval(samples, "")


# --- paired comparison -----------------------------------------------------------------------


def paired_outcomes(before: dict[str, bool], after: dict[str, bool]) -> tuple[int, int]:
    """``(won, lost)``: items ``after`` gets right and ``before`` wrong, and the reverse.

    Both map the same item ids to success. Items both get right, or both wrong, say nothing about
    which system is better; only these discordant pairs do (chapter 7).
    """
    if before.keys() != after.keys():
        only = sorted(before.keys() ^ after.keys())
        raise ValueError(f"the two runs must cover the same items; {len(only)} are in only one "
                         f"(first: {only[0]!r})")
    won = sum(after[i] and not before[i] for i in after)
    lost = sum(before[i] and not after[i] for i in after)
    return won, lost


def sign_test(won: int, lost: int) -> float:
    """Two-sided exact p-value that ``won`` and ``lost`` differ by chance (McNemar's exact test).

    If the two systems were equally good, each of the ``n = won + lost`` discordant items would go
    either way with probability 1/2, so ``won ~ Binomial(n, 1/2)``, and
    ``p = min(1, 2 * sum_{k <= min(won, lost)} C(n, k) / 2**n)``. With no discordant items, 1.
    """
    for name, value in (("won", won), ("lost", lost)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a count (an integer >= 0), got {value!r}")
    n = won + lost
    tail = sum(math.comb(n, k) for k in range(min(won, lost) + 1))
    return min(1.0, 2 * tail / 2**n)


# --- selective answering ---------------------------------------------------------------------


class CoveragePoint(NamedTuple):
    """Answering only when confidence >= ``threshold``: the share of items answered, the share of
    those that are right, and how many were answered."""

    threshold: float
    coverage: float
    accuracy: float
    answered: int


def risk_coverage(confidence: Sequence[float], correct: Sequence[bool]) -> list[CoveragePoint]:
    """The coverage-accuracy trade-off of answering only when sure (chapter 7).

    For a threshold t the system answers the items A_t = {i : c_i >= t}; coverage = |A_t| / n and
    selective accuracy = sum_{i in A_t} y_i / |A_t| (one minus the *risk* of Geifman and El-Yaniv,
    2017). Each distinct confidence is a threshold, from the highest down, so coverage grows to 1
    and the last point's accuracy is the plain accuracy. Items with equal confidence come in
    together.
    """
    if not _is_list(confidence):
        raise ValueError(f"confidence must be a list of numbers, got {type(confidence).__name__}")
    if not _is_list(correct):
        raise ValueError(f"correct must be a list of booleans, got {type(correct).__name__}")
    if len(confidence) == 0:
        raise ValueError("confidence is empty; expected at least one item")
    if len(confidence) != len(correct):
        raise ValueError(f"got {len(confidence)} confidences but {len(correct)} outcomes; "
                         "expected one outcome per item")
    c = np.asarray(confidence, dtype=float)
    if not np.all(np.isfinite(c)):
        raise ValueError("confidence has NaN or infinite values; expected finite numbers")
    if any(y not in (0, 1) for y in correct):
        raise ValueError("correct must hold booleans (or 0 and 1)")
    order = np.argsort(-c, kind="stable")
    c = c[order]
    right = np.cumsum(np.asarray(correct, dtype=float)[order])  # right[k-1]: right among top k
    points = []
    for end in range(1, len(c) + 1):
        if end < len(c) and c[end] == c[end - 1]:
            continue  # a tie: the next item enters at the same threshold
        points.append(CoveragePoint(float(c[end - 1]), end / len(c), float(right[end - 1] / end),
                                    end))
    return points


def threshold_for(
    confidence: Sequence[float], correct: Sequence[bool], accuracy: float
) -> CoveragePoint | None:
    """The point of :func:`risk_coverage` with the most coverage whose selective accuracy is at
    least ``accuracy``, or None if no threshold reaches it."""
    if not 0 < accuracy <= 1:
        raise ValueError(f"accuracy must be in (0, 1], got {accuracy!r}")
    good = [p for p in risk_coverage(confidence, correct) if p.accuracy >= accuracy]
    return max(good, key=lambda p: p.coverage) if good else None


# --- the shipped human-evaluation set -------------------------------------------------------


def load_human_eval(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The rated outputs of ``data/human_eval.jsonl`` (chapter 6; see its data card).

    Each record has the fields ``HUMAN_EVAL_FIELDS``; ``rating_a`` and ``rating_b`` are the two
    annotators' integer ratings on the 1-5 rubric. A record that breaks this raises ``ValueError``.
    """
    path = HUMAN_EVAL_FILE if path is None else Path(path)
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        missing = [f for f in HUMAN_EVAL_FIELDS if f not in record]
        if missing:
            raise ValueError(f"{path.name} line {number}: missing fields {missing}")
        for key in ("rating_a", "rating_b"):
            rating = record[key]
            if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
                raise ValueError(f"{path.name} line {number}: {key} = {rating!r}, expected 1-5")
        records.append(record)
    return records
