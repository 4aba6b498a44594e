"""The notation reader (companion.agent.notation, .expressions and .lexicon): hand-computed
readings, precedence against Python's own arithmetic, number words against num2words, the
development set, the lexicon's checks, and the loop that uses it."""

from __future__ import annotations

import json
import operator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from num2words import num2words

from companion import paths
from companion.agent.cli import describe
from companion.agent.evaluation import answer_matches
from companion.agent.expressions import Bin, Num, to_text
from companion.agent.lexicon import LEXICON, LexiconError, load_lexicon, tokens_of, with_digits
from companion.agent.llm import ScriptedLLM
from companion.agent.loop import Agent
from companion.agent.memory import Memory
from companion.agent.notation import NotationReader, read_question
from companion.agent.reader_questions import gold_problem, knowledge_base_facts, question_key
from companion.agent.tools import calculate, convert_units, default_tools
from companion.toolcall import stated_value

DEV = paths.SETS / "notation" / "dev.jsonl"


def expression(question: str) -> str | None:
    call = read_question(question)
    assert call is None or call.name == "calculator", call
    return None if call is None else call.arguments["expression"]


@pytest.mark.parametrize(("question", "expected"), [
    ("17*23", "17 * 23"),
    ("what's 3 plus 4 times 5?", "3 + 4 * 5"),
    ("(2+3)^2", "(2 + 3) ** 2"),
    ("2^3^2", "2 ** 3 ** 2"),
    ("10 - 4 - 3", "10 - 4 - 3"),
    ("10 - (4 - 3)", "10 - (4 - 3)"),
    ("100/5/2", "100 / 5 / 2"),
    ("12 x 7", "12 * 7"),
    ("7 ÷ 2", "7 / 2"),
    ("3 - -2", "3 - (-2)"),
    ("5,000 divided by 8", "5000 / 8"),
    ("Square root of 2,025", "2025 ** 0.5"),
    ("the cube root of 343", "343 ** (1 / 3)"),
    ("the fourth root of 81", "81 ** (1 / 4)"),
    ("15% of 80", "15 / 100 * 80"),
    ("what is 80 plus 15%", "80 + 15 / 100 * 80"),
    ("3/8 of 96", "3 / 8 * 96"),
    ("two thirds of 27", "2 / 3 * 27"),
    ("half of 350", "350 / 2"),
    ("a dozen times twelve", "12 * 12"),
    ("one hundred and five minus forty-two", "105 - 42"),
    ("4.2 million over 57", "4200000 / 57"),
    ("2 to the 10th power", "2 ** 10"),
    ("10 to the fourth", "10 ** 4"),
    ("245 times itself", "245 * 245"),
    ("reciprocal of 16", "1 / 16"),
    ("5 more than 20", "20 + 5"),
    ("5 less than 20", "20 - 5"),
    ("subtract 19 from 60", "60 - 19"),
    ("divide 84 by 7", "84 / 7"),
    ("the sum of 4, 8 and 15", "4 + 8 + 15"),
    ("average of 4, 8 and 15", "(4 + 8 + 15) / 3"),
    ("the difference between 35 and 90", "90 - 35"),
    ("the remainder when 100 is divided by 7", "100 % 7"),
    ("quadruple 17", "4 * 17"),
    ("calcualte 35 percent of 1,200 please", "35 / 100 * 1200"),
    ("quick question: whats $45 + $12?", "45 + 12"),
    ("15 is what percent of 60", "15 / 60 * 100"),
    ("what percentage of 60 is 15?", "15 / 60 * 100"),
    ("15 out of 60 as a percent", "15 / 60 * 100"),
    ("increase 80 by 15%", "80 + 15 / 100 * 80"),
    ("200 decreased by 10%", "200 - 10 / 100 * 200"),
    ("20% off 50", "50 - 20 / 100 * 50"),
    ("15% more than 80", "80 + 15 / 100 * 80"),
    ("5 factorial", "5 * 4 * 3 * 2 * 1"),
    ("17 // 5", "17 // 5"),
    ("what is 12*7!", "12 * 7"),                   # "!" is a tone of voice, not a factorial
])
def test_expressions_are_read_as_hand_written(question, expected):
    assert expression(question) == expected


@pytest.mark.parametrize(("question", "value", "source", "target"), [
    ("twelve inches to cm", 12, "inch", "centimeter"),
    ("how many cups in a quart", 1, "quart", "cup"),
    ("how many ounces in 3 pounds", 3, "pound", "ounce"),
    ("minutes in a week", 1, "week", "minute"),
    ("Mins in a hr", 1, "hour", "minute"),
    ("convert -40 f to c", -40, "fahrenheit", "celsius"),
    ("72°F in °C", 72, "fahrenheit", "celsius"),
    ("2 miles is how many feet?", 2, "mile", "foot"),
    ("how many feet is 2.5 miles", 2.5, "mile", "foot"),
    ("5 in to cm", 5, "inch", "centimeter"),
    ("3 litres in pints", 3, "liter", "pint"),
])
def test_conversions_name_the_value_and_both_units(question, value, source, target):
    call = read_question(question)
    assert call is not None and call.name == "convert_units"
    assert call.arguments == {"value": value, "from_unit": source, "to_unit": target}


