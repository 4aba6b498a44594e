"""Reading a question that is only arithmetic or a unit conversion, exactly (chapter 7).

A reader's first question is often notation, not a problem: ``17*23``, "3 plus 4 times 5",
"square root of 2,025", "15% of 80", "twelve inches to cm", "how many cups in a quart". Each has
one right tool call, and writing it is translation, not judgement: ``^`` means ``**``, "5,000" is
5000, "a dozen" is 12, precedence is the school rule, "how many cups in a quart" converts *one
quart* to cups. A 135M-parameter model gets such translations wrong often enough to matter (it
reads "5,000" as 5, squares a square root, converts in the wrong direction), while a grammar gets
them right whenever it can read the whole question.

So the agent reads a question with :func:`read_question` before its model runs. The grammar is
small: wrappers ("what's", "calculate", "please", "thanks") around either

- an **expression**: numbers in digits or words; ``+ - * / ** ^ ( )`` and their words ("plus",
  "times", "divided by", "to the power of"); "squared", "cubed", "times itself", roots,
  reciprocals, factorials, "double" and "half of"; percentages and fractions of something ("15%
  of 80", "80 plus 15%", "3/8 of 96", "two thirds of 27", "15 is what percent of 60"); and
  operations named before their operands ("the sum of 4, 8 and 15", "subtract 19 from 60", "the
  average of ..."), with the usual precedence (:mod:`companion.agent.expressions`); or
- a **conversion**: a quantity, a unit and a target unit in one of a few orders ("5 miles in km",
  "convert 72 F to C", "how many ounces in 3 pounds", "2 miles is how many feet", "minutes in a
  week"), with the converter's own unit names (:func:`~companion.agent.tools.find_unit`).

The words live in ``data/sets/notation/lexicon.yaml`` (:mod:`companion.agent.lexicon`). The
reader is all or nothing: one word it does not know ("apples", "bill", "tip", "year"), one word
left over, or no operation at all, and it returns ``None`` and the question goes to the model
unchanged. It never guesses: a word problem is the model's, however simple.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

from companion.agent.expressions import ExpressionParser, Unread, to_text
from companion.agent.lexicon import Lexicon, load_lexicon, tokens_of, with_digits
from companion.agent.tools import Unit, UnitError, find_unit
from companion.toolcall import ToolCall

# --------------------------------------------------------------------------------------------
# Conversions: "<value> <unit> to <unit>" and the other orders people use


def _units_at(parser: ExpressionParser) -> Iterator[tuple[int, Unit]]:
    """Every unit starting at the parser's position: (tokens it spans, the unit)."""
    for span in (3, 2, 1):
        words = parser.toks[parser.pos:parser.pos + span]
        if len(words) < span:
            continue
        try:
            yield span, find_unit(" ".join(words))
        except UnitError:
            continue


# each pattern: Q (a quantity), U1 (the unit converted from), U2 (the unit wanted), or a role;
# "Q?" is an optional quantity (1 when missing: "how many cups in a quart")
_CONVERSIONS: tuple[tuple[str, ...], ...] = (
    ("convert", "Q", "U1", "into", "U2"),
    ("Q", "U1", "into", "U2"),
    ("Q", "U1", "into", "how_many", "U2"),
    ("how_many", "U2", "in_a", "Q?", "U1"),
    ("how_many", "U2", "is", "Q", "U1"),
    ("how_many", "U2", "are", "Q", "U1"),
    ("how_many", "U2", "Q", "U1"),
    ("Q", "U1", "is", "how_many", "U2"),
    ("Q", "U1", "are", "how_many", "U2"),
    ("Q", "U1", "=", "how_many", "U2"),
    ("U2", "in_a", "Q?", "U1"),
)


