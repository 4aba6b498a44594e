# Assignment source for chapter 7 (the agent). Generate the notebooks with
# `python -m companion.teaching.notebooks student` (format: companion/teaching/source.py).
# ruff: noqa: E402, F811

# %% [markdown]
# # Assignment 7: Give the agent a new tool
#
# Chapter 7's agent speaks one format: every turn of the model is a JSON object
# `{"name": <tool>, "arguments": {...}}`, every tool is plain data (a name, a description, a JSON
# schema for its arguments, a Python function), and nothing the model writes runs before its
# arguments fit the schema. Here you add a tool, write the schema check yourself, and write the
# step of the loop that turns a model's reply into an observation. Run each `%%check` cell after
# your answer: it prints `[passed]` or what went wrong. The grader runs these checks and hidden
# ones.
#
# Expected time on a laptop CPU: every cell runs in well under a second.

# %%
import json

from companion.agent.tools import (
    Tool,
    ToolArgumentError,
    ToolExecutionError,
    calculator_tool,
    unit_converter_tool,
)
from companion.toolcall import ToolCallParseError, parse_call, system_prompt

calculator = calculator_tool()
print(json.dumps(calculator.spec(), indent=2))

# %% [markdown] question=word_count_tool points=3
# ## Exercise 1: a `word_count` tool (3 points)
#
# Write `word_count_tool()` returning a `Tool` named `word_count` with a one-line description,
# a JSON schema with one required string argument `text` and `"additionalProperties": False`,
# and a function that returns the number of white-space separated words as a string (`"3"` for
# `"to be free"`).

# %% solution
def word_count_tool() -> Tool:
    """The ``word_count`` tool: ``{"text": string}`` -> the number of words, as text."""
    # BEGIN SOLUTION
    return Tool(
        name="word_count",
        description="Count the words (separated by white space) in a text.",
        parameters={
            "type": "object",
            "properties": {"text": {"type": "string", "description": "the text to count"}},
            "required": ["text"],
            "additionalProperties": False,
        },
        function=lambda text: str(len(text.split())),
    )
    # END SOLUTION

# %% public
tool = word_count_tool()
assert tool.name == "word_count"
assert tool({"text": "to be free"}) == "3"
assert "word_count(text: string)" in system_prompt([tool.spec()])

# %% hidden
tool = word_count_tool()
assert tool({"text": ""}) == "0" and tool({"text": "  a\tb\nc  "}) == "3"
for bad in ({}, {"text": 3}, {"text": "a", "extra": 1}):
    try:
        tool(bad)
    except ToolArgumentError:
        pass
    else:
        raise AssertionError(f"word_count accepted bad arguments {bad}")
assert tool.parameters["required"] == ["text"] and tool.description.strip()

# %% [markdown] question=check_arguments points=4
# ## Exercise 2: validate arguments against a schema (4 points)
#
# Write `check_arguments(parameters, arguments)` for a schema like the ones above (types
# `string`, `number`, `integer`, `boolean`; optional `required`, `additionalProperties` and
# `enum`). Return None if `arguments` fit; raise `ValueError` with a message naming the bad
# argument otherwise. Rules: `arguments` must be a dict; every required argument present; no
# unknown argument when `additionalProperties` is False; `true`/`false` are not numbers; an
# integer-valued float such as `3.0` counts as an integer; an `enum` lists the allowed values.

# %% solution
def check_arguments(parameters: dict, arguments) -> None:
    """Raise ValueError naming the first argument that does not fit the JSON schema."""
    # BEGIN SOLUTION
    if not isinstance(arguments, dict):
        raise ValueError(f"arguments must be an object, got {type(arguments).__name__}")
    props = parameters["properties"]
    for name in parameters.get("required", []):
        if name not in arguments:
            raise ValueError(f"missing argument {name!r}")
    for name, value in arguments.items():
        if name not in props:
            if parameters.get("additionalProperties", True) is False:
                raise ValueError(f"unknown argument {name!r}")
            continue
        kind = props[name]["type"]
        if kind == "string":
            ok = isinstance(value, str)
        elif kind == "boolean":
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and value == value and abs(value) != float("inf")
            ok = ok and (kind == "number" or float(value).is_integer())
        if not ok:
            raise ValueError(f"argument {name!r} must be {kind}, got {value!r}")
        if "enum" in props[name] and value not in props[name]["enum"]:
            raise ValueError(f"argument {name!r} must be one of {props[name]['enum']}")
    # END SOLUTION

