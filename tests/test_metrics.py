"""Specification of companion.metrics (chapter 6): each metric equals the reference the field uses.

References: sacrebleu.corpus_bleu (BLEU), rouge_score.RougeScorer (ROUGE), the official SQuAD v1.1
evaluation script (copied below, marked), sklearn.metrics.cohen_kappa_score (kappa), the causal-LM
loss of transformers (perplexity), plus hand-computed cases.
"""

from __future__ import annotations

import math
import random
import re
import string
import warnings
from collections import Counter

import numpy as np
import pytest
import sacrebleu
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rouge_score.rouge_scorer import RougeScorer
from sklearn.metrics import cohen_kappa_score

from companion.metrics import (
    ConfidenceInterval,
    bleu,
    bleu_statistics,
    bootstrap_ci,
    cohen_kappa,
    exact_match,
    f_measure,
    lcs_length,
    load_human_eval,
    ngrams,
    normalize_answer,
    paired_outcomes,
    perplexity,
    risk_coverage,
    rouge,
    sign_test,
    threshold_for,
    token_f1,
)

# --- REFERENCE: the official SQuAD v1.1 evaluation script (evaluate-v1.1.py), its metric part ---
# Copied as published by Rajpurkar et al. (2016); only the helper layout differs. Do not "fix" it:
# it is the definition the companion must reproduce.


def squad_normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def squad_f1_score(prediction, ground_truth):
    prediction_tokens = squad_normalize_answer(prediction).split()
    ground_truth_tokens = squad_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def squad_exact_match_score(prediction, ground_truth):
    return squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth)


def squad_metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def squad_evaluate(predictions, ground_truths_list):
    f1 = exact_match = total = 0
    for prediction, ground_truths in zip(predictions, ground_truths_list, strict=True):
        total += 1
        exact_match += squad_metric_max_over_ground_truths(
            squad_exact_match_score, prediction, ground_truths
        )
        f1 += squad_metric_max_over_ground_truths(squad_f1_score, prediction, ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


# --- END OF REFERENCE ---------------------------------------------------------------------------

WORDS = [
    "the", "a", "an", "cat", "dog", "sat", "on", "mat", "The", "Cat", "ran", "quickly", "big",
    "red", "Paris", "is", "capital", "of", "France", "2024", "3.14", "don't", "U.S.", "e-mail",
    "running", "runs", "ran", ".", ",", "!", "?", "(", ")", '"', "-", "&amp;", "$5",
]
sentence = st.lists(st.sampled_from(WORDS), min_size=0, max_size=14).map(" ".join)
nonempty_sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=14).map(" ".join)


@st.composite
def corpus(draw, max_refs=3):
    """Predictions with a variable number (1..max_refs) of references each."""
    size = draw(st.integers(1, 6))
    preds = draw(st.lists(sentence, min_size=size, max_size=size))
    refs = [draw(st.lists(nonempty_sentence, min_size=1, max_size=max_refs)) for _ in preds]
    return preds, refs


