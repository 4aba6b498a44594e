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
  "times", "divided by", "to the power of"); "squared", "cubed", "times itself", square and cube
  roots, reciprocals, "double" and "half of"; percentages and fractions of something ("15% of
  80", "3/8 of 96", "two thirds of 27"); and operations named before their operands ("the sum of
  4, 8 and 15", "subtract 19 from 60", "the average of ..."), with the usual precedence; or
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
from dataclasses import dataclass
from decimal import Decimal

from companion.agent.lexicon import Lexicon, load_lexicon, tokens_of, with_digits
from companion.agent.tools import MAX_DEPTH, CalculatorError, UnitError, calculate, find_unit
from companion.toolcall import ToolCall

# --------------------------------------------------------------------------------------------
# Expressions: a tree of numbers and binary operators, printed with the fewest parentheses


@dataclass(frozen=True)
class Num:
    """A number as the calculator reads it (``"5000"``, ``"0.5"``, ``"-3"``)."""

    text: str


@dataclass(frozen=True)
class Bin:
    """``left op right`` for one of ``+ - * / % **``."""

    op: str
    left: Num | Bin
    right: Num | Bin


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "**": 3}


def to_text(node: Num | Bin, parent: int = 0, right: bool = False) -> str:
    """``node`` as calculator text, parenthesised only where precedence needs it
    (``Bin("*", Bin("+", 3, 4), 5)`` -> ``"(3 + 4) * 5"``)."""
    if isinstance(node, Num):
        negative = node.text.startswith("-")
        return f"({node.text})" if negative and parent else node.text
    own = _PRECEDENCE[node.op]
    power = node.op == "**"
    text = (f"{to_text(node.left, own + power, False)} {node.op} "
            f"{to_text(node.right, own + (not power), True)}")
    return f"({text})" if own < parent else text


def _number(value: Decimal) -> Num:
    text = format(value.normalize(), "f")
    return Num(text.rstrip("0").rstrip(".") if "." in text else text)


class _Unread(Exception):
    """The question is not notation (raised inside the parser, never out of this module)."""


