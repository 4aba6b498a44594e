"""The words of the notation reader, and how a question is cut into them (chapter 7).

:func:`tokens_of` cuts a question into tokens: numbers in digits (``5,000`` only with groups of
three), operator symbols, words and degree signs, in lower case with apostrophes dropped
(``what's`` is ``whats``). :func:`load_lexicon` reads ``data/sets/notation/lexicon.yaml``: the
phrases of each role ("plus", "divided by", "the square root of", "how many") and the number
words, checked when loaded. :meth:`Lexicon.correct` mends a typo of one edit in a long word
("calcualte"), so a question spelt carelessly is read like one spelt right.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from companion import paths
from companion.agent.spelling import edit_distance
from companion.agent.tools import UNITS, UnitError, find_unit

LEXICON = paths.SETS / "notation" / "lexicon.yaml"
ROLES = (
    "prefixes", "suffixes", "negative", "square_root", "cube_root", "reciprocal", "squared",
    "cubed", "itself", "percent", "half", "more_than", "less_than", "sum", "product", "average",
    "difference", "add", "subtract", "multiply", "divide", "remainder", "convert", "into",
    "how_many", "in_a", "factorial", "factorial_of", "increase", "decrease", "what_percent",
    "as_percent", "out_of", "as_a_percent",
)
NUMBER_TABLES = ("units", "tens", "scales", "ordinals", "multiples")

# A number in digits ("5,000" only with groups of three), an operator symbol, a word, or a
# degree sign glued to its letter ("°f"). Anything else but spaces and end punctuation fails.
_TOKEN = re.compile(
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d*\.\d+|\d+|\*\*|//|°[cfk]|[a-z]+|[-+*/^()%√=,]"
)
_SKIP = re.compile(r"[\s?!.:;\"']+")
# signs typed in place of the ones the tokens use
_SAME_SIGN = str.maketrans({"×": "*", "−": "-", "–": "-", "÷": "/"})


class LexiconError(ValueError):
    """A lexicon file that is not what :func:`load_lexicon` expects."""


def tokens_of(text: str) -> list[str] | None:
    """The tokens of ``text`` (lower case, apostrophes dropped, ``×`` read as ``*``), or None
    when it holds a character the grammar has no token for."""
    text = text.lower().replace("’", "").replace("'", "")
    text = text.translate(_SAME_SIGN)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # twenty-one
    text = re.sub(r"(?<=\d)(?:st|nd|rd|th)\b", "", text)  # 4th
    text = re.sub(r"\$(?=\d)", "", text)  # $45
    out, pos = [], 0
    while pos < len(text):
        skip = _SKIP.match(text, pos)
        if skip:
            pos = skip.end()
            continue
        match = _TOKEN.match(text, pos)
        if match is None:
            return None
        out.append(match.group())
        pos = match.end()
    return out


@dataclass(frozen=True)
class Lexicon:
    """The reader's words: phrases by role (each a tuple of tokens) and number words."""

    phrases: dict[str, tuple[tuple[str, ...], ...]]
    operators: dict[str, tuple[tuple[str, ...], ...]]
    numbers: dict[str, dict[str, int]]

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """Every word the reader knows: its phrases', its number words (ordinals also in the
        plural) and the converter's unit names and aliases."""
        known = {t for table in (*self.phrases.values(), *self.operators.values())
                 for phrase in table for t in phrase if t.isalpha()}
        for table in self.numbers.values():
            known |= set(table)
        known |= {w + "s" for w in self.numbers["ordinals"]}
        known |= {w for u in UNITS for name in (u.name, *u.aliases) for w in name.split()}
        return frozenset(known)

    @functools.cached_property
    def number_words(self) -> frozenset[str]:
        """The words a number written in words is made of ("twenty", "hundred", "a", "and")."""
        return frozenset({"a", "an", "and", *self.numbers["units"], *self.numbers["tens"],
                          *self.numbers["scales"]})

    def number_at(self, tokens: Sequence[str], start: int) -> tuple[Decimal, int] | None:
        """The number written in words from ``tokens[start]`` on ("one hundred and five",
        "a dozen", "twenty one", "two thousand, three hundred") and the index after it, or None
        when no number word starts there."""
        units, tens = self.numbers["units"], self.numbers["tens"]
        scales = self.numbers["scales"]
        total, current, last, i = 0, None, None, start
        while i < len(tokens):
            t, nxt = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else None
            if t in ("a", "an") and current is None and nxt in scales:
                current, last = 1, "a"
            elif t in units and last not in ("unit", "teen"):
                current = (current or 0) + units[t]
                last = "unit" if units[t] < 10 else "teen"
            elif t in tens and last in (None, "hundred", "a", "scale"):
                current, last = (current or 0) + tens[t], "tens"
            elif t == "hundred" and last in ("unit", "teen", "tens", "a"):
                current, last = (current or 1) * 100, "hundred"
            elif t in scales and t != "hundred" and current is not None:
                if t == "dozen":
                    current, last = current * scales[t], "tens"
                else:
                    total, current, last = total + current * scales[t], None, "scale"
            elif t in ("and", ",") and last in ("hundred", "scale") and (nxt in units or
                                                                         nxt in tens):
                pass  # "one hundred and five", "one thousand, two hundred"
            else:
                break
            i += 1
        if i == start or last == "a":
            return None
        return Decimal(total + (current or 0)), i

    def correct(self, word: str) -> str:
        """``word``, or the one known word a single edit away from it (a swap of two
        neighbouring letters counts as one) when ``word`` is unknown, has four letters or more
        and is not a unit; an unknown word with two or more such neighbours stays as it is."""
        if word in self.words or len(word) < 4 or not word.isalpha():
            return word
        try:
            find_unit(word)
            return word
        except UnitError:
            pass
        near = [w for w in self.words
                if abs(len(w) - len(word)) <= 1 and edit_distance(word, w) == 1]
        return near[0] if len(near) == 1 else word