def sacrebleu_score(preds, refs):
    """sacrebleu wants one stream per reference position; None pads a missing reference."""
    width = max(len(r) for r in refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
    return sacrebleu.corpus_bleu(preds, streams).score


# --- BLEU -------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(corpus())
def test_bleu_matches_sacrebleu_on_random_corpora_with_several_references(data):
    preds, refs = data
    assert bleu(preds, refs) == pytest.approx(sacrebleu_score(preds, refs), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(nonempty_sentence, min_size=1, max_size=5))
def test_bleu_of_a_corpus_against_itself_is_100_when_every_sentence_has_4_tokens(sentences):
    long_enough = [s + " w1 w2 w3 w4" for s in sentences]
    assert bleu(long_enough, [[s] for s in long_enough]) == pytest.approx(100.0)


def test_bleu_hand_computed_two_sentence_corpus():
    # p1..p4 pooled over both sentences, counted by hand:
    # s1 "the cat sat on the mat" vs "the cat sat on a mat": 5/6, 3/5, 2/4, 1/3
    # s2 "it is raining" vs "it is raining today": 3/3, 2/2, 1/1, 0/0
    preds = ["the cat sat on the mat", "it is raining"]
    refs = [["the cat sat on a mat"], ["it is raining today"]]
    p = [8 / 9, 5 / 7, 3 / 5, 1 / 3]
    brevity = math.exp(1 - 10 / 9)  # c = 9 hypothesis tokens, r = 10 reference tokens
    expected = 100 * brevity * math.exp(sum(math.log(x) for x in p) / 4)
    assert bleu(preds, refs) == pytest.approx(expected, abs=1e-9)


def test_bleu_smooths_orders_without_matches_by_halving():
    # unigrams 5/5 match; no 2-, 3- or 4-gram matches: 1/(2*4), 1/(4*3), 1/(8*2)
    preds, refs = ["mat the on sat cat"], [["the cat sat on the mat"]]
    expected = 100 * math.exp(1 - 6 / 5) * (1 * 1 / 8 * 1 / 12 * 1 / 16) ** 0.25
    assert bleu(preds, refs) == pytest.approx(expected, abs=1e-9)


def test_bleu_is_zero_without_unigram_matches_or_without_4grams():
    assert bleu(["completely different words"], [["the cat sat on the mat"]]) == 0.0
    assert bleu(["the cat"], [["the cat"]]) == 0.0  # no 4-gram in the whole corpus


def test_bleu_clips_each_ngram_to_its_most_generous_reference():
    stats = bleu_statistics(["the the the"], [["the cat", "the the dog"]])
    assert stats["matches"][:2] == [2, 1]  # "the" at most twice, "the the" at most once
    assert stats["totals"][:3] == [3, 2, 1]
    assert stats["ref_len"] == 3  # closest reference length to 3 tokens


def test_bleu_ties_in_reference_length_pick_the_shorter():
    stats = bleu_statistics(["a b c"], [["a b", "a b c d"]])
    assert stats["ref_len"] == 2


# --- ROUGE ------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(corpus(), st.booleans())
def test_rouge_matches_rouge_score_with_best_reference(data, use_stemmer):
    preds, refs = data
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer)
    per_example = [scorer.score_multi(r, p) for p, r in zip(preds, refs, strict=True)]
    ours = rouge(preds, refs, use_stemmer=use_stemmer)
    for key in ("rouge1", "rouge2", "rougeL"):
        expected = float(np.mean([s[key].fmeasure for s in per_example]))
        assert ours[key] == pytest.approx(expected, abs=1e-6)


def test_rouge_hand_computed():
    # overlap: the x2, cat, on, mat = 5 of 6 both ways; bigrams 3 of 5; LCS "the cat on the mat"
    scores = rouge(["The cat sat on the mat."], [["the cat is on the mat"]])
    assert scores == pytest.approx({"rouge1": 5 / 6, "rouge2": 3 / 5, "rougeL": 5 / 6})


def test_rouge_l_rewards_order_but_rouge_1_does_not():
    scores = rouge(["mat the on sat cat the"], [["the cat sat on the mat"]])
    assert scores["rouge1"] == pytest.approx(1.0)
    assert scores["rougeL"] == pytest.approx(0.5)  # longest in-order run: "the cat the", 3 of 6


def _lcs_by_brute_force(a, b):
    """The longest common subsequence by trying every subsequence of ``a`` (reference)."""
    from itertools import combinations

    def is_subsequence(sub, seq):
        it = iter(seq)
        return all(token in it for token in sub)

    for size in range(len(a), -1, -1):
        if any(is_subsequence(sub, b) for sub in combinations(a, size)):
            return size
    return 0


@given(st.lists(st.sampled_from("abc"), max_size=7), st.lists(st.sampled_from("abc"), max_size=7))
def test_lcs_length_equals_the_brute_force_longest_common_subsequence(a, b):
    assert lcs_length(a, b) == _lcs_by_brute_force(a, b) == lcs_length(b, a)


def test_ngrams_and_f_measure_by_hand():
    assert ngrams(["a", "b", "a", "b"], 2) == {("a", "b"): 2, ("b", "a"): 1}
    assert ngrams(["a"], 2) == {}
    assert f_measure(3, 4, 6) == pytest.approx(2 * (3 / 4) * (3 / 6) / (3 / 4 + 3 / 6))
    assert f_measure(0, 0, 5) == 0.0


