"""The agent's tools (chapter 7): a calculator that never evals, a unit converter, schema checks."""

from __future__ import annotations

import builtins
import math
import time
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.agent.tools import (
    UNITS,
    Tool,
    ToolArgumentError,
    ToolExecutionError,
    calculate,
    calculator_tool,
    convert,
    convert_units,
    default_tools,
    find_unit,
    format_number,
    search_tool,
    unit_converter_tool,
)
from companion.toolcall import stated_value, system_prompt

# ---------------------------------------------------------------------------------------------
# Calculator: agrees with Python's own arithmetic on well-formed input

# Leaves stay small (|x| <= 400 after a power, nonzero divisors >= 0.5) and trees have at most
# five leaves, so every intermediate value stays far below the calculator's 1e15 bound: any
# refusal would be a bug, not a limit.
_number = st.one_of(
    st.integers(min_value=0, max_value=20).map(str),
    st.integers(min_value=1, max_value=40).map(lambda n: str(n / 2)),
)
_leaf = st.one_of(
    _number,
    _number.map(lambda x: f"-{x}"),
    st.tuples(_number, st.integers(0, 2)).map(lambda p: f"{p[0]} ** {p[1]}"),
)
_expression = st.recursive(
    _leaf,
    lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None)
@given(_expression)
def test_calculator_matches_python_for_random_arithmetic(expression):
    try:
        reference = eval(expression, {"__builtins__": {}})  # the reference, in the test only
    except ZeroDivisionError:
        with pytest.raises(ToolExecutionError, match="division by zero"):
            calculator_tool()({"expression": expression})
        return
    assert calculator_tool()({"expression": expression}) == format_number(reference)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("12 * 7", "84"),
        ("(3 + 4) * 12", "84"),
        ("15 / 100 * 80", "12"),  # "15% of 80", as the data set writes it
        ("7 / 2", "3.5"),
        ("0.1 + 0.2", "0.3"),  # 0.30000000000000004 rounded to 10 significant digits
        ("100 / 3", "33.33333333"),
        ("2 ** 10", "1024"),
        ("-2 ** 2", "-4"),  # Python precedence: -(2 ** 2)
        ("17 // 5", "3"),
        ("17 % 5", "2"),  # % is the remainder, not percent
        ("  6 / 3  ", "2"),
        ("1.5e-7 * 1", "1.5e-07"),
        ("10 ** 15", "1000000000000000"),
    ],
)
def test_calculator_hand_computed_cases(expression, expected):
    assert calculate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("9**9**9", "exponent 387420489 is too large"),
        ("2 ** 1000", "too large"),
        ("10 ** 16", "out of range"),
        ("1e300 * 1e300", "out of range"),
        ("__import__('os').system('ls')", "not allowed"),
        ("().__class__", "not allowed"),
        ("x + 1", "names are not allowed"),
        ("abs(-3)", "function calls are not allowed"),
        ("(1).real", "attribute access is not allowed"),
        ("[1, 2][0]", "not allowed"),
        ("'a' * 3", "only numbers are allowed"),
        ("True + 1", "only numbers are allowed"),
        ("1 if 1 else 2", "not allowed"),
        ("lambda: 1", "not allowed"),
        ("1 < 2", "comparisons are not allowed"),
        ("2 ^ 3", "write ** for powers"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("(-8) ** 0.5", "not a real number"),
        ("15% of 80", "15 / 100 * 80"),
        ("", "empty expression"),
        ("-" * 30 + "1", "nested too deeply"),
        ("1 + " * 40 + "1", "nested too deeply"),
        ("1+" * 150 + "1", "characters long"),
    ],
)
def test_calculator_refuses_abuse_with_a_clear_message(expression, reason):
    start = time.perf_counter()
    with pytest.raises(ToolExecutionError, match="calculator error") as info:
        calculator_tool()({"expression": expression})
    assert reason in str(info.value)
    assert time.perf_counter() - start < 0.5  # refused before doing the work


def test_calculator_never_calls_eval_or_exec(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert calculate("(2 + 3) * 4 ** 2") == "80"


# ---------------------------------------------------------------------------------------------
# Canonical number spelling


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (84, "84"),
        (84.0, "84"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (1 / 3, "0.3333333333"),
        (21.111111111111, "21.11111111"),
        (1234567.891, "1234567.891"),
        (0.000015, "0.000015"),
        (1.5e-7, "1.5e-07"),
        (2e15, "2e+15"),
    ],
)
def test_format_number_hand_computed_cases(value, text):
    assert format_number(value) == text


