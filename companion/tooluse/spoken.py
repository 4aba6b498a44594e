"""How people write numbers: digits, thousands separators, words (chapter 5's tool-use data).

The tool call always carries the canonical digits (``1250``); the question may say ``1,250``,
``1250`` or ``twelve hundred and fifty``... :func:`say_number` picks one spelling at random, so the
model learns to read every common way and to write one.
"""

from __future__ import annotations

import random

from companion.agent.tools import format_number

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> str:
    """English words for a whole number from 0 to 999,999 (342: ``three hundred forty-two``)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 1_000_000:
        raise ValueError(f"number_words takes a whole number from 0 to 999999, got {n!r}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    return f"{number_words(thousands)} thousand" + (f" {number_words(rest)}" if rest else "")


def with_separators(value: int | float) -> str:
    """Digits with thousands separators: ``1250`` -> ``1,250``; ``1234.5`` -> ``1,234.5``."""
    text = format_number(value)
    whole, dot, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}{dot}{fraction}"


def say_number(value: int | float, rng: random.Random, words: float = 0.15,
               separators: float = 0.5) -> str:
    """One way a person might write ``value``.

    Whole numbers up to 100 are written in words with probability ``words`` (and round hundreds
    and thousands up to 999,999 with half of it); numbers from 1,000 up get thousands separators
    with probability ``separators``; everything else is plain digits.
    """
    text = format_number(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= 100 and rng.random() < words:
        return number_words(value)
    if (isinstance(value, int) and 100 < value < 1_000_000 and value % 100 == 0
            and rng.random() < words / 2):
        return number_words(value)
    if abs(value) >= 1000 and rng.random() < separators:
        return with_separators(value)
    return text
