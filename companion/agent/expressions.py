"""The expression grammar of the notation reader: numbers and operators, in symbols or in words
(chapter 7).

:class:`ExpressionParser` is a recursive-descent parser, one method per rule::

    expression -> term (("+" | "-") term)*
    term       -> power (("*" | "/" | "//" | "%") power)*
    power      -> unary ("**" power)?  |  unary "squared" | "cubed" | "factorial" ...
    unary      -> "square root of" power | "the sum of" operands | ... | atom
    atom       -> number ["%" ["of" power]] | "(" expression ")" | fraction

Every symbol may also be written in the words of the lexicon (:mod:`companion.agent.lexicon`):
"plus", "times", "divided by", "to the power of". Precedence is the nesting: a term is complete
before a sum goes on, so "3 plus 4 times 5" is 3 + (4 * 5); ``power`` calls itself on its right,
so ``2^3^2`` is 2^(3^2). The result is a tree of :class:`Num` and :class:`Bin`, printed for the
calculator by :func:`to_text` with the fewest parentheses. A method that cannot read what comes
next raises :class:`Unread`; the reader then leaves the question to the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from companion.agent.lexicon import Lexicon
from companion.agent.tools import MAX_DEPTH, CalculatorError, calculate


@dataclass(frozen=True)
class Num:
    """A number as the calculator reads it (``"5000"``, ``"0.5"``, ``"-3"``)."""

    text: str


@dataclass(frozen=True)
class Bin:
    """``left op right`` for one of ``+ - * / // % **``."""

    op: str
    left: Num | Bin
    right: Num | Bin


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2, "**": 3}
#: the largest n whose n! the calculator can hold (17! < 1e15 < 18!)
MAX_FACTORIAL = 17
#: the orders of "A is what percent of B" (A and B are operands, the rest roles or words)
_SHARES = (("A", "is", "what_percent", "of", "B"), ("what_percent", "of", "B", "is", "A"),
           ("what_percent", "is", "A", "of", "B"), ("A", "as_percent", "B"),
           ("A", "out_of", "B", "as_a_percent"))


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


class Unread(Exception):
    """The question is not notation (raised inside the parser, never out of this module)."""


class ExpressionParser:
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
            raise Unread(f"expected {words} at {self.peek()!r}")

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
            raise Unread(f"expected a number at {t!r}")
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
            if self.role("more_than"):  # "5 more than 20", "15% more than 80"
                right = self.term()
                node = self.op("+", right, self.of_base(right, node))
            elif self.role("less_than"):  # "5 less than 20", "20% off 50"
                right = self.term()
                node = self.op("-", right, self.of_base(right, node))
            elif self.accept(self.lex.operators["+"]):
                node = self.op("+", node, self.of_base(node, self.term()))
            elif self.accept(self.lex.operators["-"]):
                node = self.op("-", node, self.of_base(node, self.term()))
            else:
                return node

    def of_base(self, base: Num | Bin, term: Num | Bin) -> Num | Bin:
        """A bare percentage added or taken away is a share of what it changes: "80 plus 15%"
        is ``80 + 15 / 100 * 80``, "20% off 50" is ``50 - 20 / 100 * 50``."""
        if term is self.bare_percent:
            return self.op("*", term, base)
        return term

    def term(self) -> Num | Bin:
        node = self.power()
        while True:
            for kind in ("*", "//", "/", "%"):
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
            elif self.role("factorial"):
                node = self.factorial(node)
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

    def factorial(self, node: Num | Bin) -> Num | Bin:
        """n! written out as n * (n - 1) * ... * 1 (the calculator has no factorial)."""
        if not isinstance(node, Num) or not node.text.isdigit() or int(node.text) > MAX_FACTORIAL:
            raise Unread(f"no factorial of {node}")
        self.operations += 1
        n = int(node.text)
        return self.chain("*", [Num(str(k)) for k in range(n, 0, -1)]) if n > 1 else Num("1")

    def share(self) -> Num | Bin | None:
        """"15 is what percent of 60" in any of its orders, as ``15 / 60 * 100``, when that is
        the whole question; None otherwise (the position is left where it was)."""
        start = self.pos
        for order in _SHARES:
            self.pos, found = start, {}
            try:
                for part in order:
                    if part in ("A", "B"):
                        found[part] = self.power()
                    elif not (self.role(part) if part in self.lex.phrases else
                              self.accept([(part,)])):
                        raise Unread(f"expected {part}")
            except Unread:
                continue
            if self.pos == len(self.toks):
                return self.op("*", self.op("/", found["A"], found["B"]), Num("100"))
        self.pos = start
        return None

    def operands(self) -> list[Num | Bin]:
        """"4, 8 and 15", "4 and 8", "4, 8, 15": two or more operands."""
        items = [self.power()]
        while True:
            if self.accept([(",", "and"), ("and",), (",",)]):
                items.append(self.power())
            else:
                break
        if len(items) < 2:
            raise Unread("expected two or more operands")
        return items

    def chain(self, kind: str, items: list[Num | Bin]) -> Num | Bin:
        node = items[0]
        for item in items[1:]:
            node = self.op(kind, node, item)
        return node

    def root(self, n: int) -> Bin:
        """The n-th root of what follows, as ``x ** (1 / n)`` (the calculator has no roots)."""
        return self.op("**", self.power(), Bin("/", Num("1"), Num(str(n))))

    def unary(self) -> Num | Bin:
        """Every nesting (a parenthesis, a root, a sign) passes through here, so the depth of the
        tree is bounded here, as the calculator bounds it (``MAX_DEPTH``)."""
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise Unread("nested too deeply")
            return self.prefixed()
        finally:
            self.depth -= 1

    def prefixed(self) -> Num | Bin:
        if self.role("square_root"):
            return self.op("**", self.power(), Num("0.5"))
        if self.role("cube_root"):
            return self.root(3)
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
            return self.root(n)
        if self.role("factorial_of"):
            return self.factorial(self.power())
        for role, kind in (("increase", "+"), ("decrease", "-")):  # "increase 80 by 15%"
            if self.role(role):
                base = self.power()
                self.expect("by")
                return self.op(kind, base, self.of_base(base, self.power()))
        if self.role("remainder"):
            a = self.power()
            self.accept([("is",)])
            if not self.accept(self.lex.operators["/"]):
                self.expect("by")
            return self.op("%", a, self.power())
        if self.role("average"):
            items = self.operands()
            return self.op("/", self.chain("+", items), Num(str(len(items))))
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
        raise Unread("an operand the calculator refuses") from None
    return (b, a) if swap else (a, b)
