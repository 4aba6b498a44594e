"""The tool-call format: canonical spelling, round trips, and errors the model can read."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.toolcall import (
    FINAL_ANSWER,
    TOOL_ROLE,
    ToolCall,
    ToolCallParseError,
    conversation,
    format_call,
    format_final,
    parse_call,
    same_call,
    same_value,
    system_prompt,
)

CALC = {"name": "calculator", "description": "Evaluate arithmetic.",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                       "required": ["expression"]}}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def test_canonical_spelling_is_fixed():
    assert format_call("calculator", {"expression": "12 * 7"}) == (
        '{"name": "calculator", "arguments": {"expression": "12 * 7"}}'
    )
    assert format_final("84") == '{"name": "final_answer", "arguments": {"answer": "84"}}'


@given(name=st.text(min_size=1, max_size=20),
       arguments=st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_format_then_parse_round_trips(name, arguments):
    assert parse_call(format_call(name, arguments)) == ToolCall(name, arguments)


def test_surrounding_whitespace_is_accepted():
    assert parse_call('  {"name": "final_answer", "arguments": {"answer": "3"}}\n').is_final


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("calculator(2+2)", "invalid JSON"),
    ('{"name": "calculator", "arguments": {}} and more', "extra text"),
    ('["calculator"]', "expected a JSON object"),
    ('{"arguments": {}}', '"name"'),
    ('{"name": "calculator", "arguments": "2+2"}', '"arguments" must be an object'),
    ('{"name": "calculator", "arguments": {}, "why": 1}', "unexpected keys"),
])
def test_malformed_turns_raise_readable_errors(text, message):
    with pytest.raises(ToolCallParseError, match=message):
        parse_call(text)


def test_non_text_is_refused():
    with pytest.raises(ToolCallParseError, match="int"):
        parse_call(42)


def test_system_prompt_lists_tools_and_final_answer():
    prompt = system_prompt([CALC])
    assert "- calculator(expression: string): Evaluate arithmetic." in prompt
    assert prompt.rstrip().endswith("- final_answer(answer: string): Give the final answer to "
                                    "the user's task and stop.")
    with pytest.raises(ValueError, match="reserved"):
        system_prompt([{**CALC, "name": FINAL_ANSWER}])


def test_conversation_alternates_calls_and_observations():
    call = ToolCall("calculator", {"expression": "12 * 7"})
    final = ToolCall(FINAL_ANSWER, {"answer": "84"})
    messages = conversation("sys", "What is 12 times 7?", [(call, "84"), (final, "")])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", TOOL_ROLE,
                                             "assistant"]
    assert messages[3]["content"] == "84"
    assert parse_call(messages[-1]["content"]) == final


@given(st.floats(-1e6, 1e6, allow_nan=False))
def test_call_arguments_compare_numbers_numerically_whatever_their_spelling(x):
    assert same_value(x, str(x)) and same_value(repr(x), x) and same_value(f"{x:,.12f}", x)
    assert not same_value(x, x + 1)


def test_a_call_is_right_when_tool_argument_names_and_values_agree():
    assert same_value("12*7", "12 * 7") and same_value("Mile", "mile")
    assert not same_value("12 * 7", "7 * 12") and not same_value("km", "mile")
    assert not same_value(True, 1) and same_value(None, None)
    gold = ToolCall("convert_units", {"value": 5, "from_unit": "km", "to_unit": "mile"})
    assert same_call(ToolCall("convert_units", {"value": "5.0", "from_unit": "KM",
                                                "to_unit": "mile"}), gold)
    assert not same_call(ToolCall("convert_units", {"value": 5, "from_unit": "km"}), gold)
    assert not same_call(ToolCall("convert_units", {**gold.arguments, "extra": 1}), gold)
    assert not same_call(ToolCall("calculator", gold.arguments), gold)

