"""Human evaluation: the shipped set of rated outputs and the agreement of two annotators beyond
chance, Cohen's kappa (chapter 6)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from companion.metrics.inputs import is_list
from companion.paths import SETS

KAPPA_WEIGHTS: tuple[str | None, ...] = (None, "linear", "quadratic")
HUMAN_EVAL_FILE = SETS / "human_eval.jsonl"
HUMAN_EVAL_FIELDS = ("id", "task", "output", "reference", "rating_a", "rating_b")


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], weights: str | None = None) -> float:
    """Cohen's kappa ``(p_o - p_e) / (1 - p_e)`` for two annotators' labels (chapter 6).

    ``p_o`` is the observed agreement and ``p_e`` the agreement expected if each annotator drew
    labels independently from their own label frequencies. With ``weights="linear"`` or
    ``"quadratic"``, a disagreement between ordered labels i and j counts ``|i-j|`` or
    ``(i-j)^2`` (by position in the sorted label set): ``kappa = 1 - sum w*O / sum w*E``. Equal to
    ``sklearn.metrics.cohen_kappa_score``; NaN when it is undefined (chance agreement is 1).
    """
    for name, labels in (("a", a), ("b", b)):
        if not is_list(labels):
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


def load_human_eval(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The rated outputs of ``data/sets/human_eval.jsonl`` (chapter 6; see its data card).

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
