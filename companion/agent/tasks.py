"""The tool-use data set: seeded, template-based tasks with real tool traces (chapters 5 and 7).

Chapter 5 fine-tunes SmolLM2-135M-Instruct on these traces and chapter 7 evaluates the agent on
the held-out ones. Every record is a whole conversation in the :mod:`companion.toolcall` format:
the system prompt listing the default tools, the user's task, the gold tool calls, the
observations that *running our tools* returned, and the final answer. Nothing is typed by hand
after a tool call: observations and answers are computed, so the data cannot disagree with the
tools the agent will use.

A task comes from a *family* (one meaning: "a plus b", "p% of a", "the year of X", "convert, then
divide"...) and one of its *phrasings*. What the data set must teach a small model is the mapping
from words to calls, so the families cover wide phrasing, chained operations, quantities implied by
words ("a dozen", "twice", "half of", "a week" = 7 days) and near-twins that differ in one word
("more" / "less", "increase" / "decrease", "add to" / "subtract from", "squared" / "cubed").

The splits are disjoint in two ways, so the test split measures generalisation, not recall:

- by phrasing: in every family the last phrasing is used only in test and the one before it only
  in validation (unseen wordings of known meanings);
- by entity: numbers of two or more digits, people's names, objects, unit pairs and
  knowledge-base passages are each assigned to one split by a hash of their text
  (:func:`split_of`); single digits are shared, since "3" cannot be held out.

A second round of train phrasings (:data:`~companion.agent.extra_phrasings.EXTRA_PHRASINGS`,
written by someone shown only the train phrasings, then filtered) words the tasks of a fourth
file, ``train_extra.jsonl``: more train data for chapter 7's second training stage, made without
changing the three files chapter 5 trained on.

Conventions the model learns: expressions list operands in the order the task states them, with
word quantities replaced by numbers ("twice 41" -> ``2 * 41``); percentages are written with
``/ 100`` (``15 / 100 * 80``, ``a * (1 + p / 100)``); unit arguments use the converter's canonical
names (``mile``, ``kilometer``); search queries are ``"<subject> <relation>"`` (``"LoRA year"``).

Run ``python -m companion.agent.tasks`` to regenerate ``data/tooluse/*.jsonl`` (byte-identical for
the same seed on the same software).
"""

from __future__ import annotations

import argparse
import json
import random
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from companion.agent.extra_phrasings import EXTRA_PHRASINGS
from companion.agent.loop import Memory
from companion.agent.retrieval import Passage, load_knowledge_base
from companion.agent.tools import (
    UNITS,
    SearchIndex,
    Tool,
    calculate,
    convert_units,
    default_tools,
    find_unit,
    format_number,
)
from companion.paths import TOOLUSE_DATA
from companion.toolcall import ToolCall, conversation, system_prompt

SPLITS: tuple[str, ...] = ("train", "validation", "test")
EXTRA_SPLIT = "train_extra"  # more train tasks, worded with the second-round phrasings only
FILES: tuple[str, ...] = (*SPLITS, EXTRA_SPLIT)  # every file of the data set, ``<name>.jsonl``
DATA_DIR = TOOLUSE_DATA
QUERY_WORDS: dict[str, str] = {
    "year": "year",
    "organisation": "organisation",
    "author": "author",
    "parameters": "parameters",
}


def split_of(key: str) -> str:
    """The split of an entity: with u = crc32(key) / 2**32, train if u < 0.7, validation < 0.85."""
    u = zlib.crc32(key.encode("utf-8")) / 2**32
    return "train" if u < 0.7 else "validation" if u < 0.85 else "test"


def number_split(text: str) -> str | None:
    """Split of a numeral (``None``: a single digit, shared by all splits)."""
    digits = text.lstrip("-").replace(".", "")
    if not digits.isdigit():
        raise ValueError(f"expected a numeral like 42 or 2.5, got {text!r}")
    return None if len(digits) == 1 else split_of(f"num:{text}")


NAMES: tuple[str, ...] = (
    "Maria", "James", "Aisha", "Chen", "Sofia", "Liam", "Priya", "Noah", "Fatima", "Lucas",
    "Yuki", "Omar", "Elena", "Mateo", "Amara", "Ivan", "Zoe", "Kofi", "Hana", "Diego",
    "Leila", "Arjun", "Nina", "Tariq", "Grace", "Pablo", "Mei", "Samuel", "Ingrid", "Ravi",
    "Chloe", "Emeka", "Sara", "Hugo", "Anya", "Felix", "Rosa", "Kenji", "Lina", "Marcus",
    "Olga", "Tomas", "Nadia", "Ben", "Layla", "Jonas", "Keiko", "Ahmed", "Clara", "Raj",
    "Eva", "Malik", "Ines", "Oscar", "Sana", "Victor", "Lucia", "Dmitri", "Ada", "Kwame",
    "Mira", "Paolo", "Freya", "Hassan", "Julia", "Andrei", "Tara", "Bruno", "Nora", "Emil",
)
ITEMS: tuple[str, ...] = (
    "apples", "pencils", "stickers", "marbles", "books", "cookies", "cards", "stamps", "coins",
    "shells", "tickets", "oranges", "candles", "buttons", "balloons", "crayons", "eggs",
    "lemons", "bottles", "plates", "cups", "tiles", "bricks", "seeds", "beads", "pebbles",
    "notebooks", "erasers", "muffins", "bagels", "peaches", "pears", "plums", "spoons", "forks",
    "napkins", "flowers", "roses", "tulips", "ribbons", "magnets", "puzzles", "comics",
    "postcards", "envelopes", "batteries", "bolts", "screws", "nails", "cans", "jars", "boxes",
    "brushes", "chairs", "towels", "socks", "gloves", "hats", "kites", "candies", "nuts",
)
_UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "meter": ("meters", "m"),
    "kilometer": ("kilometers", "km"),
    "centimeter": ("centimeters", "cm"),
    "millimeter": ("millimeters", "mm"),
    "mile": ("miles",),
    "yard": ("yards",),
    "foot": ("feet",),
    "inch": ("inches",),
    "kilogram": ("kilograms", "kg"),
    "gram": ("grams", "g"),
    "milligram": ("milligrams", "mg"),
    "tonne": ("tonnes",),
    "pound": ("pounds", "lb"),
    "ounce": ("ounces", "oz"),
    "kelvin": ("kelvin",),
    "celsius": ("degrees Celsius",),
    "fahrenheit": ("degrees Fahrenheit",),
    "second": ("seconds",),
    "minute": ("minutes",),
    "hour": ("hours",),
    "day": ("days",),
    "week": ("weeks",),
    "liter": ("liters",),
    "milliliter": ("milliliters", "ml"),
    "gallon": ("gallons",),
    "quart": ("quarts",),
    "pint": ("pints",),
    "cup": ("cups",),
}
_VALUE_RANGE: dict[str, tuple[int, int]] = {
    "length": (1, 900),
    "mass": (1, 900),
    "temperature": (-40, 400),
    "time": (1, 900),
    "volume": (1, 300),
}


