"""Overlap metrics: a generated text compared with references, token by token (chapter 6).

- :func:`bleu`: corpus BLEU (Papineni et al., 2002), equal to ``sacrebleu.corpus_bleu`` with its
  defaults (13a tokenisation, exponential smoothing), on the 0-100 scale.
- :func:`rouge`: ROUGE-1, ROUGE-2 and ROUGE-L F-measures (Lin, 2004), equal to
  ``rouge_score.rouge_scorer.RougeScorer``, on the 0-1 scale.
- :func:`exact_match` and :func:`token_f1`: the SQuAD v1.1 answer metrics, 0-100 as the official
  script reports them.

The n-gram counting, clipping, brevity penalty, smoothing, longest common subsequence and
F-measures are written here. Only the *tokenisers* come from the reference libraries
(sacrebleu's ``13a`` and rouge-score's default): a BLEU or ROUGE number is only comparable with
another computed with the same tokenisation, so we use theirs rather than invent a third.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from companion.metrics.inputs import check_pairs

BLEU_MAX_ORDER = 4
ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL")


def ngrams(tokens: Sequence[str], n: int) -> Counter:
    """How often each run of ``n`` consecutive tokens occurs: ``ngrams("a b a b".split(), 2)``
    is ``{("a", "b"): 2, ("b", "a"): 1}``."""
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

    preds, refs = check_pairs(predictions, references)
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
            hyp_counts = ngrams(hyp, n)
            max_ref_counts: Counter = Counter()
            for r in ref_tokens:
                max_ref_counts |= ngrams(r, n)  # | keeps the maximum count per n-gram
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


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists, by dynamic programming.

    ``table[i][j]`` is the LCS length of ``a[:i]`` and ``b[:j]``: one more than
    ``table[i-1][j-1]`` when their last tokens are equal, else the longer of the LCS without the
    last token of ``a`` or without the last token of ``b``.
    """
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[len(a)][len(b)]


def f_measure(overlap: int, n_pred: int, n_ref: int) -> float:
    """``F = 2PR / (P + R)``, ``P = overlap / n_pred``, ``R = overlap / n_ref`` (0 when both 0)."""
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

    preds, refs = check_pairs(predictions, references)
    tokenizer = DefaultTokenizer(use_stemmer=use_stemmer)
    sums = dict.fromkeys(ROUGE_TYPES, 0.0)
    for pred, ref_list in zip(preds, refs, strict=True):
        p = tokenizer.tokenize(pred)
        best = dict.fromkeys(ROUGE_TYPES, 0.0)
        for ref in ref_list:
            r = tokenizer.tokenize(ref)
            scores = {"rougeL": f_measure(lcs_length(r, p), len(p), len(r))}
            for n in (1, 2):
                pn, rn = ngrams(p, n), ngrams(r, n)
                overlap = sum((pn & rn).values())
                scores[f"rouge{n}"] = f_measure(overlap, sum(pn.values()), sum(rn.values()))
            best = {k: max(best[k], scores[k]) for k in ROUGE_TYPES}
        sums = {k: sums[k] + best[k] for k in ROUGE_TYPES}
    return {k: sums[k] / len(preds) for k in ROUGE_TYPES}


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation (chapter 6): lower-case, drop ASCII punctuation, drop the
    articles a/an/the, collapse white space."""
    if not isinstance(text, str):
        raise ValueError(f"expected an answer string, got {type(text).__name__}")
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def answer_token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 of one answer against one reference, 0-1: the normalised answers as bags of
    tokens, ``P = |common| / |pred|``, ``R = |common| / |ref|``, ``F1 = 2PR / (P + R)``."""
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
    preds, refs = check_pairs(predictions, references)
    return [
        float(any(normalize_answer(p) == normalize_answer(r) for r in rs))
        for p, rs in zip(preds, refs, strict=True)
    ]


def token_f1_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str] | str]
) -> list[float]:
    """Per-example token F1 (0-1), the best over the references (chapter 6)."""
    preds, refs = check_pairs(predictions, references)
    return [max(answer_token_f1(p, r) for r in rs) for p, rs in zip(preds, refs, strict=True)]


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
