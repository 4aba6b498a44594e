"""Evaluation metrics for language models, each written from its definition (chapter 6).

- :mod:`~companion.metrics.perplexity`: exp of the mean negative log-likelihood per token, with
  sliding windows for texts longer than the context.
- :mod:`~companion.metrics.overlap`: BLEU (equal to sacrebleu), ROUGE-1/2/L (equal to
  rouge-score), and the SQuAD exact match and token F1.
- :mod:`~companion.metrics.agreement`: the shipped human ratings and Cohen's kappa (equal to
  scikit-learn's).
- :mod:`~companion.metrics.stats`: bootstrap confidence intervals, the sign test for two systems
  on the same items, and selective answering (risk against coverage).

``references`` is, everywhere, a list with one entry per prediction; each entry is a list of
acceptable reference strings (a single string is accepted as a list of one).
"""

from companion.metrics.agreement import (
    HUMAN_EVAL_FIELDS,
    HUMAN_EVAL_FILE,
    KAPPA_WEIGHTS,
    cohen_kappa,
    load_human_eval,
)
from companion.metrics.overlap import (
    BLEU_MAX_ORDER,
    ROUGE_TYPES,
    answer_token_f1,
    bleu,
    bleu_statistics,
    exact_match,
    exact_match_scores,
    f_measure,
    lcs_length,
    ngrams,
    normalize_answer,
    rouge,
    token_f1,
    token_f1_scores,
)
from companion.metrics.perplexity import WINDOW_BATCH_TOKENS, perplexity, sliding_windows
from companion.metrics.stats import (
    ConfidenceInterval,
    CoveragePoint,
    bootstrap_ci,
    paired_outcomes,
    risk_coverage,
    sign_test,
    threshold_for,
)

__all__ = [
    "BLEU_MAX_ORDER", "HUMAN_EVAL_FIELDS", "HUMAN_EVAL_FILE", "KAPPA_WEIGHTS", "ROUGE_TYPES",
    "WINDOW_BATCH_TOKENS", "ConfidenceInterval", "CoveragePoint", "answer_token_f1", "bleu",
    "bleu_statistics", "bootstrap_ci", "cohen_kappa", "exact_match", "exact_match_scores",
    "f_measure", "lcs_length", "load_human_eval", "ngrams", "normalize_answer", "paired_outcomes",
    "perplexity", "risk_coverage", "rouge", "sign_test", "sliding_windows", "threshold_for",
    "token_f1", "token_f1_scores",
]
