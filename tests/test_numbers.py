"""Numbers in text: reading, finding and comparing them (companion.numbers)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.numbers import (
    as_number,
    is_whole,
    leading_number,
    numbers_in,
    parse_number,
    same_number,
)


@pytest.mark.parametrize(("text", "value"), [
    (" 1,234.5 ", 1234.5), ("-40", -40.0), ("+7", 7.0), (".5", 0.5), ("2.1e3", 2100.0),
    ("1,234,567", 1234567.0), ("12 km", None), ("1,23", None), ("twelve", None), ("", None),
])
def test_parse_number_reads_a_text_that_is_one_number(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(("text", "value"), [
    ("12 km", 12.0), ("775000 mL", 775000.0), ("2017", 2017.0), ("-3.5 °C", -3.5),
    ("12km", None), ("2 to 3", None), ("GPT-2", None), ("about 5", None),
])
def test_leading_number_is_a_number_alone_or_before_a_unit(text, value):
    assert leading_number(text) == value


def test_numbers_in_finds_every_number_in_order():
    assert numbers_in("5 mi = 8.04672 km, 1e3") == [5.0, 8.04672, 1000.0]
    assert numbers_in("(7 + 6) * 21 - 1,024") == [7.0, 6.0, 21.0, 1024.0]  # a binary minus
    assert numbers_in("from -3 to +2.5") == [-3.0, 2.5]
    assert numbers_in("no digits") == []


@given(st.floats(-1e12, 1e12, allow_nan=False))
def test_every_python_spelling_of_a_float_reads_back_as_itself(x):
    """Python's own float() is the reference: repr and str of any float parse to the same value."""
    for text in (repr(x), str(x), f"{x:,.6f}"):
        assert parse_number(text) == pytest.approx(float(text.replace(",", "")), rel=0, abs=0)
    assert numbers_in(f"it is {x!r} here") == [x]


@given(st.integers(-10**15, 10**15))
def test_integers_with_thousands_separators_read_as_python_does(n):
    assert parse_number(f"{n:,}") == n and is_whole(f"{n:,} bytes")
    assert leading_number(f"{n:,} items") == n


def test_as_number_reads_json_numbers_and_numeric_strings_only():
    assert as_number(5) == 5.0 and as_number(2.5) == 2.5 and as_number(" 1,000 ") == 1000.0
    assert as_number(True) is None and as_number("5 km") is None and as_number(None) is None
    assert as_number([5]) is None


def test_same_number_rounds_whole_numbers_and_otherwise_allows_relative_error():
    assert same_number(2017.4, 2017, whole=True) and not same_number(2018, 2017, whole=True)
    assert same_number(8.0467, 8.04672) and not same_number(8.2, 8.04672)
    assert not same_number(2023, 2018, whole=True)  # within 1% but not the same year
    assert same_number(0.0, 1e-12) and not same_number(0.0, 1e-3)
    with pytest.raises(ValueError, match="rel_tol=-1"):
        same_number(1, 1, rel_tol=-1)


@given(st.floats(-1e9, 1e9, allow_nan=False), st.floats(0, 0.5))
def test_same_number_agrees_with_math_isclose(x, rel_tol):
    y = x * (1 + rel_tol / 2) + 1e-3
    assert same_number(y, x, rel_tol=rel_tol) == math.isclose(y, x, rel_tol=rel_tol, abs_tol=1e-9)


def test_is_whole_looks_at_the_first_word():
    assert is_whole("2017") and is_whole("-3 apples") and is_whole("1,024")
    assert not is_whole("2.5") and not is_whole("2e3") and not is_whole("") and not is_whole("km")
    assert re.fullmatch(r"\d+", "2017")  # the reference for the plain case
