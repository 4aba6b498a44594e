"""The tool-call protocol: one format shared by the fine-tuning data and the agent.

Chapters 5 (fine-tuning), 6 (evaluation) and 7 (the agent) all speak this format, so it is defined
once, here. A run is an ordinary chat, rendered by the model's own chat template::

    system     tool list and the one rule: answer with a single JSON object
    user       What is 12 times 7?
    assistant  {"name": "calculator", "arguments": {"expression": "12 * 7"}}
    tool       84
    assistant  {"name": "final_answer", "arguments": {"answer": "84"}}

Every assistant turn is exactly one JSON object ``{"name": <tool>, "arguments": {...}}``. Giving the
final answer is itself a tool call (``final_answer``, as in smolagents), so one grammar covers every
turn, which is what makes constrained decoding simple. Observations come back in a message whose
role is ``tool``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from companion.numbers import as_number, same_number

FINAL_ANSWER = "final_answer"
TOOL_ROLE = "tool"
Message = dict[str, str]  # one chat turn: {"role": ..., "content": ...}
NAME_OPENING = '{"name": "'  # how every call starts (:func:`format_call`); the tool name follows

FINAL_ANSWER_SPEC: dict[str, Any] = {
    "name": FINAL_ANSWER,
    "description": "Give the final answer to the user's task and stop.",
    "parameters": {
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "the answer, short"}},
        "required": ["answer"],
        "additionalProperties": False,
    },
}


class ToolCallParseError(ValueError):
    """The model's turn is not one well-formed tool call. Its message is shown to the model."""


@dataclass(frozen=True)
class ToolCall:
    """A parsed assistant turn: which tool to call, with which arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.name == FINAL_ANSWER


def same_value(predicted: Any, gold: Any) -> bool:
    """Argument equality: numbers numerically (relative 1e-9, :func:`companion.numbers.as_number`
    reads numeric strings too), text ignoring case and white space, booleans only as themselves
    (``True`` is not ``1``), anything else with ``==``."""
    if isinstance(predicted, bool) or isinstance(gold, bool):
        return predicted is gold
    a, b = as_number(predicted), as_number(gold)
    if a is not None and b is not None:
        return same_number(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(predicted, str) and isinstance(gold, str):
        return "".join(predicted.split()).casefold() == "".join(gold.split()).casefold()
    return predicted == gold


def same_call(predicted: ToolCall, gold: ToolCall) -> bool:
    """Is this call right? The same tool, the same argument names, and :func:`same_value` values
    (chapters 5-7 all judge a call by this)."""
    return (predicted.name == gold.name
            and set(predicted.arguments) == set(gold.arguments)
            and all(same_value(predicted.arguments[k], gold.arguments[k]) for k in gold.arguments))


def format_call(name: str, arguments: dict[str, Any]) -> str:
    """The canonical text of a tool call: ``{"name": ..., "arguments": {...}}`` on one line.

    Training data and constrained decoding both use this exact spelling (``json.dumps`` defaults,
    non-ASCII kept), so the fine-tuned model learns one way to write a call.
    """
    return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)


def format_final(answer: str) -> str:
    """The canonical text of a final answer turn."""
    return format_call(FINAL_ANSWER, {"answer": str(answer)})


def parse_call(text: str) -> ToolCall:
    """Parse one assistant turn into a :class:`ToolCall`.

    Accepts exactly one JSON object with a string ``name`` and an object ``arguments``, with
    optional surrounding white space. Anything else raises :class:`ToolCallParseError` with a
    message written for the model to read and recover from.
    """
    if not isinstance(text, str):
        raise ToolCallParseError(f"expected the turn as text, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ToolCallParseError('empty reply; expected {"name": ..., "arguments": {...}}')
    try:
        obj, end = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError as err:
        raise ToolCallParseError(
            f'invalid JSON ({err.msg} at character {err.pos}); expected '
            '{"name": <tool>, "arguments": {...}}'
        ) from None
    if stripped[end:].strip():
        raise ToolCallParseError("extra text after the JSON object; reply with one object only")
    if not isinstance(obj, dict):
        raise ToolCallParseError(f"expected a JSON object, got {type(obj).__name__}")
    name, arguments = obj.get("name"), obj.get("arguments", {})
    if not isinstance(name, str) or not name:
        raise ToolCallParseError('the object needs a "name" string naming a tool')
    if not isinstance(arguments, dict):
        raise ToolCallParseError(f'"arguments" must be an object, got {type(arguments).__name__}')
    extra = set(obj) - {"name", "arguments"}
    if extra:
        raise ToolCallParseError(f"unexpected keys {sorted(extra)}; only name and arguments")
    return ToolCall(name=name, arguments=arguments)


def describe_tool(spec: dict[str, Any]) -> str:
    """One line per tool for the system prompt: ``name(arg: type, ...): description``."""
    props = spec.get("parameters", {}).get("properties", {})
    args = ", ".join(f"{k}: {v.get('type', 'any')}" for k, v in props.items())
    return f"- {spec['name']}({args}): {spec['description']}"


def system_prompt(specs: list[dict[str, Any]]) -> str:
    """The system message listing the tools (``final_answer`` is always added last)."""
    names = [s["name"] for s in specs]
    if FINAL_ANSWER in names:
        raise ValueError(f"{FINAL_ANSWER!r} is reserved; do not pass it among the tools")
    lines = [describe_tool(s) for s in [*specs, FINAL_ANSWER_SPEC]]
    return (
        "You solve tasks with tools. Reply with one JSON object and nothing else: "
        '{"name": <tool>, "arguments": {...}}. When you know the answer, call final_answer.\n'
        "Tools:\n" + "\n".join(lines)
    )


def conversation(
    system: str, task: str, turns: list[tuple[ToolCall, str]] = ()
) -> list[Message]:
    """Chat messages for a task and the (call, observation) turns taken so far."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": task}]
    for call, observation in turns:
        messages.append({"role": "assistant", "content": format_call(call.name, call.arguments)})
        if not call.is_final:
            messages.append({"role": TOOL_ROLE, "content": observation})
    return messages


def stated_value(observation: str) -> str:
    """The value a tool's observation states: the value itself (``"84"``), or the right side of a
    conversion (``"5 mi = 8.04672 km"`` -> ``"8.04672 km"``)."""
    return observation.rpartition(" = ")[2]