@pytest.mark.parametrize("question", [
    "I split a $84 bill 4 ways",                  # words the reader does not know
    "how many days in a year",                    # "year" is no unit of the converter
    "what is 42",                                 # no operation
    "what is GPT-2",
    "3 and 4",                                    # "and" joins operands only after an operation
    "5 km to kg",                                 # length to mass
    "how many years between 1956 and 2017",
    "what's 17 % 5",                              # "%" is a percentage here, and 5 is left over
    "2x = 10",
    "20 factorial",                                # beyond the calculator's range
    "",
    "what is 5 + 3 in binary",
    "三加五等于几？",
])
def test_anything_not_wholly_notation_goes_to_the_model(question):
    assert read_question(question) is None


OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
WORDS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}
SYMBOLS = {"+": "+", "-": "-", "*": "x", "/": "/"}


@st.composite
def flat_expressions(draw):
    """Numbers and binary operators without parentheses: precedence alone decides."""
    numbers = draw(st.lists(st.integers(1, 999), min_size=2, max_size=5))
    ops = draw(st.lists(st.sampled_from(list(OPS)), min_size=len(numbers) - 1,
                        max_size=len(numbers) - 1))
    return numbers, ops


def python_value(numbers: list[int], ops: list[str]) -> float:
    """The school rule, computed with Python's operators: * and / first, left to right."""
    values, pending = [float(numbers[0])], []
    for op, n in zip(ops, numbers[1:], strict=True):
        if op in "*/":
            values[-1] = OPS[op](values[-1], n)
        else:
            pending.append(op)
            values.append(float(n))
    total = values[0]
    for op, v in zip(pending, values[1:], strict=True):
        total = OPS[op](total, v)
    return total


@settings(max_examples=150, deadline=None)
@given(flat_expressions(), st.sampled_from(["symbols", "words"]))
def test_precedence_is_the_school_rule_in_symbols_and_in_words(case, style):
    numbers, ops = case
    table = SYMBOLS if style == "symbols" else WORDS
    text = str(numbers[0]) + "".join(f" {table[o]} {n}" for o, n in zip(ops, numbers[1:],
                                                                      strict=True))
    read = expression(f"what is {text}?")
    assert read is not None
    assert float(calculate(read)) == pytest.approx(python_value(numbers, ops), rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 999_999_999))
def test_number_words_read_as_num2words_writes_them(n):
    assert expression(f"{num2words(n)} plus 1") == f"{n} + 1"


@settings(max_examples=100, deadline=None)
@given(st.recursive(
    st.integers(0, 50).map(lambda n: Num(str(n))),
    lambda inner: st.builds(Bin, st.sampled_from(["+", "-", "*", "/"]), inner, inner),
    max_leaves=6,
))
def test_printing_keeps_the_tree(tree):
    """``to_text`` parenthesises where precedence needs it: reading the text back gives the
    tree's own value, computed here without any parser."""
    def value(node):
        if isinstance(node, Num):
            return float(node.text)
        return OPS[node.op](value(node.left), value(node.right))

    try:
        expected = value(tree)
    except ZeroDivisionError:
        return
    if not isinstance(tree, Bin) or abs(expected) > 1e12:
        return
    assert float(calculate(to_text(tree))) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def dev_set() -> list[dict]:
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]


def test_the_development_set_is_sound_and_disjoint_from_the_reader_set():
    rows = dev_set()
    facts = knowledge_base_facts()
    assert all(gold_problem(r, facts) is None for r in rows)
    keys = [question_key(r["question"]) for r in rows]
    assert len(set(keys)) == len(keys)
    reader = paths.SETS / "reader_questions.jsonl"
    reader_keys = {question_key(json.loads(line)["question"])
                   for line in reader.read_text(encoding="utf-8").splitlines() if line}
    assert not set(keys) & reader_keys


def test_on_the_development_set_the_reader_is_right_when_it_answers_and_leaves_problems():
    taken, right, wrongly_taken = {}, {}, 0
    for row in dev_set():
        call = read_question(row["question"])
        if row["category"] in ("word_problem", "fact"):
            wrongly_taken += call is not None
            continue
        cat = row["category"]
        taken[cat] = taken.get(cat, 0) + (call is not None)
        if call is None:
            continue
        observation = stated_value(calculate(**call.arguments) if call.name == "calculator"
                                   else convert_units(**call.arguments))
        right[cat] = right.get(cat, 0) + answer_matches(observation, row["answer"])
    assert wrongly_taken == 0
    assert right == taken  # never a wrong answer
    assert taken["calculator"] >= 115 and taken["conversion"] >= 51  # data/sets/notation.md


def test_tokens_and_typos():
    assert tokens_of("What's 5,000 × 2.5?") == ["whats", "5,000", "*", "2.5"]
    assert tokens_of("4,8,15") == ["4", ",", "8", ",", "15"]
    assert tokens_of("what is 5 & 3") is None
    lexicon = load_lexicon()
    assert lexicon.correct("sqaure") == "square" and lexicon.correct("calcualte") == "calculate"
    assert lexicon.correct("apples") == "apples"  # nothing one edit away
    assert lexicon.correct("miles") == "miles" and lexicon.correct("tmes") == "times"
    assert lexicon.correct("tim") == "tim"  # too short to mend