@given(st.floats(min_value=-1e14, max_value=1e14, allow_nan=False))
def test_format_number_keeps_ten_significant_digits(value):
    text = format_number(value)
    assert not text.endswith(".0") and "e" not in text or abs(value) < 1e-6
    assert math.isclose(float(text), value, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("bad", [True, "3", None, float("nan"), float("inf")])
def test_format_number_rejects_non_numbers(bad):
    with pytest.raises(ValueError, match="expected"):
        format_number(bad)


# ---------------------------------------------------------------------------------------------
# Schema validation: the error names the argument and what was expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "missing argument 'expression' (string)"),
        ({"expr": "1 + 1"}, "unknown argument 'expr'"),
        ({"expression": 12}, "argument 'expression' of calculator must be a string, got number"),
        ({"expression": None}, "must be a string, got null"),
        ({"expression": "1", "extra": 1}, "unknown argument 'extra'"),
        ("1 + 1", "arguments of calculator must be an object, got string"),
    ],
)
def test_calculator_schema_errors_name_the_bad_argument(arguments, message):
    with pytest.raises(ToolArgumentError, match="calculator") as info:
        calculator_tool()(arguments)
    assert message in str(info.value)
    assert "calculator(expression: string)" in str(info.value) or "must be" in str(info.value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"value": "5", "from_unit": "mile", "to_unit": "km"},
            "'value' of convert_units must be a number, got string",
        ),
        ({"value": True, "from_unit": "mile", "to_unit": "km"}, "must be a number, got boolean"),
        ({"value": 5, "from_unit": 3, "to_unit": "km"}, "'from_unit' of convert_units must be"),
        ({"value": 5, "to_unit": "km"}, "missing argument 'from_unit'"),
        ({"value": float("nan"), "from_unit": "mile", "to_unit": "km"}, "must be a number"),
    ],
)
def test_unit_converter_schema_errors(arguments, message):
    with pytest.raises(ToolArgumentError) as info:
        unit_converter_tool()(arguments)
    assert message in str(info.value)


def _echo_tool() -> Tool:
    return Tool(
        name="echo",
        description="Repeat a word.",
        parameters={
            "type": "object",
            "properties": {
                "word": {"type": "string", "enum": ["yes", "no"]},
                "times": {"type": "integer"},
                "loud": {"type": "boolean"},
            },
            "required": ["word"],
            "additionalProperties": False,
        },
        function=lambda word, times=1, loud=False: (word.upper() if loud else word) * int(times),
    )


def test_schema_checks_enum_integer_and_boolean():
    echo = _echo_tool()
    assert echo({"word": "yes", "times": 2, "loud": True}) == "YESYES"
    assert echo({"word": "no", "times": 2.0}) == "nono"  # 2.0 is an integer in JSON schema
    with pytest.raises(ToolArgumentError, match=r"'word' of echo must be one of \['yes', 'no'\]"):
        echo({"word": "maybe"})
    with pytest.raises(ToolArgumentError, match="'times' of echo must be an integer, got number"):
        echo({"word": "yes", "times": 2.5})
    with pytest.raises(ToolArgumentError, match="'loud' of echo must be true or false"):
        echo({"word": "yes", "loud": 1})


def test_errors_inside_a_tool_become_tool_execution_errors():
    boom = Tool("boom", "Fails.", {"type": "object", "properties": {}}, lambda: 1 / 0)
    with pytest.raises(ToolExecutionError, match="boom error: division by zero"):
        boom({})


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "array"},
        {"type": "object", "properties": {"x": {"type": "list"}}},
        {"type": "object", "properties": {}, "required": ["x"]},
    ],
)
def test_a_tool_with_a_bad_schema_is_rejected_at_construction(parameters):
    with pytest.raises(ValueError, match="bad|must|type|required"):
        Tool("bad", "Bad schema.", parameters, lambda **kw: "")


def test_specs_fit_the_system_prompt():
    prompt = system_prompt([t.spec() for t in default_tools()])
    assert "- calculator(expression: string): Evaluate arithmetic" in prompt
    assert "- convert_units(value: number, from_unit: string, to_unit: string)" in prompt
    assert "- search(query: string)" in prompt
    assert prompt.rstrip().endswith("the answer, short") or "final_answer(answer: string)" in prompt
    assert [t.name for t in default_tools()] == ["calculator", "convert_units", "search"]


