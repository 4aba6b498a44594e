"""Frames: what a task means, and the tool calls that solve it (chapter 5's tool-use data).

A frame is read from a YAML file in ``data/sets/tooluse/grammar/``; it names its numeric variables
and how to draw them, the arithmetic that answers it (one calculator expression over the variables),
and templates (:mod:`companion.tooluse.grammar`) that say it in words::

    - name: average_speed
      vars: {d: {int: [30, 900]}, t: {one_of: [2, 3, 4, 5, 6]}}
      expression: "{d} / {t}"
      templates:
        - "A {vehicle} [covers|travels] {d} km in {t} hours. [What is|What's] its average speed?"

Drawing a frame gives a :class:`Draw`: the variables' values, the expression with canonical
numbers (``"450 / 6"``), and the slot values for the template, numbers spelled as a person might
(:func:`companion.tooluse.spoken.say_number`). Variable kinds:

- ``int: [lo, hi]`` (inclusive), with optional ``step`` and ``multiple_of: <earlier variable>``;
- ``decimal: [lo, hi, places]``;
- ``one_of: [values...]``;
- any of them with ``digits: true`` never spelled in words (years, prices).

``greater: [[a, b], ...]`` redraws until ``a > b``. Nothing here evaluates text: expressions are
filled with numbers and handed to the calculator tool, which parses them safely.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from companion.agent.tools import format_number
from companion.tooluse.grammar import GrammarError, slots
from companion.tooluse.spoken import say_number

KINDS = ("calculator", "word_problem")
_VAR_KINDS = ("int", "decimal", "one_of")


class FrameError(ValueError):
    """A frame in a grammar file that does not follow the schema; the message names the frame."""


@dataclass(frozen=True)
class Frame:
    """One meaning: variables, the expression that answers it, and the templates that say it."""

    name: str
    kind: str
    variables: dict[str, dict[str, Any]]
    expression: str
    templates: tuple[str, ...]
    greater: tuple[tuple[str, str], ...] = ()
    held_out: bool = False
    distractors: bool = False
    wrap: bool = False
    weight: float = 1.0
    lexicon_slots: frozenset[str] = field(default_factory=frozenset)

    def draw_values(self, rng: random.Random) -> dict[str, int | float]:
        """Values of the variables, redrawn until every ``greater`` pair holds."""
        for _ in range(200):
            values: dict[str, int | float] = {}
            for name, spec in self.variables.items():
                values[name] = _draw_variable(name, spec, values, rng)
            if all(values[a] > values[b] for a, b in self.greater):
                return values
        raise FrameError(f"frame {self.name!r}: could not satisfy greater={list(self.greater)}")

    def expression_for(self, values: dict[str, int | float]) -> str:
        """The calculator expression with canonical numbers: ``"{d} / {t}"`` -> ``"450 / 6"``."""
        text = self.expression
        for name in sorted(values, key=len, reverse=True):
            text = text.replace("{" + name + "}", format_number(values[name]))
        return text

    def spoken(self, values: dict[str, int | float], rng: random.Random) -> dict[str, str]:
        """The variables as a person might write them (words, separators, digits)."""
        out = {}
        for name, value in values.items():
            digits = self.variables[name].get("digits", False)
            out[name] = format_number(value) if digits else say_number(value, rng)
        return out


def _draw_variable(name: str, spec: dict[str, Any], earlier: dict[str, int | float],
                   rng: random.Random) -> int | float:
    if "one_of" in spec:
        return rng.choice(spec["one_of"])
    if "decimal" in spec:
        lo, hi, places = spec["decimal"]
        return round(rng.uniform(lo, hi), places)
    lo, hi = spec["int"]
    step = spec.get("step", 1)
    if "multiple_of" in spec:
        base = earlier[spec["multiple_of"]]
        k_lo, k_hi = max(1, math.ceil(lo / base)), max(1, hi // base)
        return base * rng.randint(k_lo, max(k_lo, k_hi))
    return rng.randrange(lo, hi + 1, step)


def _check_variable(frame: str, name: str, spec: Any, earlier: list[str]) -> None:
    if not isinstance(spec, dict) or sum(k in spec for k in _VAR_KINDS) != 1:
        raise FrameError(
            f"frame {frame!r}: variable {name!r} must have exactly one of {_VAR_KINDS}, "
            f"got {spec!r}"
        )
    if "int" in spec and (len(spec["int"]) != 2 or spec["int"][0] > spec["int"][1]):
        raise FrameError(
            f"frame {frame!r}: variable {name!r}: int needs [lo, hi], got {spec['int']!r}"
        )
    if "decimal" in spec and len(spec["decimal"]) != 3:
        raise FrameError(
            f"frame {frame!r}: variable {name!r}: decimal needs [lo, hi, places], "
            f"got {spec['decimal']!r}"
        )
    if "one_of" in spec and not spec["one_of"]:
        raise FrameError(f"frame {frame!r}: variable {name!r}: one_of is empty")
    if "multiple_of" in spec and spec["multiple_of"] not in earlier:
        raise FrameError(
            f"frame {frame!r}: variable {name!r}: multiple_of {spec['multiple_of']!r} must name an "
            f"earlier variable, one of {earlier}"
        )


def frame_from_dict(entry: dict[str, Any], lexicon: dict[str, list[str]]) -> Frame:
    """Check one YAML entry against the schema and build its :class:`Frame`."""
    if not isinstance(entry, dict) or "name" not in entry:
        raise FrameError(f"a frame must be a mapping with a name, got {entry!r}")
    name = entry["name"]
    allowed = {"name", "kind", "vars", "expression", "templates", "greater", "held_out",
               "distractors", "wrap", "weight"}
    unknown = set(entry) - allowed
    if unknown:
        raise FrameError(
            f"frame {name!r}: unknown keys {sorted(unknown)}; allowed {sorted(allowed)}"
        )
    kind = entry.get("kind", "word_problem")
    if kind not in KINDS:
        raise FrameError(f"frame {name!r}: kind {kind!r} is not one of {KINDS}")
    variables = entry.get("vars", {})
    for i, (var, spec) in enumerate(variables.items()):
        _check_variable(name, var, spec, list(variables)[:i])
    templates = tuple(entry.get("templates", ()))
    if not templates or not all(isinstance(t, str) for t in templates):
        raise FrameError(f"frame {name!r}: templates must be a non-empty list of strings")
    expression = entry.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        raise FrameError(f"frame {name!r}: expression must be a string like '{{a}} + {{b}}'")
    missing = slots(expression) - set(variables)
    if missing:
        raise FrameError(f"frame {name!r}: expression uses undefined variables {sorted(missing)}")
    lexical: set[str] = set()
    for template in templates:
        try:
            used = slots(template)
        except GrammarError as err:
            raise FrameError(f"frame {name!r}: {err}") from None
        for slot in used - set(variables):
            if lexicon_key(slot) not in lexicon:
                raise FrameError(
                    f"frame {name!r}: slot {{{slot}}} is neither a variable nor a lexicon list"
                )
            lexical.add(slot)
        unused = set(variables) - used
        if unused:
            raise FrameError(f"frame {name!r}: template {template!r} never states {sorted(unused)}")
    money = {m for t in templates for m in re.findall(r"\$\{(\w+)\}", t)}
    variables = {v: ({**spec, "digits": True} if v in money else spec)
                 for v, spec in variables.items()}  # "$12.50" is never written in words
    greater = tuple(tuple(pair) for pair in entry.get("greater", ()))
    for pair in greater:
        if len(pair) != 2 or not set(pair) <= set(variables):
            raise FrameError(f"frame {name!r}: greater pairs must name two variables, got {pair!r}")
    return Frame(name, kind, dict(variables), expression, templates, greater,
                 bool(entry.get("held_out", False)), bool(entry.get("distractors", False)),
                 bool(entry.get("wrap", False)), float(entry.get("weight", 1.0)),
                 frozenset(lexical))


def lexicon_key(slot: str) -> str:
    """The lexicon list a slot draws from: trailing digits dropped (``name2`` -> ``name``)."""
    return slot.rstrip("0123456789")


def lexicon_values(frame_slots: frozenset[str], lexicon: dict[str, list[str]],
                   rng: random.Random) -> dict[str, str]:
    """A value for each lexical slot; slots of the same list get different values."""
    chosen: dict[str, str] = {}
    for slot in sorted(frame_slots):
        pool = [v for v in lexicon[lexicon_key(slot)] if v not in chosen.values()]
        chosen[slot] = rng.choice(pool)
    return chosen
