"""Which numbers a task states, and which of them the agent's tool calls have used (chapter 7).

A calculation task's numbers are its data: "Multiply 40 mm by 4 and give the result in cm" is not
done until both 40 and 4 have gone into a tool. Solvers of arithmetic word problems decide which
of a problem's quantities are relevant (Roy and Roth, 2015); in this book's tasks every one is, so
the agent can check a proposed final answer against them. That is a prior about these tasks: one
that states a number it does not need (a distractor, as in Shi et al., 2023) defeats it, so
:class:`~companion.agent.loop.Agent` leaves the check off unless asked (the book's default agent
asks).

A *stated quantity* is a number written on its own: ``40``, ``-25``, ``22.2``, ``3%``. Digits that
belong to a name (``GPT-2``, ``Mistral 7B``, ``Qwen2.5``, ``all-MiniLM-L6-v2``) are not quantities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from companion.numbers import numbers_in
from companion.toolcall import ToolCall

# A number not glued to a letter, digit, dot, hyphen or underscore on its left, nor to a letter,
# digit or decimal point on its right ("4." at the end of a sentence is the number 4).
_STATED = re.compile(r"(?<![\w.\-])(-?\d+(?:\.\d+)?)(?![\w]|\.\d)")


def stated_quantities(task: str) -> list[float]:
    """The numbers written on their own in ``task``, in order, without repeats."""
    if not isinstance(task, str):
        raise TypeError(f"task must be a string, got {type(task).__name__}")
    out: list[float] = []
    for text in _STATED.findall(task):
        value = float(text)
        if value not in out:
            out.append(value)
    return out


def _numbers_in(value: Any) -> set[float]:
    """Every number a tool argument carries: a JSON number itself, or the numbers in a string.

    Signs are dropped on both sides of the comparison, so ``-25`` is used by ``value: -25`` and
    by ``"0 - 25"`` alike.
    """
    if isinstance(value, bool):
        return set()
    if isinstance(value, int | float):
        return {abs(float(value))}
    if isinstance(value, str):  # an expression such as "(7 + 6) * 21" or "0 - 25"
        return {abs(v) for v in numbers_in(value)}
    return set()


def unused_quantities(task: str, calls: Iterable[ToolCall]) -> list[float]:
    """The stated quantities of ``task`` that no argument of ``calls`` contains (final answers
    do not count: a number copied into an answer has not been computed with)."""
    used: set[float] = set()
    for call in calls:
        if call.is_final:
            continue
        for value in call.arguments.values():
            used |= _numbers_in(value)
    return [q for q in stated_quantities(task) if abs(q) not in used]