def _phrases(items: Any, where: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(items, list) or not items:
        raise LexiconError(f"{where}: expected a non-empty list of phrases, got {items!r}")
    out = []
    for item in items:
        toks = tokens_of(str(item)) if isinstance(item, str) else None
        if not toks:
            raise LexiconError(f"{where}: {item!r} is not a phrase of known tokens")
        out.append(tuple(toks))
    return tuple(sorted(set(out), key=len, reverse=True))  # longest first


@functools.cache
def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """The lexicon at ``path`` (the shipped one when None), checked: every role present, every
    phrase made of known tokens, every number word mapped to a whole number."""
    path = Path(path) if path is not None else LEXICON
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise LexiconError(f"{path}: expected a mapping of roles")
    missing = [k for k in (*ROLES, *NUMBER_TABLES, "operators") if k not in data]
    if missing:
        raise LexiconError(f"{path}: missing {', '.join(missing)}")
    numbers = {}
    for table in NUMBER_TABLES:
        words = data[table]
        if not isinstance(words, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in words.values()
        ):
            raise LexiconError(f"{path}: {table} must map words to whole numbers")
        numbers[table] = {str(k): v for k, v in words.items()}
    operators = data["operators"]
    if not isinstance(operators, dict) or set(operators) != {"+", "-", "*", "/", "//", "%", "**"}:
        raise LexiconError(f"{path}: operators must give phrases for + - * / // % **")
    return Lexicon(
        phrases={role: _phrases(data[role], f"{path}: {role}") for role in ROLES},
        operators={op: _phrases(v, f"{path}: operators {op}") for op, v in operators.items()},
        numbers=numbers,
    )


# a word (its hyphenated parts together) or a number written with thousands separators
_SPAN = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*|\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)")


def with_digits(text: str, lexicon: Lexicon | None = None) -> str:
    """``text`` with its numbers in digits, the form the agent's model copies most reliably:
    number words become digits ("twenty-nine" -> "29", "a dozen" -> "12", "one hundred and
    five" -> "105"), thousands separators go ("5,000" -> "5000"), and every other character
    stays. A lone "one" stays a word: it is often a pronoun ("which one").
    """
    lexicon = lexicon or load_lexicon()
    spans = list(_SPAN.finditer(text))
    out, done, i = [], 0, 0
    while i < len(spans):
        span = spans[i]
        if span.group()[0].isdigit():
            out += [text[done:span.start()], span.group().replace(",", "")]
            done, i = span.end(), i + 1
            continue
        tokens, owner = [], []  # the lower-cased parts of spans i, i+1, ... and their span
        for j in range(i, len(spans)):
            gap = text[spans[j - 1].end():spans[j].start()] if j > i else ""
            if gap.strip() not in ("", ","):
                break
            if gap.strip():
                tokens.append(",")
                owner.append(-1)  # between spans
            parts = spans[j].group().lower().split("-")
            tokens += parts
            owner += [j] * len(parts)
            if not set(parts) <= lexicon.number_words:
                break  # a number in words ends at or before this span
        found = lexicon.number_at(tokens, 0)
        if found is not None:
            value, end = found
            last = owner[end - 1]
            whole = end == len(owner) or owner[end] != last  # the last span read to its end
            if whole and tokens[:end] != ["one"] and tokens[end - 1] != ",":
                out += [text[done:span.start()], format(value, "f")]
                done, i = spans[last].end(), last + 1
                continue
        i += 1
    return "".join(out) + text[done:]