class _Parser:
    """Recursive descent over a token list; every method consumes a prefix or raises."""

    def __init__(self, tokens: Sequence[str], lexicon: Lexicon) -> None:
        self.toks, self.lex, self.pos = list(tokens), lexicon, 0
        self.operations = 0
        self.bare_percent: Bin | None = None  # the last "15%" read without "of"
        self.depth = 0

    # -- tokens
    def peek(self, ahead: int = 0) -> str | None:
        i = self.pos + ahead
        return self.toks[i] if i < len(self.toks) else None

    def accept(self, phrases: Sequence[tuple[str, ...]]) -> bool:
        for phrase in phrases:  # longest first
            if tuple(self.toks[self.pos:self.pos + len(phrase)]) == phrase:
                self.pos += len(phrase)
                return True
        return False

    def role(self, name: str) -> bool:
        return self.accept(self.lex.phrases[name])

    def expect(self, *words: str) -> None:
        if not self.accept([(w,) for w in words]):
            raise _Unread(f"expected {words} at {self.peek()!r}")

    def op(self, kind: str, left: Num | Bin, right: Num | Bin) -> Bin:
        self.operations += 1
        return Bin(kind, left, right)

    # -- numbers
    def words_number(self) -> Decimal | None:
        """A number in words at the position ("one hundred and five", "a dozen"), or None."""
        found = self.lex.number_at(self.toks, self.pos)
        if found is None:
            return None
        value, self.pos = found
        return value

    def quantity(self) -> Decimal:
        """A number in digits or words, with an optional sign and scale ("4.2 million")."""
        sign = Decimal(-1) if self.role("negative") else Decimal(1)
        t = self.peek()
        if t and (t[0].isdigit() or t.startswith(".")):
            self.pos += 1
            value = Decimal(t.replace(",", ""))
            scales = self.lex.numbers["scales"]
            if self.peek() in scales:  # "4.2 million", "3 dozen"
                value *= scales[self.toks[self.pos]]
                self.pos += 1
            return sign * value
        value = self.words_number()
        if value is None:
            raise _Unread(f"expected a number at {t!r}")
        return sign * value

    def fraction_word(self) -> Bin | None:
        """"a third", "two thirds", "three quarters" as numerator / denominator, or None."""
        start, ordinals = self.pos, self.lex.numbers["ordinals"]
        if self.peek() in ("a", "one"):
            numerator = Decimal(1)
            self.pos += 1
        else:
            numerator = self.words_number()
        word = self.peek() or ""
        base = word[:-1] if word.endswith("s") and word[:-1] in ordinals else word
        if numerator is None or base not in ordinals or (base == word) != (numerator == 1):
            self.pos = start
            return None
        self.pos += 1
        return self.op("/", _number(numerator), Num(str(ordinals[base])))

    # -- expressions
    def expression(self) -> Num | Bin:
        node = self.term()
        while True:
            if self.role("more_than"):
                node = self.op("+", self.term(), node)
            elif self.role("less_than"):
                node = self.op("-", self.term(), node)
            elif self.accept(self.lex.operators["+"]):
                node = self.op("+", node, self.of_base(node, self.term()))
            elif self.accept(self.lex.operators["-"]):
                node = self.op("-", node, self.of_base(node, self.term()))
            else:
                return node

    def of_base(self, base: Num | Bin, term: Num | Bin) -> Num | Bin:
        """A bare percentage added or taken away is a share of what it changes: "80 plus 15%"
        is ``80 + 15 / 100 * 80``."""
        if term is self.bare_percent:
            return self.op("*", term, base)
        return term

    def term(self) -> Num | Bin:
        node = self.power()
        while True:
            for kind in ("*", "/", "%"):
                if self.accept(self.lex.operators[kind]):
                    node = self.op(kind, node, self.power())
                    break
            else:
                if self.peek() == "of" and isinstance(node, Bin) and node.op == "/":
                    self.pos += 1  # "3/8 of 96", "two thirds of 27"
                    node = self.op("*", node, self.power())
                    continue
                return node

    def power(self) -> Num | Bin:
        node = self.unary()
        while True:
            if self.role("squared"):
                node = self.op("**", node, Num("2"))
            elif self.role("cubed"):
                node = self.op("**", node, Num("3"))
            elif self.role("itself"):
                node = self.op("*", node, node)
            elif self.accept(self.lex.operators["**"]):
                self.accept([("the",)])
                exponent = self.power()
                self.accept([("power",)])
                node = self.op("**", node, exponent)
            elif self.accept([("to", "the")]):
                ordinals = self.lex.numbers["ordinals"]
                if self.peek() in ordinals and self.peek() != "quarter":
                    exponent = Num(str(ordinals[self.toks[self.pos]]))
                    self.pos += 1
                else:
                    exponent = _number(self.quantity())
                self.accept([("power",)])
                node = self.op("**", node, exponent)
            else:
                return node

    def operands(self) -> list[Num | Bin]:
        """"4, 8 and 15", "4 and 8", "4, 8, 15": two or more operands."""
        items = [self.power()]
        while True:
            if self.accept([(",", "and"), ("and",), (",",)]):
                items.append(self.power())
            else:
                break
        if len(items) < 2:
            raise _Unread("expected two or more operands")
        return items

    def chain(self, kind: str, items: list[Num | Bin]) -> Num | Bin:
        node = items[0]
        for item in items[1:]:
            node = self.op(kind, node, item)
        return node

    def unary(self) -> Num | Bin:
        """Every nesting (a parenthesis, a root, a sign) passes through here, so the depth of the
        tree is bounded here, as the calculator bounds it (``MAX_DEPTH``)."""
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Unread("nested too deeply")
            return self.prefixed()
        finally:
            self.depth -= 1

    def prefixed(self) -> Num | Bin:
        if self.role("square_root"):
            return self.op("**", self.power(), Num("0.5"))
        if self.role("cube_root"):
            return self.op("**", self.power(), Bin("/", Num("1"), Num("3")))
        if self.role("reciprocal"):
            return self.op("/", Num("1"), self.power())
        if self.role("half"):
            self.accept([("of",)])
            return self.op("/", self.power(), Num("2"))
        multiples, ordinals = self.lex.numbers["multiples"], self.lex.numbers["ordinals"]
        if self.peek() in multiples:
            self.pos += 1
            return self.op("*", Num(str(multiples[self.toks[self.pos - 1]])), self.power())
        the = self.peek() == "the"
        if self.peek(the) in ordinals and self.peek(the + 1) == "root":  # "the fourth root of"
            n = ordinals[self.toks[self.pos + the]]
            self.pos += the + 2
            self.accept([("of",)])
            return self.op("**", self.power(), Bin("/", Num("1"), Num(str(n))))
        if self.role("remainder"):
            a = self.power()
            self.accept([("is",)])
            if not self.accept(self.lex.operators["/"]):
                self.expect("by")
            return self.op("%", a, self.power())
        if self.role("average"):
            items = self.operands()
            return self.op("/", Bin("+", *items[:2]) if len(items) == 2 else
                           self.chain("+", items), Num(str(len(items))))
        if self.role("sum"):
            return self.chain("+", self.operands())
        if self.role("product"):
            return self.chain("*", self.operands())
        if self.role("difference"):
            a = self.power()
            self.expect("and")
            b = self.power()
            return self.op("-", *_larger_first(a, b))
        if self.role("add"):
            a = self.power()
            self.expect("and", "to", "plus")
            return self.op("+", a, self.power())
        if self.role("subtract"):
            a = self.power()
            self.accept([("away",)])
            self.expect("from")
            return self.op("-", self.power(), a)
        if self.role("multiply"):
            a = self.power()
            self.expect("by", "and", "with", "times")
            return self.op("*", a, self.power())
        if self.role("divide"):
            a = self.power()
            if self.accept([("into",)]):
                return self.op("/", self.power(), a)
            self.expect("by")
            return self.op("/", a, self.power())
        if self.role("negative"):
            inner = self.power()
            if isinstance(inner, Num):
                return Num(inner.text[1:] if inner.text.startswith("-") else "-" + inner.text)
            return self.op("-", Num("0"), inner)
        return self.atom()

    def atom(self) -> Num | Bin:
        if self.accept([("(",)]):
            node = self.expression()
            self.expect(")")
            return node
        fraction = self.fraction_word()
        if fraction is not None:
            return fraction
        node = _number(self.quantity())
        if self.role("percent"):
            node = self.op("/", node, Num("100"))
            if self.accept([("of",)]):
                return self.op("*", node, self.power())
            self.bare_percent = node
        return node


