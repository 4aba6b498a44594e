"""A tiny generative grammar: templates with alternatives, optional parts and slots (chapter 5).

A template is text with three kinds of marks::

    "[What is|What's|Tell me] {a} [plus|added to] {b}[?|]"

- ``[x|y|z]`` picks one alternative at random; alternatives may nest (``[a [big|small] one|it]``)
  and may be empty (``[please |]`` is an optional word);
- ``{name}`` is a slot, filled from the values the caller gives (numbers already spelled out,
  names, units...);
- everything else is copied.

Meaning and wording are kept apart: a frame (``companion.tooluse.frames``) decides the numbers and
the tool call, and the grammar only decides how a person might say it, so the number of distinct
surface forms multiplies across the alternatives instead of growing one template at a time.
:func:`count_forms` gives that number for a template.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z_0-9]*)\}")


class GrammarError(ValueError):
    """A template that cannot be parsed or filled (unbalanced brackets, a missing slot)."""


def _split_alternatives(body: str, template: str) -> list[str]:
    """Split the inside of ``[...]`` on top-level ``|``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


def _matching(template: str, open_at: int) -> int:
    """Index of the ``]`` that closes the ``[`` at ``open_at``."""
    depth = 0
    for i in range(open_at, len(template)):
        if template[i] == "[":
            depth += 1
        elif template[i] == "]":
            depth -= 1
            if depth == 0:
                return i
    raise GrammarError(f"unbalanced '[' at position {open_at} in template {template!r}")


def choose(template: str, rng: random.Random) -> str:
    """Resolve every ``[x|y]`` choice of ``template`` (slots are left as ``{name}``)."""
    if template.count("[") != template.count("]"):
        raise GrammarError(f"unbalanced brackets in template {template!r}")
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch == "[":
            end = _matching(template, i)
            alternatives = _split_alternatives(template[i + 1 : end], template)
            out.append(choose(rng.choice(alternatives), rng))
            i = end + 1
        elif ch == "]":
            raise GrammarError(f"unbalanced ']' at position {i} in template {template!r}")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def slots(template: str) -> set[str]:
    """The slot names a template mentions, in any of its alternatives."""
    return set(_SLOT.findall(template))


def fill(text: str, values: Mapping[str, object]) -> str:
    """Replace each ``{name}`` by ``values[name]``; a missing slot is an error that names it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise GrammarError(f"slot {{{name}}} has no value; given {sorted(values)}")
        return str(values[name])

    return _SLOT.sub(value, text)


def tidy(text: str) -> str:
    """Collapse runs of spaces and remove spaces before punctuation left by empty choices."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([?.,!;:])", r"\1", text)


def realise(template: str, values: Mapping[str, object], rng: random.Random) -> str:
    """One surface form of ``template``: choices resolved, slots filled, spacing tidied."""
    return tidy(fill(choose(template, rng), values))


def count_forms(template: str, slot_sizes: Mapping[str, int] | None = None) -> int:
    """How many distinct wordings ``template`` has: its choice paths, each multiplied by the size
    of the word list behind every slot named in ``slot_sizes`` (other slots, numbers, count one).
    """
    sizes = slot_sizes or {}
    total, i = 1, 0
    while i < len(template):
        if template[i] == "[":
            end = _matching(template, i)
            alternatives = _split_alternatives(template[i + 1 : end], template)
            total *= sum(count_forms(a, sizes) for a in alternatives)
            i = end + 1
        elif template[i] == "{":
            end = template.index("}", i)
            total *= sizes.get(template[i + 1 : end], 1)
            i = end + 1
        else:
            i += 1
    return total
