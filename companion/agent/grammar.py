"""The tool-call format as a grammar, read one character at a time (chapter 7).

For a set of tool specs the calls of :mod:`companion.toolcall` form a tiny language::

    {"name": "<tool>", "arguments": {"<key>": <value>, ...}}

with a known tool name, that tool's argument keys in schema order (optional ones may be left out)
and values of the schema's JSON type (string, integer, number, boolean, or one of an ``enum``).
:class:`ToolCallGrammar` recognises the *prefixes* of that language: :meth:`ToolCallGrammar.step`
moves a small hashable parser state over one character, or returns None when no call can continue
that way. :mod:`companion.agent.constrained` uses it to mask a model's next tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from companion.toolcall import FINAL_ANSWER_SPEC

_PROBE_CHARS = tuple(chr(c) for c in range(0x20, 0x7F))  # the printable ASCII characters
SUPPORTED_TYPES = ("string", "integer", "number", "boolean")
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = frozenset('"\\/bfnrtu')
_DIGITS = frozenset("0123456789")

# A parser state is a small tuple, hashable so that results can be cached:
#   ("lit", text, next)        the fixed text ``text`` must come, then state ``next``
#   ("name", prefix)           inside the tool name
#   ("args", tool)             just after ``"arguments": {``
#   ("key", tool, i, prefix)   inside an argument key; candidates are keys i, i+1, ...
#   ("value", tool, j)         the value of key j starts
#   ("str", tool, j, n, esc)   inside a free string value, n characters so far; esc: escape state
#   ("enum", tool, j, prefix)  inside a string value restricted to an enum
#   ("num", tool, j, part, n)  inside a number; part says where in the number grammar
#   ("after", tool, i)         a value just ended; key i is the next candidate
#   ("end",)                   the call is complete; only end-of-turn may follow
State = tuple


@dataclass(frozen=True)
class _ToolShape:
    """The part of a tool spec the grammar needs: name, keys in order, types, required."""

    name: str
    keys: tuple[str, ...]
    types: tuple[str, ...]
    enums: tuple[tuple[str, ...] | None, ...]
    required: tuple[bool, ...]


def _shape(spec: dict[str, Any]) -> _ToolShape:
    params = spec.get("parameters", {}) or {}
    props = params.get("properties", {}) or {}
    required = set(params.get("required", []))
    keys, types, enums, req = [], [], [], []
    for key, schema in props.items():
        kind = schema.get("type", "string")
        if kind not in SUPPORTED_TYPES:
            raise ValueError(
                f"tool {spec['name']!r} argument {key!r} has type {kind!r}; "
                f"constrained decoding supports {SUPPORTED_TYPES}"
            )
        enum = schema.get("enum")
        if enum is not None and (kind != "string" or not all(isinstance(e, str) for e in enum)):
            raise ValueError(f"tool {spec['name']!r} argument {key!r}: enum must list strings")
        keys.append(key)
        types.append(kind)
        enums.append(tuple(enum) if enum is not None else None)
        req.append(key in required)
    unknown = required - set(keys)
    if unknown:
        raise ValueError(f"tool {spec['name']!r} requires {sorted(unknown)} but has no schema")
    return _ToolShape(spec["name"], tuple(keys), tuple(types), tuple(enums), tuple(req))


class ToolCallGrammar:
    """Character-level recogniser of the prefixes of well-formed tool calls (chapter 7).

    ``advance(state, text)`` returns the state after reading ``text``, or ``None`` when the text
    leaves the language. ``final_answer`` is among the tools unless ``final_answer=False`` (the
    agent may forbid answering yet, see :class:`~companion.agent.loop.Agent`). String values are
    capped at ``max_string_chars`` characters and numbers at ``max_number_chars``, so every call
    can end.
    """

    def __init__(
        self,
        specs: list[dict[str, Any]],
        max_string_chars: int = 200,
        max_number_chars: int = 16,
        final_answer: bool = True,
    ) -> None:
        if max_string_chars < 1 or max_number_chars < 2:
            raise ValueError(
                f"max_string_chars={max_string_chars} and max_number_chars={max_number_chars}; "
                "expected at least 1 and 2"
            )
        names = [s["name"] for s in specs]
        final = FINAL_ANSWER_SPEC["name"]
        if final_answer:
            all_specs = [*specs] if final in names else [*specs, FINAL_ANSWER_SPEC]
        else:
            all_specs = [s for s in specs if s["name"] != final]
        if not all_specs:
            raise ValueError("no tools and final_answer=False: no call could be written")
        self.tools: tuple[_ToolShape, ...] = tuple(_shape(s) for s in all_specs)
        if len({t.name for t in self.tools}) != len(self.tools):
            raise ValueError(f"tool names must be unique, got {names}")
        self.max_string_chars = max_string_chars
        self.max_number_chars = max_number_chars
        self.start: State = ("lit", '{"name": "', ("name", ""))
        self.end: State = ("end",)

    # -- which keys may come next ------------------------------------------------------------
    def _candidates(self, tool: int, i: int) -> list[int]:
        """Keys j >= i that may come next: no required key may be skipped."""
        shape, out = self.tools[tool], []
        for j in range(i, len(shape.keys)):
            out.append(j)
            if shape.required[j]:
                break
        return out

    def _may_close(self, tool: int, i: int) -> bool:
        return not any(self.tools[tool].required[i:])

    # -- one character -----------------------------------------------------------------------
    def step(self, state: State, ch: str) -> State | None:
        """The state after reading one character, or None if ``ch`` cannot come next."""
        kind = state[0]
        if kind == "lit":
            text, nxt = state[1], state[2]
            if ch != text[0]:
                return None
            return ("lit", text[1:], nxt) if len(text) > 1 else nxt
        if kind == "name":
            prefix = state[1]
            if ch == '"':
                for t, shape in enumerate(self.tools):
                    if shape.name == prefix:
                        return ("lit", ', "arguments": {', ("args", t))
                return None
            grown = prefix + ch
            return ("name", grown) if any(s.name.startswith(grown) for s in self.tools) else None
        if kind == "args":
            tool = state[1]
            if ch == '"' and self.tools[tool].keys:
                return ("key", tool, 0, "")
            if ch == "}" and self._may_close(tool, 0):
                return ("lit", "}", self.end)
            return None
        if kind == "key":
            _, tool, i, prefix = state
            keys = self.tools[tool].keys
            cands = self._candidates(tool, i)
            if ch == '"':
                for j in cands:
                    if keys[j] == prefix:
                        return ("lit", ": ", ("value", tool, j))
                return None
            grown = prefix + ch
            fits = any(keys[j].startswith(grown) for j in cands)
            return ("key", tool, i, grown) if fits else None
        if kind == "value":
            return self._value_start(state[1], state[2], ch)
        if kind == "str":
            return self._string(state, ch)
        if kind == "enum":
            _, tool, j, prefix = state
            options = self.tools[tool].enums[j]
            if ch == '"' and prefix in options:
                return ("after", tool, j + 1)
            grown = prefix + ch
            return ("enum", tool, j, grown) if any(o.startswith(grown) for o in options) else None
        if kind == "num":
            return self._number(state, ch)
        if kind == "after":
            _, tool, i = state
            if ch == "," and self._candidates(tool, i):
                return ("lit", ' "', ("key", tool, i, ""))
            if ch == "}" and self._may_close(tool, i):
                return ("lit", "}", self.end)
            return None
        return None  # "end": nothing may follow

    def _value_start(self, tool: int, j: int, ch: str) -> State | None:
        shape = self.tools[tool]
        kind = shape.types[j]
        if kind == "string":
            if ch != '"':
                return None
            return ("enum", tool, j, "") if shape.enums[j] is not None else ("str", tool, j, 0, "")
        if kind == "boolean":
            for word in ("true", "false"):
                if ch == word[0]:
                    return ("lit", word[1:], ("after", tool, j + 1))
            return None
        return self._number(("num", tool, j, "start", 0), ch)

    def _string(self, state: State, ch: str) -> State | None:
        _, tool, j, n, esc = state
        if esc == "\\":  # just after a backslash
            if ch not in _ESCAPES:
                return None
            return ("str", tool, j, n, "u0" if ch == "u" else "")
        if esc.startswith("u"):  # inside \uXXXX
            if ch not in _HEX:
                return None
            done = int(esc[1:]) + 1
            return ("str", tool, j, n, "" if done == 4 else f"u{done}")
        if ch == '"':
            return ("after", tool, j + 1)
        if n >= self.max_string_chars or ord(ch) < 0x20:
            return None
        return ("str", tool, j, n + 1, "\\" if ch == "\\" else "")

    def _number(self, state: State, ch: str) -> State | None:
        """JSON numbers -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; integers end at the int."""
        _, tool, j, part, n = state
        integer = self.tools[tool].types[j] == "integer"
        accepting = part in ("zero", "int", "frac", "exp")
        if accepting and ch in ",}":
            return self.step(("after", tool, j + 1), ch)
        if n >= self.max_number_chars:
            return None
        nxt = None
        if part == "start" and ch == "-":
            nxt = "sign"
        elif part in ("start", "sign"):
            nxt = "zero" if ch == "0" else ("int" if ch in _DIGITS else None)
        elif part == "int" and ch in _DIGITS:
            nxt = "int"
        elif part in ("zero", "int") and not integer:
            nxt = "dot" if ch == "." else ("e" if ch in "eE" else None)
        elif part in ("dot", "frac") and ch in _DIGITS:
            nxt = "frac"
        elif part == "frac" and ch in "eE":
            nxt = "e"
        elif part == "e":
            nxt = "esign" if ch in "+-" else ("exp" if ch in _DIGITS else None)
        elif part in ("esign", "exp") and ch in _DIGITS:
            nxt = "exp"
        return None if nxt is None else ("num", tool, j, nxt, n + 1)

    # -- how far from the end ----------------------------------------------------------------
    def _min_value(self, tool: int, j: int) -> int:
        shape = self.tools[tool]
        if shape.enums[j] is not None:
            return 2 + min(len(o) for o in shape.enums[j])
        return {"string": 2, "boolean": 4}.get(shape.types[j], 1)

    def _min_after(self, tool: int, i: int) -> int:
        """Fewest characters that close the call from an ``after`` state with next key i."""
        shape = self.tools[tool]
        rest = [j for j in range(i, len(shape.keys)) if shape.required[j]]
        return 2 + sum(3 + len(shape.keys[j]) + 3 + self._min_value(tool, j) for j in rest)

    def _min_args(self, tool: int) -> int:
        return self._min_after(tool, 0) - (2 if any(self.tools[tool].required) else 0)

    def min_chars_to_end(self, state: State) -> int:
        """The length of the shortest text that completes a call from ``state`` (0 at the end).

        Every ASCII character is a token of a byte-level vocabulary, so this also bounds how many
        tokens are needed to finish, which lets the processor close a call before the budget ends.
        """
        kind = state[0]
        if kind == "end":
            return 0
        if kind == "lit":
            return len(state[1]) + self.min_chars_to_end(state[2])
        if kind == "name":
            p = state[1]
            return min(
                len(t.name) - len(p) + 1 + len(', "arguments": {') + self._min_args(i)
                for i, t in enumerate(self.tools)
                if t.name.startswith(p)
            )
        if kind == "args":
            return self._min_args(state[1])
        if kind == "key":
            _, tool, i, p = state
            keys = self.tools[tool].keys
            return min(
                len(keys[j]) - len(p) + 3 + self._min_value(tool, j) + self._min_after(tool, j + 1)
                for j in self._candidates(tool, i)
                if keys[j].startswith(p)
            )
        if kind == "value":
            return self._min_value(state[1], state[2]) + self._min_after(state[1], state[2] + 1)
        if kind == "str":
            esc = state[4]
            pending = 1 if esc == "\\" else (4 - int(esc[1:]) if esc else 0)
            return pending + 1 + self._min_after(state[1], state[2] + 1)
        if kind == "enum":
            _, tool, j, p = state
            rest = min(len(o) - len(p) for o in self.tools[tool].enums[j] if o.startswith(p))
            return rest + 1 + self._min_after(tool, j + 1)
        if kind == "num":
            _, tool, j, part, _n = state
            need = 0 if part in ("zero", "int", "frac", "exp") else 1
            return need + self._min_after(tool, j + 1)
        return self._min_after(state[1], state[2])  # "after"

    # -- whole strings -----------------------------------------------------------------------
    def advance(self, state: State | None, text: str) -> State | None:
        """The state after reading ``text`` from ``state`` (None stays None)."""
        for ch in text:
            if state is None:
                return None
            state = self.step(state, ch)
        return state

    def accepts(self, text: str) -> bool:
        """True when ``text`` is one complete well-formed call."""
        return self.advance(self.start, text) == self.end

    def is_prefix(self, text: str) -> bool:
        """True when ``text`` can still be extended to a complete call."""
        return self.advance(self.start, text) is not None

    def forced_text(self, state: State) -> str:
        """The text every call continuing from ``state`` starts with: the characters the grammar
        leaves no choice about (``'", "arguments": {"expression": "'`` once a tool name is
        complete). Empty inside a free string, at a choice, and at the end."""
        out: list[str] = []
        while state != self.end:
            chars = self.first_chars(state)
            if chars is None or len(chars) != 1:
                break
            (ch,) = chars
            out.append(ch)
            state = self.step(state, ch)
        return "".join(out)

    def first_chars(self, state: State) -> frozenset[str] | None:
        """The characters that may come next, or None inside a free string (almost any)."""
        kind = state[0]
        if kind == "str" and state[4] == "":
            return None
        probe = _PROBE_CHARS
        return frozenset(c for c in probe if self.step(state, c) is not None) | frozenset(
            self._extra_chars(state)
        )

    def _extra_chars(self, state: State) -> set[str]:
        """Non-ASCII characters that tool names, keys or enum values may continue with."""
        kind = state[0]
        words: list[str] = []
        cut = 0
        if kind == "name":
            words, cut = [t.name for t in self.tools], len(state[1])
        elif kind == "key":
            words = [self.tools[state[1]].keys[j] for j in self._candidates(state[1], state[2])]
            cut = len(state[3])
        elif kind == "enum":
            words, cut = list(self.tools[state[1]].enums[state[2]] or ()), len(state[3])
        return {w[cut] for w in words if len(w) > cut and not w[cut].isascii()}