# %% public
schema = calculator.parameters
assert check_arguments(schema, {"expression": "1 + 2"}) is None
for bad in ({}, {"expression": 12}, {"expression": "1", "x": 2}):
    try:
        check_arguments(schema, bad)
    except ValueError:
        pass
    else:
        raise AssertionError(f"check_arguments accepted {bad}")

# %% hidden
import itertools

schema = {
    "type": "object",
    "properties": {"n": {"type": "integer"}, "x": {"type": "number"}, "flag": {"type": "boolean"},
                   "unit": {"type": "string", "enum": ["km", "mi"]}},
    "required": ["n"],
    "additionalProperties": False,
}
reference = Tool("probe", "a probe", schema, lambda **kwargs: "ok")
values = [1, 2.0, 2.5, True, "km", "ft", None, float("nan")]
for n, x, flag in itertools.product(values, values, values):
    for arguments in ({"n": n, "x": x}, {"n": n, "flag": flag}, {"x": x, "unit": flag},
                      {"n": n, "unit": x, "other": 1}):
        try:
            reference.validate(arguments)
            expected_ok = True
        except ToolArgumentError:
            expected_ok = False
        try:
            check_arguments(schema, arguments)
            ok = True
        except ValueError:
            ok = False
        assert ok == expected_ok, arguments

# %% hidden
for bad in (None, [], "n=1"):
    try:
        check_arguments({"type": "object", "properties": {}}, bad)
    except ValueError:
        pass
    else:
        raise AssertionError(f"check_arguments accepted {bad!r}")

# %% [markdown] question=act points=4
# ## Exercise 3: one step of the agent loop (4 points)
#
# Write `act(reply, tools)`: parse the model's `reply` with `parse_call`. A `final_answer` call
# returns `(True, answer)`. A call of a known tool returns `(False, observation)`, the tool's
# output. Every failure (unparsable reply, unknown tool, bad arguments, a tool that fails)
# returns `(False, "error: <message>")`, a message the model can read and recover from; an
# unknown tool's message lists the tool names. `act` itself never raises.

# %% solution
def act(reply: str, tools: list[Tool]) -> tuple[bool, str]:
    """``(done, text)`` for one model reply: the final answer, an observation or an error."""
    # BEGIN SOLUTION
    by_name = {tool.name: tool for tool in tools}
    try:
        call = parse_call(reply)
        if call.is_final:
            return True, str(call.arguments.get("answer", ""))
        if call.name not in by_name:
            raise ValueError(f"unknown tool {call.name!r}; tools: {', '.join(sorted(by_name))}")
        return False, by_name[call.name](call.arguments)
    except (ToolCallParseError, ToolArgumentError, ToolExecutionError, ValueError) as err:
        return False, f"error: {err}"
    # END SOLUTION

# %% public
tools = [calculator, unit_converter_tool()]
assert act('{"name": "calculator", "arguments": {"expression": "12 * 7"}}', tools) == (False, "84")
assert act('{"name": "final_answer", "arguments": {"answer": "84"}}', tools) == (True, "84")

# %% hidden
tools = [calculator, unit_converter_tool()]
for reply in ("not json", '{"name": "calculator"', '{"name": "calculator", "arguments": {}}',
              '{"name": "calculator", "arguments": {"expression": "1/0"}}'):
    done, text = act(reply, tools)
    assert not done and text.startswith("error:"), (reply, text)
done, text = act('{"name": "weather", "arguments": {}}', tools)
assert not done and text.startswith("error:") and "calculator" in text and "convert_units" in text

# %% hidden
done, text = act('{"name": "convert_units", "arguments": '
                 '{"value": 5, "from_unit": "mi", "to_unit": "km"}}', [unit_converter_tool()])
assert (done, text) == (False, "5 mi = 8.04672 km")