class Draw:
    """Random slot values restricted to one split's entities (rejection sampling, seeded)."""

    def __init__(self, rng: random.Random, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        self.rng, self.split = rng, split
        self.entities: list[str] = []
        self.names = [n for n in NAMES if split_of(f"name:{n}") == split]
        self.items = [i for i in ITEMS if split_of(f"item:{i}") == split]
        self.unit_pairs = [
            (a.name, b.name)
            for a in UNITS
            for b in UNITS
            if a is not b
            and a.quantity == b.quantity
            and split_of(f"units:{a.name}>{b.name}") == split
        ]

    def keep(self, text: str) -> bool:
        """Whether a numeral may appear in this split (multi-digit ones are recorded)."""
        owner = number_split(text)
        if owner is None:
            return True
        if owner == self.split:
            self.entities.append(f"num:{text}")
        return owner == self.split

    def int(self, lo: int, hi: int) -> str:
        """A whole number in ``[lo, hi]`` that belongs to this split."""
        for _ in range(10_000):
            text = str(self.rng.randint(lo, hi))
            if self.keep(text):
                return text
        raise ValueError(f"no number in [{lo}, {hi}] belongs to split {self.split!r}")

    def dec(self, lo: int, hi: int) -> str:
        """A number with one non-zero decimal in ``(lo, hi)`` that belongs to this split."""
        if hi - lo < 1:
            raise ValueError(f"need lo < hi for a decimal in (lo, hi), got ({lo}, {hi})")
        for _ in range(10_000):
            tenths = self.rng.randint(lo * 10 + 1, hi * 10 - 1)
            if tenths % 10 == 0:
                continue
            text = format_number(tenths / 10)
            if self.keep(text):
                return text
        raise ValueError(f"no decimal in ({lo}, {hi}) belongs to split {self.split!r}")

    def num(self, lo: int, hi: int, decimal: float = 0.15) -> str:
        """Usually a whole number, sometimes (probability ``decimal``) one with a decimal."""
        return self.dec(lo, hi) if self.rng.random() < decimal else self.int(lo, hi)

    def name(self, avoid: str = "") -> str:
        name = self.rng.choice([n for n in self.names if n != avoid])
        self.entities.append(f"name:{name}")
        return name

    def item(self) -> str:
        item = self.rng.choice(self.items)
        self.entities.append(f"item:{item}")
        return item

    def units(self, quantities: tuple[str, ...] = ()) -> tuple[str, str]:
        pairs = [
            p for p in self.unit_pairs if not quantities or find_unit(p[0]).quantity in quantities
        ]
        source, target = self.rng.choice(pairs)
        self.entities.append(f"units:{source}>{target}")
        return source, target

    def unit_word(self, unit: str) -> str:
        return self.rng.choice(_UNIT_WORDS[unit])


Run = Callable[[str, dict[str, Any]], str]


@dataclass(frozen=True)
class Family:
    """One meaning with several phrasings: ``sample`` draws slots, ``solve`` makes the calls.

    ``solve`` receives the slots plus ``"phrasing"`` (the template used) and a ``run(name,
    arguments)`` function that executes a tool call and returns its observation.
    """

    name: str
    phrasings: tuple[str, ...]
    sample: Callable[[Draw], dict[str, Any]]
    solve: Callable[[dict[str, Any], Run], str]
    weight: float = 1.0
    extra: tuple[str, ...] = ()  # second-round train phrasings (``EXTRA_PHRASINGS``)

    @property
    def templates(self) -> tuple[str, ...]:
        """Every phrasing, the extra ones last: a record's ``template`` indexes this tuple."""
        return self.phrasings + self.extra

    def phrasing_split(self, index: int) -> str:
        """Last phrasing: test; the one before: validation; the rest and the extra ones: train."""
        last = len(self.phrasings) - 1
        return "test" if index == last else "validation" if index == last - 1 else "train"


def _number(text: str) -> int | float:
    """A number written by a tool or a slot, as a call argument: ``"12"`` -> 12, ``"2.5"``
    -> 2.5."""
    return float(text) if any(c in text for c in ".eE") else int(text)


def _converted(observation: str) -> str:
    """The result side of a ``convert_units`` observation: ``"11 t = 11000000 g"`` ->
    ``"11000000 g"``."""
    return observation.split(" = ")[1]


def _n_first(phrasing: str) -> bool:
    """Whether a ``repeat_then_convert`` phrasing states the count before the amount."""
    return phrasing.index("{n}") < phrasing.index("{each}")


def _calc(template: str) -> Callable[[dict[str, Any], Run], str]:
    """A one-call family: the calculator on ``template`` filled with the slots."""
    return lambda s, run: run("calculator", {"expression": template.format(**s)})


def _ab(lo: int = 10, hi: int = 999, decimal: float = 0.15, ordered: bool = False):
    def sample(d: Draw) -> dict[str, Any]:
        a, b = d.num(lo, hi, decimal), d.num(lo, hi, decimal)
        if ordered and float(a) < float(b):
            a, b = b, a
        return {"a": a, "b": b}

    return sample


def _abc(lo: int = 2, hi: int = 99):
    return lambda d: {"a": d.int(lo, hi), "b": d.int(lo, hi), "c": d.int(2, 30)}


def _with_people(sample):
    def wrapped(d: Draw) -> dict[str, Any]:
        slots = sample(d)
        slots["name"] = d.name()
        slots["name2"] = d.name(avoid=slots["name"])
        slots["items"] = d.item()
        return slots

    return wrapped


def _multiple(d: Draw) -> dict[str, Any]:
    """``a`` a multiple of ``b``, so that sharing things equally gives whole things."""
    while True:
        b = d.int(2, 12)
        a = str(int(b) * d.rng.randint(2, 80))
        if d.keep(a):
            return {"a": a, "b": b}


def _calculator_families() -> list[Family]:
    pairs = _ab()
    ordered = _ab(ordered=True)
    small = _ab(2, 99, decimal=0.1)
    return [
        Family("add", (
            "What is {a} plus {b}?",
            "Add {a} and {b}.",
            "Compute {a} + {b}.",
            "What do you get when you add {a} and {b}?",
            "What is the sum of {a} and {b}?",
            "Calculate the total of {a} and {b}.",
            "How much are {a} and {b} together?",
        ), pairs, _calc("{a} + {b}")),
        Family("add_to", (
            "Add {b} to {a}.",
            "What is {a} with {b} added to it?",
            "Increase {a} by {b}.",
            "Start from {a} and add {b}.",
            "If you add {b} to {a}, what do you get?",
            "Put {b} on top of {a}: what is the result?",
            "What is {a} after adding {b} to it?",
        ), pairs, _calc("{a} + {b}")),
        Family("subtract_from", (
            "Subtract {b} from {a}.",
            "What is {a} minus {b}?",
            "Take {b} away from {a}.",
            "Decrease {a} by {b}.",
            "If you subtract {b} from {a}, what do you get?",
            "Compute {a} - {b}.",
            "What remains when {b} is taken from {a}?",
            "What is {a} after subtracting {b} from it?",
        ), ordered, _calc("{a} - {b}")),
        Family("difference", (
            "What is the difference between {a} and {b}?",
            "How much bigger is {a} than {b}?",
            "By how much does {a} exceed {b}?",
            "How much more is {a} than {b}?",
            "How much larger is {a} than {b}?",
            "How much greater is {a} than {b}?",
        ), ordered, _calc("{a} - {b}")),
        Family("more_than", (
            "What is {b} more than {a}?",
            "What number is {b} more than {a}?",
            "Find the number that is {b} more than {a}.",
            "Which number is {b} greater than {a}?",
            "Give me the number that is {b} more than {a}.",
            "Name the number {b} more than {a}.",
        ), pairs, _calc("{a} + {b}")),
        Family("less_than", (
            "What is {b} less than {a}?",
            "What number is {b} less than {a}?",
            "Find the number that is {b} less than {a}.",
            "Which number is {b} smaller than {a}?",
            "Give me the number that is {b} less than {a}.",
            "Name the number {b} less than {a}.",
        ), ordered, _calc("{a} - {b}")),
        Family("multiply", (
            "What is {a} times {b}?",
            "Multiply {a} by {b}.",
            "Compute {a} * {b}.",
            "What is the product of {a} and {b}?",
            "What do you get when you multiply {a} and {b}?",
            "Calculate {a} multiplied by {b}.",
            "How much is {a} times {b}?",
        ), small, _calc("{a} * {b}")),
        Family("divide", (
            "What is {a} divided by {b}?",
            "Divide {a} by {b}.",
            "Compute {a} / {b}.",
            "What is the quotient of {a} and {b}?",
            "How much is {a} over {b}?",
            "Calculate {a} divided by {b}.",
            "What do you get if you divide {a} by {b}?",
        ), lambda d: {"a": d.num(10, 9999), "b": d.int(2, 99)}, _calc("{a} / {b}")),
        Family("remainder", (
            "What is the remainder when {a} is divided by {b}?",
            "What is {a} mod {b}?",
            "Compute {a} modulo {b}.",
            "What is left over when {a} is divided by {b}?",
            "Find {a} mod {b}.",
            "What remainder does {a} leave when divided by {b}?",
        ), lambda d: {"a": d.int(10, 999), "b": d.int(2, 40)}, _calc("{a} % {b}")),
        Family("power", (
            "What is {a} to the power of {k}?",
            "Raise {a} to the power {k}.",
            "Compute {a} ** {k}.",
            "What is {a} raised to the power of {k}?",
            "Calculate {a} to the power {k}.",
            "What does {a} to the power of {k} equal?",
        ), lambda d: {"a": d.int(2, 30), "k": str(d.rng.randint(2, 6))}, _calc("{a} ** {k}")),
        Family("square", (
            "What is the square of {a}?",
            "What is {a} squared?",
            "Square {a}.",
            "Compute {a} squared.",
            "Find the square of {a}.",
            "How much is {a} squared?",
        ), lambda d: {"a": d.num(2, 999, 0.1)}, _calc("{a} ** 2")),
        Family("cube", (
            "What is the cube of {a}?",
            "What is {a} cubed?",
            "Cube {a}.",
            "Compute {a} cubed.",
            "Find the cube of {a}.",
            "How much is {a} cubed?",
        ), lambda d: {"a": d.num(2, 999, 0.1)}, _calc("{a} ** 3")),
        Family("percent_of", (
            "What is {p}% of {a}?",
            "Calculate {p}% of {a}.",
            "How much is {p} percent of {a}?",
            "Find {p}% of {a}.",
            "What is {p} percent of {a}?",
            "Work out {p}% of {a}.",
            "Compute {p} percent of {a}.",
        ), lambda d: {"p": d.int(2, 99), "a": d.num(10, 5000)}, _calc("{p} / 100 * {a}")),
        Family("percent_increase", (
            "Increase {a} by {p}%.",
            "What is {a} increased by {p}%?",
            "What is {a} plus {p}%?",
            "A price of {a} dollars goes up by {p}%. What is the new price?",
            "{name}'s rent of {a} dollars rises by {p}%. What is the new rent?",
            "If {a} grows by {p}%, what is the result?",
            "What do you get when {a} is raised by {p} percent?",
        ), _with_people(lambda d: {"p": d.int(2, 60), "a": d.num(10, 5000)}),
            _calc("{a} * (1 + {p} / 100)")),
        Family("percent_decrease", (
            "Decrease {a} by {p}%.",
            "What is {a} decreased by {p}%?",
            "What is {a} minus {p}%?",
            "A price of {a} dollars drops by {p}%. What is the new price?",
            "A coat costs {a} dollars and is {p}% off. What is the sale price?",
            "If {a} shrinks by {p}%, what is the result?",
            "What do you get when {a} is reduced by {p} percent?",
        ), lambda d: {"p": d.int(2, 90), "a": d.num(10, 5000)}, _calc("{a} * (1 - {p} / 100)")),
        Family("what_percent", (
            "What percent of {b} is {a}?",
            "{a} is what percent of {b}?",
            "Express {a} as a percentage of {b}.",
            "What percentage of {b} is {a}?",
            "{a} out of {b} is what percent?",
            "What share of {b}, in percent, is {a}?",
        ), lambda d: dict(zip("ab", sorted((d.int(10, 999), d.int(10, 999)), key=float),
                              strict=True)),
            _calc("{a} / {b} * 100")),
        # word problems
        Family("gain", (
            "{name} has {a} {items} and buys {b} more. How many {items} does {name} have now?",
            "{name} had {a} {items} and found {b} more. How many {items} are there now?",
            "There are {a} {items} in one box and {b} in another. How many {items} in total?",
            "{name} collected {a} {items} on Monday and {b} on Tuesday. How many altogether?",
            "{name} owns {a} {items}; {name2} gives {name} {b} more. How many does {name} own now?",
            "A shop had {a} {items} and received a delivery of {b}. How many does it have?",
            "{name} starts with {a} {items} and gets {b} extra. What is the new total?",
        ), _with_people(_ab(10, 500, 0.0)), _calc("{a} + {b}")),
        Family("loss", (
            "{name} had {a} {items} and gave {b} away. How many {items} are left?",
            "{name} had {a} {items} and lost {b}. How many {items} remain?",
            "There were {a} {items}; {b} were sold. How many are left?",
            "{name} owns {a} {items} and gives {name2} {b} of them. How many does {name} keep?",
            "A shop had {a} {items} and sold {b}. How many does it have now?",
            "{name} starts with {a} {items} and uses up {b}. How many are left over?",
            "Out of {a} {items}, {b} broke. How many are still fine?",
        ), _with_people(_ab(10, 500, 0.0, ordered=True)), _calc("{a} - {b}")),
        Family("groups", (
            "{name} buys {a} packs of {items} with {b} in each pack. How many {items} is that?",
            "There are {a} rows with {b} {items} in each row. How many {items} are there?",
            "Each of {a} boxes holds {b} {items}. How many {items} in all?",
            "{name} earns {a} dollars an hour and works {b} hours. How much does {name} earn?",
            "A ticket costs {a} dollars. How much do {b} tickets cost?",
            "{name} packs {a} {items} into each of {b} bags. How many {items} are packed?",
            "If one crate has {a} {items}, how many {items} do {b} crates have?",
        ), _with_people(_ab(2, 99, decimal=0.0)), _calc("{a} * {b}")),
        Family("share", (
            "{name} shares {a} {items} equally among {b} friends. How many does each get?",
            "Split {a} {items} evenly into {b} bags. How many {items} go in each bag?",
            "{a} {items} are divided equally between {b} children. How many per child?",
            "A bill of {a} dollars is split evenly by {b} people. How much does each pay?",
            "{name} puts {a} {items} into {b} equal piles. How many are in each pile?",
            "If {b} people share {a} {items} equally, how many does each person get?",
            "Divide {a} {items} fairly among {b} people. What is each share?",
        ), _with_people(_multiple), _calc("{a} / {b}")),
        # quantities implied by words
        Family("dozen", (
            "How many eggs are in {n} dozen?",
            "{name} bought {n} dozen {items}. How many {items} is that?",
            "How many {items} are in {n} dozen?",
            "A baker makes {n} dozen muffins. How many muffins is that?",
            "What is {n} dozen as a number?",
            "{name} orders {n} dozen {items}. How many {items} arrive?",
            "Count the {items} in {n} dozen.",
        ), _with_people(lambda d: {"n": d.int(2, 60)}), _calc("{n} * 12")),
        Family("dozen_plus", (
            "{name} buys a dozen {items} and {b} more. How many {items} is that?",
            "What is a dozen plus {b}?",
            "A box holds a dozen {items}, and {b} more are added. How many now?",
            "{name} has a dozen {items} and finds {b} more. How many in total?",
            "Add {b} to a dozen.",
            "How many is a dozen and {b} more?",
        ), _with_people(lambda d: {"b": d.int(2, 99)}), _calc("12 + {b}")),
        Family("twice", (
            "What is twice {a}?",
            "What is double {a}?",
            "{name} has {a} {items} and {name2} has twice as many. How many does {name2} have?",
            "Double {a}.",
            "A price of {a} dollars doubles. What is the new price?",
            "How much is twice {a}?",
            "If you double {a}, what do you get?",
        ), _with_people(lambda d: {"a": d.num(2, 999)}), _calc("2 * {a}")),
        Family("triple", (
            "What is triple {a}?",
            "What is three times {a}?",
            "Triple {a}.",
            "{name} has {a} {items}; {name2} has three times as many. How many has {name2}?",
            "If you triple {a}, what do you get?",
            "How much is {a} tripled?",
        ), _with_people(lambda d: {"a": d.num(2, 999)}), _calc("3 * {a}")),
        Family("half", (
            "What is half of {a}?",
            "Halve {a}.",
            "{name} spends half of {a} dollars. How much is spent?",
            "What is {a} cut in half?",
            "{name} gives half of {a} {items} to {name2}. How many does {name2} get?",
            "How much is one half of {a}?",
            "If you split {a} in half, how much is each half?",
        ), _with_people(lambda d: {"a": d.num(2, 9999)}), _calc("{a} / 2")),
        Family("quarter", (
            "What is a quarter of {a}?",
            "What is one fourth of {a}?",
            "{name} eats a quarter of {a} {items}. How many is that?",
            "Find a quarter of {a}.",
            "How much is one quarter of {a}?",
            "If {a} is cut into quarters, how big is one quarter?",
        ), _with_people(lambda d: {"a": d.num(4, 9999)}), _calc("{a} / 4")),
        Family("pairs", (
            "How many socks are in {n} pairs?",
            "{name} has {n} pairs of gloves. How many gloves is that?",
            "How many shoes make {n} pairs?",
            "A shop sells {n} pairs of earrings. How many earrings is that?",
            "Count the single socks in {n} pairs.",
            "How many individual shoes are in {n} pairs?",
        ), _with_people(lambda d: {"n": d.int(2, 500)}), _calc("{n} * 2")),
        Family("per_week", (
            "{name} saves {a} dollars a day. How much does {name} save in a week?",
            "{name} reads {a} pages every day. How many pages is that in a week?",
            "A shop sells {a} {items} per day. How many {items} does it sell in a week?",
            "{name} walks {a} minutes a day. How many minutes is that per week?",
            "If {name} spends {a} dollars each day, how much is spent in one week?",
            "A tap wastes {a} liters a day. How much does it waste in a week?",
            "{name} practises {a} minutes daily. How many minutes in a week?",
        ), _with_people(lambda d: {"a": d.num(2, 500)}), _calc("{a} * 7")),
        Family("per_weeks", (
            "{name} saves {a} dollars a day. How much does {name} save in {n} weeks?",
            "{name} reads {a} pages every day. How many pages in {n} weeks?",
            "A shop sells {a} {items} per day. How many {items} does it sell in {n} weeks?",
            "{name} runs {a} laps a day for {n} weeks. How many laps is that?",
            "If {name} earns {a} dollars a day, how much is that over {n} weeks?",
            "{name} drinks {a} cups of tea a day. How many cups in {n} weeks?",
        ), _with_people(lambda d: {"a": d.int(2, 200), "n": d.int(2, 20)}), _calc("{a} * 7 * {n}")),
        # chained operations
        Family("sum_times", (
            "What is {a} plus {b}, times {c}?",
            "Add {a} and {b}, then multiply by {c}.",
            "Take the sum of {a} and {b} and multiply it by {c}.",
            "Multiply the sum of {a} and {b} by {c}.",
            "First add {a} and {b}, then multiply the result by {c}.",
            "What is the sum of {a} and {b} multiplied by {c}?",
        ), _abc(), _calc("({a} + {b}) * {c}")),
        Family("difference_over", (
            "Subtract {b} from {a}, then divide by {c}.",
            "What is {a} minus {b}, divided by {c}?",
            "Take {b} away from {a} and divide the result by {c}.",
            "Divide the difference of {a} and {b} by {c}.",
            "First subtract {b} from {a}, then divide by {c}.",
            "What is the difference between {a} and {b}, divided by {c}?",
        ), lambda d: {**_ab(10, 999, 0.0, ordered=True)(d), "c": d.int(2, 30)},
            _calc("({a} - {b}) / {c}")),
        Family("times_plus", (
            "Multiply {a} by {b}, then add {c}.",
            "What is {a} times {b}, plus {c}?",
            "Take the product of {a} and {b} and add {c}.",
            "Add {c} to the product of {a} and {b}.",
            "First multiply {a} by {b}, then add {c} to the result.",
            "What is {a} times {b} with {c} added?",
        ), _abc(), _calc("{a} * {b} + {c}")),
        Family("times_minus", (
            "Multiply {a} by {b}, then subtract {c}.",
            "What is {a} times {b}, minus {c}?",
            "Take the product of {a} and {b} and subtract {c}.",
            "Subtract {c} from the product of {a} and {b}.",
            "First multiply {a} by {b}, then take away {c}.",
            "What is {a} times {b} with {c} taken away?",
        ), _abc(), _calc("{a} * {b} - {c}")),
        Family("sum_of_three", (
            "Add {a}, {b} and {c}.",
            "What is {a} plus {b} plus {c}?",
            "What is the sum of {a}, {b} and {c}?",
            "Compute the total of {a}, {b} and {c}.",
            "What do {a}, {b} and {c} add up to?",
            "How much are {a}, {b} and {c} together?",
        ), lambda d: {"a": d.int(10, 999), "b": d.int(10, 999), "c": d.int(10, 999)},
            _calc("{a} + {b} + {c}")),
        Family("average", (
            "What is the average of {a}, {b} and {c}?",
            "Find the mean of {a}, {b} and {c}.",
            "Compute the average of {a}, {b} and {c}.",
            "What is the mean of {a}, {b} and {c}?",
            "Average {a}, {b} and {c}.",
            "What is the arithmetic mean of {a}, {b} and {c}?",
        ), lambda d: {"a": d.int(10, 999), "b": d.int(10, 999), "c": d.int(10, 999)},
            _calc("({a} + {b} + {c}) / 3")),
        Family("change", (
            "{name} buys {n} {items} at {p} dollars each and pays {bill} dollars. Change?",
            "{n} {items} cost {p} dollars each. How much change from {bill} dollars?",
            "{name} pays {bill} dollars for {n} {items} at {p} dollars each. What is the change?",
            "With {bill} dollars, {name} buys {n} {items} at {p} dollars apiece. How much is left?",
            "What change is due from {bill} dollars for {n} {items} at {p} dollars each?",
            "{name} hands over {bill} dollars for {n} {items} priced at {p} dollars each. Change?",
        ), _with_people(lambda d: {"n": d.int(2, 9), "p": d.num(2, 20, 0.3),
                                   "bill": d.int(200, 500)}),
            _calc("{bill} - {n} * {p}")),
        Family("cost_plus_fee", (
            "{n} tickets cost {p} dollars each plus a {f} dollar fee. What is the total?",
            "{name} buys {n} {items} at {p} dollars each plus {f} dollars delivery. Total cost?",
            "What do {n} {items} at {p} dollars each cost with a {f} dollar fee?",
            "Each of {n} {items} costs {p} dollars and shipping is {f} dollars. What is the total?",
            "{name} orders {n} {items} at {p} dollars each, plus {f} dollars tax. How much in all?",
            "Find the total for {n} {items} at {p} dollars each with a {f} dollar service fee.",
        ), _with_people(lambda d: {"n": d.int(2, 40), "p": d.num(2, 99, 0.3),
                                   "f": d.int(2, 30)}),
            _calc("{n} * {p} + {f}")),
    ]


def _convert_families() -> list[Family]:
    def sample(d: Draw) -> dict[str, Any]:
        source, target = d.units()
        lo, hi = _VALUE_RANGE[find_unit(source).quantity]
        value = d.num(lo, hi, 0.2)
        return {"v": value, "source": source, "target": target,
                "from": d.unit_word(source), "to": d.unit_word(target)}

    def solve(s: dict[str, Any], run: Run) -> str:
        observation = run("convert_units", {"value": _number(s["v"]), "from_unit": s["source"],
                                            "to_unit": s["target"]})
        return _converted(observation)

    return [
        Family("convert", (
            "Convert {v} {from} to {to}.",
            "How many {to} is {v} {from}?",
            "What is {v} {from} in {to}?",
            "Express {v} {from} in {to}.",
            "{v} {from} equals how many {to}?",
            "Please convert {v} {from} into {to}.",
            "I have {v} {from}. How much is that in {to}?",
            "Change {v} {from} into {to}.",
            "How much is {v} {from} in {to}?",
        ), sample, solve, weight=10.0),
    ]


def _search_families(passages: list[Passage]) -> list[Family]:
    facts = [(p, rel) for p in passages if not p.adversarial for rel in p.facts]

    def sample_for(relation: str):
        def sample(d: Draw) -> dict[str, Any]:
            options = [p for p, rel in facts
                       if rel == relation and split_of(f"passage:{p.id}") == d.split]
            if not options:
                raise _Unanswerable(f"no {relation} facts in split {d.split}")
            passage = d.rng.choice(options)
            d.entities.append(f"passage:{passage.id}")
            return {"subject": passage.subject, "answer": passage.facts[relation],
                    "query": f"{passage.subject.removeprefix('the ')} {QUERY_WORDS[relation]}"}

        return sample

    def solve(s: dict[str, Any], run: Run) -> str:
        observation = run("search", {"query": s["query"]})
        if s["answer"] not in observation:
            raise _Unanswerable(s["query"])
        return s["answer"]

    return [
        Family("search_year", (
            "When did {subject} appear?",
            "In what year was {subject} introduced?",
            "What year is {subject} from?",
            "Look up the year of {subject}.",
            "Search the knowledge base: in which year did {subject} come out?",
            "Which year saw the arrival of {subject}?",
            "Find out when {subject} first appeared.",
        ), sample_for("year"), solve, weight=3.0),
        Family("search_organisation", (
            "Which organisation was behind {subject}?",
            "Which company or lab produced {subject}?",
            "What organisation is {subject} from?",
            "Look up the organisation behind {subject}.",
            "Who developed {subject}? Name the lab or company.",
            "Where was {subject} developed?",
            "Which institution created {subject}?",
        ), sample_for("organisation"), solve, weight=2.5),
        Family("search_author", (
            "Who introduced {subject}?",
            "Who is the first author behind {subject}?",
            "Which researcher proposed {subject}?",
            "Look up who created {subject}.",
            "Name the person credited with {subject}.",
            "Who came up with {subject}?",
            "Which person is behind {subject}?",
        ), sample_for("author"), solve, weight=2.5),
        Family("search_parameters", (
            "How many parameters does {subject} have?",
            "What is the parameter count of {subject}?",
            "How big is {subject} in parameters?",
            "Look up the number of parameters of {subject}.",
            "How many weights does {subject} have?",
            "What size, in parameters, is {subject}?",
            "Find the parameter count of {subject}.",
        ), sample_for("parameters"), solve, weight=1.5),
    ]


class _Unanswerable(ValueError):
    """Retrieval did not bring back the gold passage; the sample is drawn again."""


def _two_call_families(passages: list[Passage]) -> list[Family]:
    years = [p for p in passages if "year" in p.facts]

    def since_sample(d: Draw) -> dict[str, Any]:
        passage = d.rng.choice([p for p in years if split_of(f"passage:{p.id}") == d.split])
        d.entities.append(f"passage:{passage.id}")
        return {"subject": passage.subject, "year": passage.facts["year"],
                "query": f"{passage.subject.removeprefix('the ')} year", "ref": d.int(2026, 2099)}

    def since_solve(s: dict[str, Any], run: Run) -> str:
        observation = run("search", {"query": s["query"]})
        if s["year"] not in observation:
            raise _Unanswerable(s["query"])
        return run("calculator", {"expression": f"{s['ref']} - {s['year']}"})

    def between_sample(d: Draw) -> dict[str, Any]:
        pool = [p for p in years if split_of(f"passage:{p.id}") == d.split]
        first, second = sorted(d.rng.sample(pool, 2), key=lambda p: p.facts["year"])
        if first.facts["year"] == second.facts["year"]:
            raise _Unanswerable("same year")
        d.entities += [f"passage:{first.id}", f"passage:{second.id}"]
        return {"first": first.subject, "second": second.subject,
                "q1": f"{first.subject.removeprefix('the ')} year", "y1": first.facts["year"],
                "q2": f"{second.subject.removeprefix('the ')} year", "y2": second.facts["year"]}

    def between_solve(s: dict[str, Any], run: Run) -> str:
        for query, year in ((s["q1"], s["y1"]), (s["q2"], s["y2"])):
            if year not in run("search", {"query": query}):
                raise _Unanswerable(query)
        return run("calculator", {"expression": f"{s['y2']} - {s['y1']}"})

    def trip_sample(d: Draw) -> dict[str, Any]:
        source, target = d.units(("length", "mass", "volume"))
        return {"n": d.int(2, 30), "each": d.num(2, 99, 0.3), "source": source,
                "target": target, "from": d.unit_word(source), "to": d.unit_word(target),
                "name": d.name()}

    def trip_solve(s: dict[str, Any], run: Run) -> str:
        # operands in the order the task states them: "n trips of d" -> n * d, "d, n times" -> d * n
        first, second = ("n", "each") if _n_first(s["phrasing"]) else ("each", "n")
        total = run("calculator", {"expression": f"{s[first]} * {s[second]}"})
        observation = run("convert_units", {"value": _number(total), "from_unit": s["source"],
                                            "to_unit": s["target"]})
        return _converted(observation)

    def split_sample(d: Draw) -> dict[str, Any]:
        source, target = d.units(("length", "mass", "volume", "time"))
        return {"v": d.int(10, 900), "n": d.int(2, 12), "source": source, "target": target,
                "from": d.unit_word(source), "to": d.unit_word(target)}

    def split_solve(s: dict[str, Any], run: Run) -> str:
        observation = run("convert_units", {"value": int(s["v"]), "from_unit": s["source"],
                                            "to_unit": s["target"]})
        converted = _converted(observation).split(" ")[0]
        return run("calculator", {"expression": f"{converted} / {s['n']}"})

    return [
        Family("years_since", (
            "How many years passed between {subject} and {ref}?",
            "How many years before {ref} did {subject} appear?",
            "In {ref}, how many years old will {subject} be?",
            "Counting from the year of {subject}, how many years until {ref}?",
            "How many years lie between {subject} and the year {ref}?",
            "By {ref}, how many years will have passed since {subject}?",
            "How long before {ref}, in years, did {subject} come out?",
        ), since_sample, since_solve, weight=2.0),
        Family("years_between", (
            "How many years after {first} did {second} appear?",
            "How many years separate {first} and {second}?",
            "How many years passed from {first} to {second}?",
            "How much later, in years, did {second} come than {first}?",
            "Count the years between {first} and {second}.",
            "What is the gap in years between {first} and {second}?",
        ), between_sample, between_solve, weight=1.0),
        Family("repeat_then_convert", (
            "{name} makes {n} trips of {each} {from} each. How much is that in {to}?",
            "{n} loads of {each} {from} each: what is the total in {to}?",
            "What is {n} times {each} {from}, expressed in {to}?",
            "{name} has {n} bags of {each} {from} each. How many {to} is that altogether?",
            "Multiply {each} {from} by {n} and give the result in {to}.",
            "If {name} repeats {each} {from} {n} times, how much is that in {to}?",
        ), trip_sample, trip_solve, weight=2.0),
        Family("convert_then_split", (
            "Convert {v} {from} to {to} and split it into {n} equal parts. How big is each part?",
            "{v} {from} is shared equally by {n} people. How many {to} does each get?",
            "What is {v} {from} in {to}, divided by {n}?",
            "Divide {v} {from} into {n} equal portions. How many {to} is one portion?",
            "Change {v} {from} into {to}, then divide by {n}.",
            "How many {to} is each of {n} equal shares of {v} {from}?",
        ), split_sample, split_solve, weight=2.0),
    ]


def families(passages: list[Passage] | None = None) -> list[Family]:
    """Every task family of the data set, in a fixed order (chapter 5), with its extra phrasings."""
    passages = load_knowledge_base() if passages is None else passages
    made = [
        *_calculator_families(),
        *_convert_families(),
        *_search_families(passages),
        *_two_call_families(passages),
    ]
    return [replace(f, extra=EXTRA_PHRASINGS.get(f.name, ())) for f in made]


def _sentence(text: str) -> str:
    """Upper-case the first letter ("the Transformer ..." -> "The Transformer ...")."""
    return text[:1].upper() + text[1:]


def _make_record(
    family: Family, index: int, draw: Draw, tools: dict[str, Tool], system: str
) -> dict[str, Any]:
    phrasing = family.templates[index]
    slots = {**family.sample(draw), "phrasing": phrasing}
    task = _sentence(phrasing.format(**slots))
    turns: list[tuple[ToolCall, str]] = []

    def run(name: str, arguments: dict[str, Any]) -> str:
        observation = tools[name](arguments)
        turns.append((ToolCall(name, arguments), observation))
        return observation

    solved = _solved(system, task, turns, family.solve(slots, run))
    return {"template": f"{family.name}/{index}", "tool": solved["tool"], "task": task, **solved,
            "entities": sorted(set(draw.entities))}


def _solved(
    system: str, task: str, turns: list[tuple[ToolCall, str]], answer: str
) -> dict[str, Any]:
    """The fields a solution fixes: ``tool`` (distinct tools in call order, ``+``-joined),
    ``messages`` (the conversation, ending in ``final_answer``), ``answer`` and ``calls``."""
    calls = [{"name": c.name, "arguments": c.arguments} for c, _ in turns]
    final = (ToolCall("final_answer", {"answer": answer}), "")
    return {"tool": "+".join(dict.fromkeys(c["name"] for c in calls)),
            "messages": conversation(system, task, [*turns, final]),
            "answer": answer, "calls": calls}


class _CachedTool:
    """A tool whose observations are memoised by arguments (search runs MiniLM once per query)."""

    def __init__(self, tool: Tool) -> None:
        self.tool, self.cache = tool, {}

    def __call__(self, arguments: dict[str, Any]) -> str:
        key = json.dumps(arguments, sort_keys=True)
        if key not in self.cache:
            self.cache[key] = self.tool(arguments)
        return self.cache[key]


def generate_split(
    split: str, n: int, seed: int = 0, index: SearchIndex | None = None, extra: bool = False
) -> list[dict[str, Any]]:
    """``n`` distinct tasks of one split with real tool observations (deterministic in ``seed``).

    With ``extra``, train tasks worded only with the families' extra phrasings, numbered
    ``train_extra-<k>`` (the file ``train_extra.jsonl``); the other splits are not touched by it.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if n < 0:
        raise ValueError(f"n must be a non-negative number of tasks, got {n!r}")
    if extra and split != "train":
        raise ValueError(f"extra phrasings are train phrasings; got extra=True for split {split!r}")
    specs = default_tools(index)
    system = system_prompt([t.spec() for t in specs])
    tools = {t.name: _CachedTool(t) for t in specs}
    rng = random.Random(f"tooluse:{seed}:{split}" + (":extra" if extra else ""))
    fams = [f for f in families() if f.extra or not extra]
    records: list[dict[str, Any]] = []
    seen: set[str] = set()

    def attempt(family: Family) -> bool:
        start = len(family.phrasings) if extra else 0
        stop = len(family.templates) if extra else len(family.phrasings)
        indices = [i for i in range(start, stop) if family.phrasing_split(i) == split]
        try:
            record = _make_record(family, rng.choice(indices), Draw(rng, split), tools, system)
        except _Unanswerable:
            return False
        if record["task"] in seen:
            return False
        seen.add(record["task"])
        records.append({"split": split, **record})
        return True

    # Pass 1, stratified: each family gets its share of n (largest remainders), as far as its
    # split's entities allow. Pass 2 fills what small families could not, by weighted draws.
    total = sum(f.weight for f in fams)
    exact = [n * f.weight / total for f in fams]
    quota = [int(x) for x in exact]
    by_remainder = sorted(range(len(fams)), key=lambda i: (quota[i] - exact[i], i))
    for i in by_remainder[: n - sum(quota)]:
        quota[i] += 1
    for family, count in zip(fams, quota, strict=True):
        made = 0
        for _ in range(30 * count):
            if made == count:
                break
            made += attempt(family)
    weights = [f.weight for f in fams]
    for _ in range(50 * n):
        if len(records) >= n:
            break
        attempt(rng.choices(fams, weights=weights)[0])
    if len(records) < n:
        raise ValueError(f"could only make {len(records)} distinct {split} tasks, asked for {n}")
    rng.shuffle(records)
    prefix = EXTRA_SPLIT if extra else split
    return [{"id": f"{prefix}-{k:05d}", **r} for k, r in enumerate(records)]


def family_of(record: dict[str, Any]) -> str:
    """The task family of a record: its ``template`` without the phrasing index."""
    return record["template"].split("/")[0]


REORDERABLE: tuple[str, ...] = ("repeat_then_convert", "convert_then_split")


def other_order(record: dict[str, Any]) -> dict[str, Any]:
    """The same chain task solved with its two calls the other way round, observations real.

    Multiplying and converting commute, and so do dividing and converting, up to rounding:
    ``repeat_then_convert`` (``n * each``, then convert the total) becomes convert ``each``, then
    times ``n``; ``convert_then_split`` (convert ``v``, then ``/ n``) becomes ``v / n``, then
    convert. The data set writes each chain one way; a model that starts the other way is in a
    state it never saw in training (exposure bias) and tends to stop after one call. Chapter 7's
    stage trains on both orders (``finetune.with_other_order``) so that either start is familiar.
    """
    family = family_of(record)
    if family not in REORDERABLE:
        raise ValueError(f"other_order takes a {' or '.join(REORDERABLE)} record, got "
                         f"{record.get('template')!r}")
    first, second = record["calls"]
    if family == "repeat_then_convert":
        a, b = first["arguments"]["expression"].split(" * ")
        phrasing = next(f for f in families([]) if f.name == family).templates[
            int(record["template"].split("/")[1])]
        n, each = (a, b) if _n_first(phrasing) else (b, a)
        units = {k: second["arguments"][k] for k in ("from_unit", "to_unit")}
        converted = convert_units(_number(each), **units)
        amount, symbol = _converted(converted).split(" ")
        total = calculate(f"{amount} * {n}")
        turns = [(ToolCall("convert_units", {"value": _number(each), **units}), converted),
                 (ToolCall("calculator", {"expression": f"{amount} * {n}"}), total)]
        answer = f"{total} {symbol}"
    else:
        units = {k: first["arguments"][k] for k in ("from_unit", "to_unit")}
        n = second["arguments"]["expression"].split(" / ")[1]
        expression = f"{first['arguments']['value']} / {n}"
        share = calculate(expression)
        converted = convert_units(_number(share), **units)
        turns = [(ToolCall("calculator", {"expression": expression}), share),
                 (ToolCall("convert_units", {"value": _number(share), **units}), converted)]
        answer = _converted(converted).split(" ")[0]
    return {**record, **_solved(record["messages"][0]["content"], record["task"], turns, answer)}


MEMORY_MODES: tuple[str, ...] = ("both", "conversation", "retrieval")


def with_memory(
    records: list[dict[str, Any]], share: float = 0.35, seed: int = 0
) -> list[dict[str, Any]]:
    """The records, a ``share`` of them opening the way an agent with memory opens a task (ch. 7).

    For a chosen record, a :class:`~companion.agent.loop.Memory` (conversation, retrieval or both;
    a window of one or two exchanges) remembers one to three other records of the split, and
    usually one more of the same family or phrasing, so that its retrieval note has something
    similar to recall. The conversation becomes: system prompt, the memory's replayed exchanges,
    the task with the memory's note, then the record's own calls, which are unchanged. Only those
    calls are training targets (:func:`companion.finetune.tokenize_conversation`), so the model
    learns to read a memory and still solve the new task with tools.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be a fraction in [0, 1], got {share!r}")
    by_family: dict[str, list[dict[str, Any]]] = {}
    by_template: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_family.setdefault(family_of(r), []).append(r)
        by_template.setdefault(r["template"], []).append(r)
    rng = random.Random(seed)
    shaped = []
    for record in records:
        if rng.random() >= share:
            shaped.append(record)
            continue
        mode = rng.choice(MEMORY_MODES)
        memory = Memory(window=rng.choice([1, 2]), conversation=mode != "retrieval",
                        retrieval=mode != "conversation")
        earlier = rng.sample(records, rng.randint(1, 3))
        if rng.random() < 0.8:
            same = (by_template[record["template"]] if rng.random() < 0.5
                    else by_family[family_of(record)])
            earlier.append(rng.choice(same))
        rng.shuffle(earlier)
        for other in earlier:
            if other["id"] != record["id"]:
                memory.remember(other["task"], other["answer"], len(other["calls"]) + 1)
        system, _, *calls = record["messages"]
        task = {"role": "user", "content": record["task"] + memory.note(record["task"])}
        shaped.append({**record, "messages": [system, *memory.history(), task, *calls]})
    return shaped


def generate_splits(
    seed: int = 0,
    n_train: int = 3000,
    n_validation: int = 200,
    n_test: int = 200,
    index: SearchIndex | None = None,
    memory_share: float = 0.35,
    n_extra: int = 3000,
) -> dict[str, list[dict[str, Any]]]:
    """Train, validation and test records, disjoint by phrasing and by entity (chapter 5), and
    ``n_extra`` train records worded with the extra phrasings only (``EXTRA_SPLIT``, chapter 7).

    A ``memory_share`` of the train and extra records open with an agent's memory
    (:func:`with_memory`); validation and test are plain tasks.
    """
    sizes = {"train": n_train, "validation": n_validation, "test": n_test}
    splits = {split: generate_split(split, n, seed, index) for split, n in sizes.items()}
    splits["train"] = with_memory(splits["train"], memory_share, seed)
    extra = generate_split("train", n_extra, seed, index, extra=True)
    splits[EXTRA_SPLIT] = with_memory(extra, memory_share, seed)
    return splits


def write_splits(splits: dict[str, list[dict[str, Any]]], out_dir: Path = DATA_DIR) -> list[Path]:
    """Write ``<split>.jsonl`` files (one record per line, UTF-8, keys in a fixed order)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, records in splits.items():
        path = out_dir / f"{split}.jsonl"
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
        path.write_text("".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def load_split(split: str, data_dir: Path = DATA_DIR) -> list[dict[str, Any]]:
    """Read one split's records back (``split`` in train, validation, test, train_extra)."""
    if split not in FILES:
        raise ValueError(f"unknown split {split!r}; expected one of {FILES}")
    path = Path(data_dir) / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def summarize(splits: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per split: size, number of templates and families, share of each ``tool`` combination."""
    summary = {}
    for split, records in splits.items():
        tools = Counter(r["tool"] for r in records)
        summary[split] = {
            "records": len(records),
            "templates": len({r["template"] for r in records}),
            "families": len({family_of(r) for r in records}),
            "tool_share": {t: round(c / len(records), 3) for t, c in sorted(tools.items())},
            "mean_calls": round(sum(len(r["calls"]) for r in records) / len(records), 3),
        }
    return summary


def equivalent_call(call: dict[str, Any], gold: dict[str, Any], tools: list[Tool]) -> bool:
    """True when ``call`` names the gold tool and yields the gold observation (chapter 6).

    ``7 * 12`` for ``12 * 7`` or ``"miles"`` for ``"mile"`` count as right; a call that fails its
    schema or its tool counts as wrong.
    """
    if call.get("name") != gold["name"]:
        return False
    by_name = {t.name: t for t in tools}
    try:
        return by_name[gold["name"]](call.get("arguments", {})) == by_name[gold["name"]](
            gold["arguments"]
        )
    except (ValueError, RuntimeError):
        return False


def main(argv: list[str] | None = None) -> None:
    """Regenerate ``data/tooluse/{train,validation,test,train_extra}.jsonl``; print a summary."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--validation", type=int, default=200)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--extra", type=int, default=3000, help="train_extra.jsonl records")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # MiniLM on short queries: one thread is fastest and reproducible
    splits = generate_splits(args.seed, args.train, args.validation, args.test,
                             n_extra=args.extra)
    for path in write_splits(splits, args.out):
        print(f"wrote {path.name}: {path.stat().st_size / 1e6:.2f} MB")
    print(json.dumps(summarize(splits), indent=2))


if __name__ == "__main__":
    main()