def _match(parser: ExpressionParser, pattern: Sequence[str], found: dict) -> Iterator[dict]:
    """Every way ``pattern`` matches the rest of the tokens (backtracking over unit spans)."""
    if not pattern:
        if parser.pos == len(parser.toks):
            yield dict(found)
        return
    head, rest, start = pattern[0], pattern[1:], parser.pos
    if head in ("Q", "Q?"):
        try:
            value = parser.quantity()
        except Unread:
            if head == "Q?":  # "how many cups in a quart": one of the unit
                parser.accept([("a",), ("an",)])
                yield from _match(parser, rest, {**found, "Q": Decimal(1)})
            parser.pos = start
            return
        yield from _match(parser, rest, {**found, "Q": value})
    elif head in ("U1", "U2"):
        for span, unit in list(_units_at(parser)):
            parser.pos = start + span
            yield from _match(parser, rest, {**found, head: unit})
    elif head in parser.lex.phrases:
        for phrase in parser.lex.phrases[head]:
            if tuple(parser.toks[start:start + len(phrase)]) == phrase:
                parser.pos = start + len(phrase)
                yield from _match(parser, rest, found)
    elif parser.peek() == head:
        parser.pos += 1
        yield from _match(parser, rest, found)
    parser.pos = start


def _conversion(tokens: Sequence[str], lexicon: Lexicon) -> ToolCall | None:
    for pattern in _CONVERSIONS:
        parser = ExpressionParser(tokens, lexicon)
        for found in _match(parser, pattern, {}):
            source, target = found["U1"], found["U2"]
            if source.quantity != target.quantity or source is target:
                continue
            value = found["Q"]
            number: int | float = int(value) if value == value.to_integral() else float(value)
            return ToolCall("convert_units",
                            {"value": number, "from_unit": source.name, "to_unit": target.name})
    return None


# --------------------------------------------------------------------------------------------
# The question


def _unwrapped(tokens: list[str], lexicon: Lexicon) -> list[str]:
    """``tokens`` without leading and trailing wrappers ("what's", "please", "thanks", "=")."""
    changed = True
    while changed and tokens:
        changed = False
        for phrase in (*lexicon.phrases["prefixes"], (",",)):
            if tuple(tokens[:len(phrase)]) == phrase and len(tokens) > len(phrase):
                tokens, changed = tokens[len(phrase):], True
                break
        for phrase in (*lexicon.phrases["suffixes"], (",",), ("=",)):
            if tuple(tokens[-len(phrase):]) == phrase and len(tokens) > len(phrase):
                tokens, changed = tokens[:-len(phrase)], True
                break
    return tokens


def read_question(question: str, lexicon: Lexicon | None = None) -> ToolCall | None:
    """The one tool call that answers ``question`` when it is only arithmetic or a unit
    conversion, else None (see the module docstring for the grammar).

    ``read_question("what's 3 plus 4 times 5?")`` is ``calculator({"expression": "3 + 4 * 5"})``;
    ``read_question("how many cups in a quart")`` is ``convert_units({"value": 1, "from_unit":
    "quart", "to_unit": "cup"})``; ``read_question("I split a $84 bill 4 ways")`` is None.
    """
    if not isinstance(question, str):
        raise TypeError(f"a question is a string, got {type(question).__name__}")
    lexicon = lexicon or load_lexicon()
    tokens = tokens_of(question)
    if not tokens:
        return None
    tokens = _unwrapped([lexicon.correct(t) for t in tokens], lexicon)
    call = _conversion(tokens, lexicon)
    if call is not None:
        return call
    parser = ExpressionParser(tokens, lexicon)
    try:
        node = parser.share() or parser.expression()
    except Unread:
        return None
    if parser.pos != len(tokens) or parser.operations == 0:
        return None
    return ToolCall("calculator", {"expression": to_text(node)})


class NotationReader:
    """The notation reader as the agent's loop uses it (:class:`~companion.agent.loop.Agent`):
    :meth:`read` answers a question that is only notation; :meth:`digits` gives every other
    question to the model with its numbers in digits (:func:`~companion.agent.lexicon.with_digits`).
    """

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon or load_lexicon()

    def read(self, question: str) -> ToolCall | None:
        """:func:`read_question` with this reader's lexicon."""
        return read_question(question, self.lexicon)

    def digits(self, question: str) -> str:
        """``question`` as the model reads it: "twenty-nine" as 29, "5,000" as 5000."""
        return with_digits(question, self.lexicon)

