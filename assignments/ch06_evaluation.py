# Assignment source for chapter 6 (evaluation). Generate the notebooks with
# `python -m companion.teaching.notebooks student` (format: companion/teaching/source.py).
# ruff: noqa: E402, F811

# %% [markdown]
# # Assignment 6: Metrics you can trust
#
# Chapter 6 scores a model with ROUGE and checks two human raters against each other with
# Cohen's kappa. Here you write both from scratch and prove them equal to the libraries the field
# uses (`rouge-score`, scikit-learn). Run each `%%check` cell after your answer: it prints
# `[passed]` or what went wrong. The grader runs these checks and more (hidden ones).
#
# Expected time on a laptop CPU: every cell runs in a few seconds.

# %%
import re
from collections import Counter

from companion.metrics import load_human_eval


def tokenize(text: str) -> list[str]:
    """rouge-score's default tokens: lower-cased runs of ASCII letters and digits."""
    return re.findall(r"[a-z0-9]+", text.lower())


rows = load_human_eval()
print(len(rows), "rated outputs; the first:", rows[0]["output"], "| its reference:",
      rows[0]["reference"])

# %% [markdown] question=lcs_length points=2
# ## Exercise 1: the longest common subsequence (2 points)
#
# ROUGE-L rests on the length of the longest common subsequence (LCS) of two token lists: the
# longest list of tokens that appears in both in the same order, not necessarily side by side.
# Write `lcs_length(a, b)` with dynamic programming: `L[i][j]` is the LCS length of `a[:i]` and
# `b[:j]`, and `L[i][j] = L[i-1][j-1] + 1` if `a[i-1] == b[j-1]`, else `max(L[i-1][j], L[i][j-1])`.
# It must take time proportional to `len(a) * len(b)` (no enumeration of subsequences).

# %% solution
def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b``."""
    # BEGIN SOLUTION
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]
    # END SOLUTION

# %% public
assert lcs_length(tokenize("the cat sat on the mat"), tokenize("the cat lay on a mat")) == 4
assert lcs_length([], ["a"]) == 0

# %% hidden
import random

from rouge_score import rouge_scorer

rng = random.Random(6)
for _ in range(60):
    a = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
    b = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
    expected = rouge_scorer._lcs_table(a, b)[-1][-1] if a and b else 0
    assert lcs_length(a, b) == expected, (a, b)

# %% hidden
# Dynamic programming finishes at once; enumerating subsequences would run out the time limit.
assert lcs_length(["x"] * 400, ["x"] * 400) == 400
assert lcs_length(list("abcde" * 60), list("edcba" * 60)) == 119

# %% [markdown] question=rouge_l points=3
# ## Exercise 2: ROUGE-L (3 points)
#
# With $L$ the LCS length of the prediction's tokens $p$ and the reference's tokens $r$,
# precision is $P = L / |p|$, recall $R = L / |r|$ and the F-measure $F = 2PR / (P + R)$
# (0 when $P + R = 0$). Write `rouge_l(prediction, reference)` returning the dict
# `{"precision": P, "recall": R, "fmeasure": F}`, tokenising with `tokenize` above. An empty
# prediction or reference scores 0 everywhere.

# %% solution
def rouge_l(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-L precision, recall and F-measure of one prediction against one reference."""
    # BEGIN SOLUTION
    p, r = tokenize(prediction), tokenize(reference)
    if not p or not r:
        return {"precision": 0.0, "recall": 0.0, "fmeasure": 0.0}
    overlap = lcs_length(p, r)
    precision, recall = overlap / len(p), overlap / len(r)
    f = 0.0 if overlap == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "fmeasure": f}
    # END SOLUTION

# %% public
score = rouge_l("the cat sat on the mat", "the cat lay on a mat")
assert abs(score["precision"] - 4 / 6) < 1e-9 and abs(score["recall"] - 4 / 6) < 1e-9
assert abs(score["fmeasure"] - 4 / 6) < 1e-9

# %% hidden
from rouge_score import rouge_scorer

scorer = rouge_scorer.RougeScorer(["rougeL"])
for row in rows:
    expected = scorer.score(row["reference"], row["output"])["rougeL"]
    got = rouge_l(row["output"], row["reference"])
    assert abs(got["precision"] - expected.precision) < 1e-9, row["id"]
    assert abs(got["recall"] - expected.recall) < 1e-9, row["id"]
    assert abs(got["fmeasure"] - expected.fmeasure) < 1e-9, row["id"]

# %% hidden
assert rouge_l("", "a reference") == {"precision": 0.0, "recall": 0.0, "fmeasure": 0.0}
assert rouge_l("nothing shared", "at all")["fmeasure"] == 0.0

# %% [markdown] question=cohen_kappa points=3
# ## Exercise 3: Cohen's kappa (3 points)
#
# Two raters agree on a fraction $p_o$ of the items. If each rated at random with their own label
# frequencies, they would agree on $p_e = \sum_c p_a(c)\, p_b(c)$. Kappa is
# $\kappa = (p_o - p_e) / (1 - p_e)$: 1 for perfect agreement, 0 for chance. Write
# `cohen_kappa(a, b)` for two equal-length lists of labels; when $p_e = 1$ (both raters always
# give the same single label) return 1.0.

# %% solution
def cohen_kappa(a: list, b: list) -> float:
    """Cohen's kappa of two raters' labels."""
    # BEGIN SOLUTION
    if len(a) != len(b) or not a:
        raise ValueError(f"need two non-empty lists of equal length, got {len(a)} and {len(b)}")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[c] * count_b[c] for c in count_a) / n**2
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)
    # END SOLUTION

# %% public
ratings_a = [row["rating_a"] for row in rows]
ratings_b = [row["rating_b"] for row in rows]
kappa = cohen_kappa(ratings_a, ratings_b)
print(f"kappa between the two raters of chapter 6: {kappa:.3f}")
assert abs(cohen_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"]) - 0.5) < 1e-9

# %% hidden
import random

from sklearn.metrics import cohen_kappa_score

rng = random.Random(0)
for _ in range(30):
    n = rng.randint(2, 40)
    a = [rng.choice("xyz") for _ in range(n)]
    b = [x if rng.random() < 0.6 else rng.choice("xyz") for x in a]
    if len(set(a) | set(b)) > 1:
        assert abs(cohen_kappa(a, b) - cohen_kappa_score(a, b)) < 1e-9, (a, b)
assert abs(cohen_kappa(ratings_a, ratings_b) - cohen_kappa_score(ratings_a, ratings_b)) < 1e-9
assert cohen_kappa(["k"] * 5, ["k"] * 5) == 1.0

# %% [markdown] question=metric_choice points=2 written
# ## Exercise 4: when would you not trust ROUGE-L? (2 points, written, graded by hand)
#
# In three to five sentences, in the markdown cell below: give one answer a question-answering
# system could produce that is correct but scores low on ROUGE-L against its reference, say why
# it scores low, and say what you would measure instead to rate such answers.

# %% rubric
# - 1 point: a correct answer worded differently from its reference (a paraphrase, a synonym, a
#   number or date written another way) with the reason: ROUGE-L counts shared tokens in order,
#   not meaning.
# - 1 point: a measure that fits the example: exact match after normalising (numbers, case,
#   articles), a check that runs or verifies the answer, or human (or model) judgement whose
#   agreement between raters is measured with Cohen's kappa as in Exercise 3.