# --- SQuAD exact match and token F1 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  an   apple, a day!", "apple day"),
        ("Theory of the Atom", "theory of atom"),  # articles only as whole words
        ("U.S.A.", "usa"),
        ("the-end", "theend"),  # punctuation goes first, so no article is left to remove
        ("don't", "dont"),
        ("A", ""),
        ("«Paris»", "«paris»"),  # only ASCII punctuation is removed
        ("1,000 km", "1000 km"),
    ],
)
def test_normalize_answer_follows_squad(text, normalised):
    assert normalize_answer(text) == normalised == squad_normalize_answer(text)


answer = st.lists(st.sampled_from(WORDS), min_size=0, max_size=6).map(" ".join)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(answer, st.lists(answer, min_size=1, max_size=3)), min_size=1,
                max_size=8))
def test_exact_match_and_f1_equal_the_official_squad_script(pairs):
    preds = [p for p, _ in pairs]
    refs = [r for _, r in pairs]
    official = squad_evaluate(preds, refs)
    assert exact_match(preds, refs) == pytest.approx(official["exact_match"], abs=1e-9)
    assert token_f1(preds, refs) == pytest.approx(official["f1"], abs=1e-9)


def test_token_f1_hand_computed():
    # "big cat" shares 1 token with "big red dog": P = 1/2, R = 1/3, F1 = 2PR/(P+R) = 0.4
    assert token_f1(["the big cat"], [["a big red dog"]]) == pytest.approx(40.0)
    assert exact_match(["The Big Cat!"], [["big cat", "dog"]]) == 100.0


# --- Cohen's kappa ----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=40),
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_matches_scikit_learn(pairs, weights):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns when kappa is undefined (a single label)
        expected = cohen_kappa_score(a, b, weights=weights)
    ours = cohen_kappa(a, b, weights=weights)
    if math.isnan(expected):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(expected, abs=1e-9)


def test_cohen_kappa_hand_computed():
    # p_o = 3/4; marginals a = (1/2, 1/2), b = (1/4, 3/4): p_e = 1/8 + 3/8 = 1/2; kappa = 1/2
    assert cohen_kappa([1, 1, 2, 2], [1, 2, 2, 2]) == pytest.approx(0.5)
    assert cohen_kappa(["good", "bad", "good"], ["good", "bad", "good"]) == pytest.approx(1.0)


# --- bootstrap --------------------------------------------------------------------------------


def _accuracy(preds, refs):
    return 100.0 * float(np.mean(np.asarray(preds) == np.asarray(refs)))


def test_bootstrap_interval_of_a_proportion_matches_the_normal_approximation():
    rng = np.random.default_rng(1)
    m, p = 200, 0.3
    preds = list((rng.random(m) < p).astype(int))
    refs = [1] * m
    low, high = bootstrap_ci(_accuracy, preds, refs, n=2000, seed=0)
    acc = _accuracy(preds, refs) / 100
    clt_width = 2 * 1.96 * math.sqrt(acc * (1 - acc) / m) * 100
    assert high - low == pytest.approx(clt_width, rel=0.15)
    assert low < 100 * acc < high


def test_cluster_bootstrap_matches_the_cluster_robust_standard_error():
    """Forty templates of five tasks each, every template all right or all wrong: the interval
    has the width of the cluster-robust (CR0) standard error, sqrt(sum_g (S_g - n_g p)^2) / N,
    about sqrt(5) times the width of the interval that treats the 200 tasks as independent."""
    rng = np.random.default_rng(2)
    outcome = (rng.random(40) < 0.8).astype(int)
    preds = list(np.repeat(outcome, 5))
    groups = [f"template-{g}" for g in range(40) for _ in range(5)]
    refs = [1] * len(preds)
    low, high = bootstrap_ci(_accuracy, preds, refs, n=4000, seed=0, groups=groups)
    p = float(np.mean(preds))
    sums = np.asarray(preds).reshape(40, 5).sum(axis=1)
    se = math.sqrt(float(((sums - 5 * p) ** 2).sum())) / len(preds)
    assert high - low == pytest.approx(2 * 1.96 * se * 100, rel=0.15)
    plain_low, plain_high = bootstrap_ci(_accuracy, preds, refs, n=4000, seed=0)
    assert (high - low) / (plain_high - plain_low) == pytest.approx(math.sqrt(5), rel=0.2)