# ---------------------------------------------------------------------------------------------
# Unit converter


@pytest.mark.parametrize(
    ("value", "source", "target", "observation"),
    [
        (5, "mile", "kilometer", "5 mi = 8.04672 km"),  # 1 mi = 1609.344 m exactly
        (100, "celsius", "fahrenheit", "100 °C = 212 °F"),
        (32, "fahrenheit", "celsius", "32 °F = 0 °C"),
        (0, "kelvin", "celsius", "0 K = -273.15 °C"),
        (1, "week", "hour", "1 wk = 168 h"),
        (1, "gallon", "liter", "1 gal = 3.785411784 L"),
        (1, "pound", "gram", "1 lb = 453.59237 g"),
        (12, "inch", "foot", "12 in = 1 ft"),
        (2.5, "tonne", "kilogram", "2.5 t = 2500 kg"),
        (90, "minute", "hour", "90 min = 1.5 h"),
    ],
)
def test_unit_conversions_hand_computed(value, source, target, observation):
    tool = unit_converter_tool()
    assert tool({"value": value, "from_unit": source, "to_unit": target}) == observation


@pytest.mark.parametrize(
    ("alias", "name"),
    [("miles", "mile"), ("km", "kilometer"), ("Metres", "meter"), ("litres", "liter"),
     ("degrees Celsius", "celsius"), ("feet", "foot"), ("lbs", "pound"), ("hrs", "hour"),
     ("ml", "milliliter"), ("mins", "minute")],
)
def test_units_accept_plurals_symbols_and_british_spelling(alias, name):
    assert find_unit(alias).name == name


def test_unknown_units_and_mixed_quantities_are_refused_clearly():
    tool = unit_converter_tool()
    with pytest.raises(ToolExecutionError, match="unknown unit 'parsec'; known units: meter"):
        tool({"value": 1, "from_unit": "parsec", "to_unit": "km"})
    with pytest.raises(ToolExecutionError, match="unknown unit 'ms'"):
        tool({"value": 1, "from_unit": "ms", "to_unit": "s"})  # not silently read as metres
    with pytest.raises(ToolExecutionError, match=r"cannot convert mass \(kilogram\) to length"):
        tool({"value": 1, "from_unit": "kg", "to_unit": "km"})


_same_quantity_pairs = st.sampled_from(
    [(a.name, b.name) for a in UNITS for b in UNITS if a.quantity == b.quantity]
)


@given(_same_quantity_pairs, st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_converting_there_and_back_returns_the_value(pair, value):
    source, target = pair
    assert math.isclose(convert(convert(value, source, target), target, source), value,
                        rel_tol=1e-9, abs_tol=1e-6)


# ---------------------------------------------------------------------------------------------
# Search tool (the index itself is tested in test_retrieval.py)


@dataclass(frozen=True)
class _Hit:
    title: str
    text: str
    source: str


class _FakeIndex:
    def __init__(self):
        self.queries = []

    def search(self, query, k=3):
        self.queries.append((query, k))
        return [_Hit("LoRA", "Low-rank adapters.", "Hu et al. 2022")][:k]


def test_search_tool_formats_numbered_passages_with_sources():
    index = _FakeIndex()
    tool = search_tool(index, k=2)
    expected = "[1] LoRA: Low-rank adapters. (source: Hu et al. 2022)"
    assert tool({"query": "what is LoRA"}) == expected
    assert index.queries == [("what is LoRA", 2)]
    with pytest.raises(ToolExecutionError, match="empty query"):
        tool({"query": "  "})


def test_listing_the_default_tools_does_not_load_the_embedding_model(monkeypatch):
    import companion.models

    def forbidden():
        raise AssertionError("MiniLM must load only when search is first called")

    monkeypatch.setattr(companion.models, "load_minilm", forbidden)
    assert [t.spec()["name"] for t in default_tools()] == ["calculator", "convert_units", "search"]


def test_stated_value_is_what_an_observation_answers():
    assert stated_value(calculate("12 * 7")) == "84"
    assert stated_value(convert_units(5, "mile", "kilometer")) == "8.04672 km"
    assert stated_value(convert_units(-40, "celsius", "fahrenheit")) == "-40 °F"