def _larger_first(a: Num | Bin, b: Num | Bin) -> tuple[Num | Bin, Num | Bin]:
    """"The difference between a and b" is the larger minus the smaller."""
    try:
        swap = float(calculate(to_text(a))) < float(calculate(to_text(b)))
    except (CalculatorError, ValueError):
        raise _Unread("an operand the calculator refuses") from None
    return (b, a) if swap else (a, b)


# --------------------------------------------------------------------------------------------
# Conversions: "<value> <unit> to <unit>" and the other orders people use


def _units_at(parser: _Parser) -> Iterator[tuple[int, str]]:
    """Every unit starting at the parser's position: (tokens it spans, canonical name)."""
    for span in (3, 2, 1):
        words = parser.toks[parser.pos:parser.pos + span]
        if len(words) < span:
            continue
        try:
            yield span, find_unit(" ".join(words)).name
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


def _match(parser: _Parser, pattern: Sequence[str], found: dict) -> Iterator[dict]:
    """Every way ``pattern`` matches the rest of the tokens (backtracking over unit spans)."""
    if not pattern:
        if parser.pos == len(parser.toks):
            yield dict(found)
        return
    head, rest, start = pattern[0], pattern[1:], parser.pos
    if head in ("Q", "Q?"):
        try:
            value = parser.quantity()
        except _Unread:
            if head == "Q?":  # "how many cups in a quart": one of the unit
                parser.accept([("a",), ("an",)])
                yield from _match(parser, rest, {**found, "Q": Decimal(1)})
            parser.pos = start
            return
        yield from _match(parser, rest, {**found, "Q": value})
    elif head in ("U1", "U2"):
        for span, name in list(_units_at(parser)):
            parser.pos = start + span
            yield from _match(parser, rest, {**found, head: name})
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
        parser = _Parser(tokens, lexicon)
        for found in _match(parser, pattern, {}):
            source, target = find_unit(found["U1"]), find_unit(found["U2"])
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
    parser = _Parser(tokens, lexicon)
    try:
        node = parser.expression()
    except _Unread:
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