def test_cluster_bootstrap_with_one_example_per_group_is_the_plain_bootstrap():
    preds, refs = [1, 0, 1, 1, 0, 1, 1], [1] * 7
    plain = bootstrap_ci(_accuracy, preds, refs, n=300, seed=4)
    assert bootstrap_ci(_accuracy, preds, refs, n=300, seed=4, groups=list("abcdefg")) == plain
    with pytest.raises(ValueError, match="one label per example: expected 7, got 2"):
        bootstrap_ci(_accuracy, preds, refs, groups=["a", "b"])
    with pytest.raises(ValueError, match="list of labels, got str"):
        bootstrap_ci(_accuracy, preds, refs, groups="abcdefg")


@given(st.lists(st.integers(0, 1), min_size=1, max_size=5), st.integers(2, 10))
@settings(max_examples=30, deadline=None)
def test_groups_of_equal_make_up_leave_nothing_to_resample(pattern, n_groups):
    """When every group holds the same outcomes, every resample has the same rate: the cluster
    interval collapses to that rate, whatever the within-group spread."""
    preds = pattern * n_groups
    groups = [g for g in range(n_groups) for _ in pattern]
    low, high = bootstrap_ci(_accuracy, preds, [1] * len(preds), n=50, seed=1, groups=groups)
    assert low == pytest.approx(high) == pytest.approx(100 * sum(pattern) / len(pattern))


def test_bootstrap_is_reproducible_and_handles_dict_metrics_and_kappa():
    preds = ["the cat sat", "a dog ran", "paris", "red"]
    refs = [["the cat sat down"], ["the dog ran"], ["Paris"], ["blue"]]
    first = bootstrap_ci(exact_match, preds, refs, n=100, seed=3)
    assert isinstance(first, ConfidenceInterval)
    assert first == bootstrap_ci(exact_match, preds, refs, n=100, seed=3)
    assert 0 <= first.low <= first.high <= 100
    intervals = bootstrap_ci(rouge, preds, refs, n=50, seed=0)
    assert set(intervals) == {"rouge1", "rouge2", "rougeL"}
    low, high = bootstrap_ci(cohen_kappa, [1, 2, 3, 4, 5] * 4, [1, 2, 3, 5, 4] * 4, n=100)
    assert low <= cohen_kappa([1, 2, 3, 4, 5] * 4, [1, 2, 3, 5, 4] * 4) <= high