def test_a_broken_lexicon_is_refused_when_loaded(tmp_path: Path):
    text = LEXICON.read_text(encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    missing.write_text(text.replace("\nsquared:", "\nsquare_d:"), encoding="utf-8")
    with pytest.raises(LexiconError, match="missing squared"):
        load_lexicon(missing)
    bad_number = tmp_path / "number.yaml"
    bad_number.write_text(text.replace("dozen: 12", "dozen: twelve"), encoding="utf-8")
    with pytest.raises(LexiconError, match="scales must map words to whole numbers"):
        load_lexicon(bad_number)
    bad_phrase = tmp_path / "phrase.yaml"
    bad_phrase.write_text(text.replace("  - hey\n", "  - hey & ho\n"), encoding="utf-8")
    with pytest.raises(LexiconError, match="prefixes: 'hey & ho'"):
        load_lexicon(bad_phrase)


def test_the_loop_answers_notation_without_the_model_and_gives_it_the_rest():
    silent = ScriptedLLM([])  # fails the test if the model is asked anything
    agent = Agent(silent, default_tools(), notation=NotationReader())
    result = agent.run("whats 5,000 divided by 8")
    assert (result.answer, result.stopped_because, len(result.steps)) == ("625", "final_answer", 2)
    assert result.steps[0].call.arguments == {"expression": "5000 / 8"}
    assert result.steps[0].stats is None and result.confidence is None and result.notation
    assert describe(result).splitlines() == ["answer: 625", "read as notation, no model, 2 steps, "
                                             f"{result.duration_s:.1f} s"]
    assert agent.run("how many cups in a quart").answer == "4 cup"

    model = ScriptedLLM([("calculator", {"expression": "84 / 4"}), ("final_answer",
                                                                     {"answer": "21"})])
    agent = Agent(model, default_tools(), notation=NotationReader())
    result = agent.run("I split an $84 bill among four friends")
    assert result.answer == "21" and len(model.seen) == 2 and not result.notation
    assert model.seen[0][-1]["content"] == "I split an $84 bill among 4 friends"  # in digits
    assert result.task == "I split an $84 bill among four friends"  # the run keeps what was typed


def test_a_call_the_tool_refuses_goes_to_the_model_and_memory_still_remembers():
    model = ScriptedLLM([("final_answer", {"answer": "undefined"}),
                         ("final_answer", {"answer": "too big"})])
    memory = Memory()
    agent = Agent(model, default_tools(), memory=memory, notation=NotationReader())
    assert agent.run("1/0").answer == "undefined" and len(model.seen) == 1  # division by zero
    assert agent.run("9^9^9").answer == "too big" and len(model.seen) == 2  # out of range
    agent.run("2+2")  # read, not asked: the script has no third turn
    assert memory.records[-1].answer == "4" and len(memory.records) == 3


WORDS_AND_SYMBOLS = sorted({t for role in load_lexicon().phrases.values() for p in role for t in p}
                           | {t for role in load_lexicon().operators.values() for p in role
                              for t in p}
                           | {"7", "12", "0", "2.5", "1,000", "(", ")", "of", "and", "a", "km",
                              "miles", "°f", "hundred", "thirds", "dozen", "apples"})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS_AND_SYMBOLS), min_size=1, max_size=9))
def test_any_string_of_known_words_is_read_or_declined_never_crashes(words):
    call = read_question(" ".join(words))
    if call is not None and call.name == "calculator":
        import ast

        ast.parse(call.arguments["expression"], mode="eval")  # well-formed, whatever its value


def test_deep_nesting_is_declined_not_a_crash():
    assert read_question("(" * 10 + "1 + 1" + ")" * 10) is not None
    assert read_question("(" * 400 + "1 + 1" + ")" * 400) is None  # the calculator's own bound
    assert read_question("minus " * 400 + "5") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Arjun is twenty-nine years old", "Arjun is 29 years old"),
    ("a dozen eggs for sixteen students", "12 eggs for 16 students"),
    ("one hundred and five people", "105 people"),
    ("there are two thousand, three hundred ants", "there are 2300 ants"),
    ("four, five and six", "4, 5 and 6"),
    ("I have 1,250 marbles and $2,000.50", "I have 1250 marbles and $2000.50"),
    ("which one is bigger", "which one is bigger"),             # a lone "one" is a pronoun
    ("a lot of fun in an hour", "a lot of fun in an hour"),
    ("a twenty-nine-year-old", "a twenty-nine-year-old"),      # part of a word
    ("average of 4,8,15", "average of 4,8,15"),                 # a list, not a separator
])
def test_with_digits_rewrites_numbers_and_nothing_else(text, expected):
    assert with_digits(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 999_999), st.sampled_from(["I have {} apples.", "{} people came", "Pay {}!"]))
def test_with_digits_writes_what_num2words_spells(n, frame):
    assert with_digits(frame.format(num2words(n))) == frame.format(n)
