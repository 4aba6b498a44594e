"""Numbers written in text: finding them, reading them, and comparing them (chapters 5-7).

One place for what the fine-tuning evaluation, the agent's answer check and the agent's loop all
need to know about numbers in text:

- a *number* is written with digits, an optional sign, optional thousands separators (``1,234``),
  an optional decimal part and an optional exponent: ``-40``, ``1,234.5``, ``.5``, ``2.1e3``
  (:data:`NUMBER`);
- :func:`parse_number` reads a text that is one number; :func:`leading_number` a number followed
  by a unit (``"775000 mL"``); :func:`numbers_in` finds every number in a text;
  :func:`as_number` reads a JSON value that is a number or a numeric string;
- :func:`same_number` compares a found value p with an expected value g. A whole number (a count,
  a year) matches only what rounds to it, ``|p - g| < 0.5``; any other value within a relative
  tolerance, ``|p - g| <= rel_tol * max(|p|, |g|)``.
"""

from __future__ import annotations

import math
import re
from typing import Any

_WHOLE = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)"  # an integer, thousands separators allowed
#: one number: sign, digits (thousands separators allowed), decimals, exponent
NUMBER = re.compile(_WHOLE + r"(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
#: a whole number: sign and digits, thousands separators allowed
WHOLE = re.compile(_WHOLE)


def _value(text: str) -> float:
    return float(text.replace(",", ""))


def parse_number(text: str) -> float | None:
    """The value of ``text`` if it is one number (``" 1,234.5 "`` -> 1234.5), else None."""
    match = NUMBER.fullmatch(text.strip())
    return _value(match.group()) if match else None


def leading_number(text: str) -> float | None:
    """The number of a text that is a number, alone or before a unit (``"775000 mL"`` -> 775000),
    else None (``"12km"``, ``"2 to 3"`` and ``"GPT-2"`` are not)."""
    stripped = text.strip()
    match = NUMBER.match(stripped)
    if match is None:
        return None
    rest = stripped[match.end():]
    if any(c.isdigit() for c in rest) or (rest and not rest[0].isspace()):
        return None
    return _value(match.group())


def is_whole(text: str) -> bool:
    """True when ``text`` starts with a number written without decimals or exponent
    (``"2017"``, ``"1,024 bytes"``), the kind :func:`same_number` matches by rounding."""
    words = text.split()
    return bool(words) and WHOLE.fullmatch(words[0]) is not None


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text``, in order (``"5 mi = 8.05 km"`` -> [5.0, 8.05])."""
    return [_value(m.group()) for m in NUMBER.finditer(text)]


def as_number(value: Any) -> float | None:
    """A JSON value as a number: an int or float itself, a string holding one number, else None
    (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_number(value)
    return None


def same_number(
    found: float, expected: float, whole: bool = False, rel_tol: float = 1e-2, abs_tol: float = 1e-9
) -> bool:
    """``found`` matches ``expected``: by rounding when ``whole`` (|p - g| < 0.5), else within
    ``rel_tol`` relative to the larger magnitude (or ``abs_tol``, for values near zero)."""
    if rel_tol < 0:
        raise ValueError(f"rel_tol={rel_tol}; expected a non-negative tolerance")
    if whole:
        return abs(found - expected) < 0.5
    return math.isclose(found, expected, rel_tol=rel_tol, abs_tol=abs_tol)
