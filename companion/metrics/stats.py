"""How sure a measured number is, and how two systems compare (chapters 6 and 7).

- :func:`bootstrap_ci`: a percentile bootstrap confidence interval for any metric, resampling
  examples or whole groups of them.
- :func:`paired_outcomes` and :func:`sign_test`: two systems on the same items, compared by the
  items only one of them gets right (McNemar's exact test).
- :func:`risk_coverage` and :func:`threshold_for`: selective answering, where a system answers only
  when its confidence clears a threshold, traded between how much it answers and how often it is
  right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from companion.metrics.inputs import is_list


class ConfidenceInterval(NamedTuple):
    """The lower and upper ends of a confidence interval."""

    low: float
    high: float


def _resampling_units(metric, predictions, references, n, confidence, groups) -> list[list[int]]:
    """Check :func:`bootstrap_ci`'s arguments; return the units it resamples, as lists of example
    indices: one per example, or one per group with ``groups``."""
    if not callable(metric):
        raise ValueError(f"metric must be callable, got {type(metric).__name__}")
    for name, seq in (("predictions", predictions), ("references", references)):
        if not is_list(seq):
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
        return [[i] for i in range(m)]
    if not is_list(groups):
        raise ValueError(f"groups must be a list of labels, got {type(groups).__name__}")
    if len(groups) != m:
        raise ValueError(f"groups must give one label per example: expected {m}, got {len(groups)}")
    by_label: dict[Any, list[int]] = {}
    for i, label in enumerate(groups):
        by_label.setdefault(label, []).append(i)
    return list(by_label.values())


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
    units = _resampling_units(metric, predictions, references, n, confidence, groups)
    rng = np.random.default_rng(seed)
    samples: list[float | dict[str, float]] = []
    for drawn in rng.integers(0, len(units), size=(n, len(units))):  # n resamples of the units
        idx = [i for unit in drawn for i in units[unit]]
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
    if not is_list(confidence):
        raise ValueError(f"confidence must be a list of numbers, got {type(confidence).__name__}")
    if not is_list(correct):
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
