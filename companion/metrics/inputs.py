"""Input checks shared by the metrics: lists of texts, and predictions paired with references."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def is_list(value: object) -> bool:
    """True for a list, tuple or array; False for a string (a sequence of characters) or scalar."""
    return not isinstance(value, str) and isinstance(value, Sequence | np.ndarray)


def check_texts(texts: object, what: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValueError(f"{what} must be a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{what} is empty; expected at least one string")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"{what}[{i}] must be a string, got {type(text).__name__}")
    return list(texts)


def check_pairs(predictions: object, references: object) -> tuple[list[str], list[list[str]]]:
    """Validate ``predictions`` (list of str) against ``references`` (list of lists of str)."""
    preds = check_texts(predictions, "predictions")
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
        refs.append(check_texts(entry, f"references[{i}]"))
    return preds, refs