# --- perplexity -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_lm():
    """A random 2-layer Llama with SmolLM2's tokenizer and a 48-token context."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from companion.models import prepare_smollm2

    tokenizer = AutoTokenizer.from_pretrained(prepare_smollm2())
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=48,
    )
    return LlamaForCausalLM(config).eval(), tokenizer


def _ids(tokenizer, text):
    return tokenizer(text, return_tensors="pt")["input_ids"]


def _direct(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, labels=ids).loss.item()


TEXT = "Evaluation asks how well a model predicts text it has not seen. " * 8  # > 48 tokens


@settings(max_examples=10, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=2, max_size=20).map(" ".join),
       st.integers(1, 48))
def test_perplexity_of_a_text_that_fits_is_exp_of_the_lm_loss_for_any_stride(tiny_lm, text, stride):
    model, tokenizer = tiny_lm
    ids = _ids(tokenizer, text)
    assume(ids.shape[1] <= 48)  # the claim is about texts that fit in one window
    expected = math.exp(_direct(model, ids))
    assert perplexity(model, tokenizer, [text], max_length=48, stride=stride) == pytest.approx(
        expected, rel=1e-5
    )


def test_strided_perplexity_with_stride_1_gives_every_token_the_full_window(tiny_lm):
    model, tokenizer = tiny_lm
    window = 16
    ids = _ids(tokenizer, TEXT[:200])[0]
    nll = 0.0
    with torch.no_grad():
        for t in range(1, len(ids)):  # token t predicted from up to window - 1 tokens before it
            context = ids[max(0, t - window + 1) : t].unsqueeze(0)
            logprobs = torch.log_softmax(model(input_ids=context).logits[0, -1], -1)
            nll -= logprobs[ids[t]].item()
    expected = math.exp(nll / (len(ids) - 1))
    ours = perplexity(model, tokenizer, [TEXT[:200]], max_length=window, stride=1)
    assert ours == pytest.approx(expected, rel=1e-5)


def test_non_overlapping_windows_score_each_chunk_like_a_separate_text(tiny_lm):
    model, tokenizer = tiny_lm
    ids = _ids(tokenizer, TEXT)
    chunks = [ids[:, i : i + 48] for i in range(0, ids.shape[1], 48)]
    chunks = [c for c in chunks if c.shape[1] > 1]
    total = sum(_direct(model, c) * (c.shape[1] - 1) for c in chunks)
    expected = math.exp(total / sum(c.shape[1] - 1 for c in chunks))
    assert perplexity(model, tokenizer, TEXT, stride=48) == pytest.approx(expected, rel=1e-5)


def test_corpus_perplexity_weights_texts_by_their_scored_tokens(tiny_lm):
    model, tokenizer = tiny_lm
    texts = ["a short one", "a rather longer sentence about the red cat that sat on a mat"]
    counts = [_ids(tokenizer, t).shape[1] - 1 for t in texts]
    logs = [math.log(perplexity(model, tokenizer, [t])) for t in texts]
    expected = math.exp(sum(n * x for n, x in zip(counts, logs, strict=True)) / sum(counts))
    assert perplexity(model, tokenizer, texts) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_smollm2_perplexity_is_its_lm_loss_and_prefers_fluent_text(smollm2):
    model, tokenizer = smollm2
    text = "The capital of France is Paris, and the capital of Italy is Rome."
    ids = _ids(tokenizer, text)
    fluent = perplexity(model, tokenizer, text)
    assert fluent == pytest.approx(math.exp(_direct(model, ids)), rel=1e-4)
    words = text.split()
    random.Random(0).shuffle(words)
    assert perplexity(model, tokenizer, " ".join(words)) > 5 * fluent


# --- bad input --------------------------------------------------------------------------------

PREDS, REFS = ["a b c d"], [["a b c d"]]


@pytest.mark.parametrize("metric", [bleu, rouge, exact_match, token_f1])
@pytest.mark.parametrize(
    ("predictions", "references", "message"),
    [
        ([], [], "empty"),
        (["a", "b"], [["a"]], "2 predictions but 1"),
        ("a b c", [["a b c"]], "list of strings"),
        ([3], [["3"]], r"predictions\[0\] must be a string"),
        (PREDS, [[]], "empty"),
        (PREDS, [[None]], r"references\[0\]\[0\] must be a string"),
        (PREDS, None, "references must be a list"),
    ],
)
def test_text_metrics_reject_bad_input_with_a_clear_message(metric, predictions, references,
                                                            message):
    with pytest.raises(ValueError, match=message):
        metric(predictions, references)


def test_kappa_bootstrap_and_perplexity_reject_bad_input(tiny_lm):
    model, tokenizer = tiny_lm
    with pytest.raises(ValueError, match="same"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        cohen_kappa([], [])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1], [1], weights="cubic")
    with pytest.raises(ValueError, match="n \\(the number of resamples\\)"):
        bootstrap_ci(exact_match, PREDS, REFS, n=1)
    with pytest.raises(ValueError, match="2 predictions but 1"):
        bootstrap_ci(exact_match, PREDS * 2, REFS)
    with pytest.raises(ValueError, match="empty"):
        perplexity(model, tokenizer, [])
    with pytest.raises(ValueError, match="stride"):
        perplexity(model, tokenizer, ["a b c"], max_length=8, stride=9)
    with pytest.raises(ValueError, match="max_length"):
        perplexity(model, tokenizer, ["a b c"], max_length=1)
    with pytest.raises(ValueError, match="no token to score"):
        perplexity(model, tokenizer, ["", "a"])


# --- the shipped human-evaluation data ----------------------------------------------------------


def test_shipped_human_eval_has_two_ratings_on_the_rubric_scale_per_item():
    records = load_human_eval()
    assert len(records) >= 30
    assert len({r["id"] for r in records}) == len(records)
    a, b = [r["rating_a"] for r in records], [r["rating_b"] for r in records]
    assert set(a) | set(b) <= {1, 2, 3, 4, 5}
    assert a != b, "the annotators disagree on some items"
    assert -1 < cohen_kappa(a, b) < 1


def test_load_human_eval_rejects_a_rating_off_the_scale(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "task": "t", "output": "o", "reference": "r", '
                   '"rating_a": 6, "rating_b": 5}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="rating_a = 6"):
        load_human_eval(bad)


# --- paired comparison ------------------------------------------------------------------------


def test_paired_outcomes_counts_only_the_discordant_items():
    before = {"a": True, "b": True, "c": False, "d": False, "e": True}
    after = {"a": True, "b": False, "c": True, "d": False, "e": False}
    assert paired_outcomes(before, after) == (1, 2)
    assert paired_outcomes(after, before) == (2, 1)
    with pytest.raises(ValueError, match="same items; 2 are in only one .first: 'e'"):
        paired_outcomes(before, {**{k: v for k, v in after.items() if k != "e"}, "f": True})


def test_sign_test_by_hand():
    # 7 won, 3 lost: 2 * (C(10,0) + C(10,1) + C(10,2) + C(10,3)) / 2**10 = 2 * 176 / 1024
    assert sign_test(7, 3) == pytest.approx(0.34375)
    assert sign_test(3, 7) == sign_test(7, 3)
    assert sign_test(0, 0) == sign_test(5, 5) == 1.0
    assert sign_test(10, 0) == pytest.approx(2 / 1024)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="must be a count"):
            sign_test(bad, 2)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 80), st.integers(0, 80))
def test_sign_test_matches_scipys_exact_binomial_test(won, lost):
    from scipy.stats import binomtest

    assume(won + lost > 0)
    assert sign_test(won, lost) == pytest.approx(binomtest(won, won + lost, 0.5).pvalue, rel=1e-9)


# --- selective answering ----------------------------------------------------------------------


def test_risk_coverage_by_hand_with_a_tie():
    points = risk_coverage([0.5, 0.9, 0.8, 0.8], [False, True, True, False])
    # t = 0.9 answers one item (right), t = 0.8 adds the tied pair (one right), t = 0.5 the last
    assert [tuple(p) for p in points] == [
        (0.9, 0.25, 1.0, 1),
        (0.8, 0.75, pytest.approx(2 / 3), 3),
        (0.5, 1.0, 0.5, 4),
    ]
    assert threshold_for([0.5, 0.9, 0.8, 0.8], [False, True, True, False], 0.6).threshold == 0.8
    assert threshold_for([0.5, 0.9, 0.8, 0.8], [False, True, True, False], 1.0).coverage == 0.25
    assert threshold_for([0.9, 0.1], [False, True], 0.75) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9, 1.0]), st.booleans()),
                min_size=1, max_size=40))
def test_risk_coverage_accuracy_is_scikit_learns_precision_at_each_threshold(items):
    from sklearn.metrics import precision_recall_curve

    confidence, correct = [c for c, _ in items], [y for _, y in items]
    points = risk_coverage(confidence, correct)
    c = np.array(confidence)
    assert [p.threshold for p in points] == sorted(set(confidence), reverse=True)
    for p in points:  # coverage straight from the definition
        assert p.answered == int((c >= p.threshold).sum()) and p.coverage == p.answered / len(c)
    assert points[-1].coverage == 1 and points[-1].accuracy == pytest.approx(np.mean(correct))
    if any(correct):  # a precision-recall curve needs a positive item
        precision, _, thresholds = precision_recall_curve(correct, confidence)
        ours = {p.threshold: p.accuracy for p in points}
        for t, prec in zip(thresholds.tolist(), precision[:-1].tolist(), strict=True):
            assert ours[t] == pytest.approx(prec)


def test_risk_coverage_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        risk_coverage([], [])
    with pytest.raises(ValueError, match="2 confidences but 1 outcomes"):
        risk_coverage([0.1, 0.2], [True])
    with pytest.raises(ValueError, match="NaN or infinite"):
        risk_coverage([float("nan")], [True])
    with pytest.raises(ValueError, match="booleans"):
        risk_coverage([0.1], [2])
    with pytest.raises(ValueError, match="must be a list of numbers, got str"):
        risk_coverage("0.1", [True])
    with pytest.raises(ValueError, match=r"accuracy must be in \(0, 1\]"):
        threshold_for([0.1], [True], 0)
