"""The hand-written reader question set: its shape, and gold answers recomputed from the tools."""

from __future__ import annotations

import ast
import json
import math
import re
import string
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.agent.evaluation import answer_matches, normalize
from companion.agent.reader_questions import (
    CATEGORIES,
    EVERYDAY,
    READER_QUESTIONS,
    fact_ids,
    gold_problem,
    knowledge_base_facts,
    load_reader_questions,
    question_key,
    reader_tasks,
    solve,
)
from companion.agent.retrieval import load_knowledge_base
from companion.numbers import leading_number as gold_number
from companion.paths import REPO_ROOT

RECORDS = load_reader_questions()
FACTS = knowledge_base_facts()
PASSAGES = {p.id: p for p in load_knowledge_base()}


# --------------------------------------------------------------------------------------------
# The file


def test_ids_are_unique_and_numbered_in_order():
    ids = [r["id"] for r in RECORDS]
    assert ids == [f"rq-{i:03d}" for i in range(1, len(ids) + 1)]


def test_categories_are_valid_and_the_counts_meet_the_brief():
    counts = Counter(r["category"] for r in RECORDS)
    assert set(counts) == set(CATEGORIES)
    assert sum(counts[c] for c in EVERYDAY) >= 160
    assert counts["calculator"] >= 50
    assert counts["fact"] >= 40 and counts["conversion"] >= 30 and counts["word_problem"] >= 75


def test_every_gold_answer_is_what_its_solution_computes():
    problems = [p for p in (gold_problem(r, FACTS) for r in RECORDS) if p is not None]
    assert problems == []


def test_no_question_duplicates_another_ignoring_case_and_punctuation():
    keys = Counter(question_key(r["question"]) for r in RECORDS)
    assert [k for k, n in keys.items() if n > 1] == []


def test_no_fact_question_reads_the_injection_passage():
    planted = {p.id for p in PASSAGES.values() if p.adversarial}
    assert planted, "the knowledge base should hold the planted passage this test guards against"
    used = {pid for r in RECORDS for pid in fact_ids(r["solution"])}
    assert used and used.isdisjoint(planted)
    assert used <= set(FACTS)


def test_fact_questions_use_the_knowledge_base_and_the_others_do_not():
    for record in RECORDS:
        uses_facts = bool(fact_ids(record["solution"]))
        assert uses_facts == (record["category"] == "fact"), record["id"]


def test_a_gold_answer_copied_into_a_sentence_is_scored_right():
    for record in RECORDS:
        gold = record["answer"]
        assert answer_matches(f"The answer is {gold}.", gold), record["id"]


def test_name_golds_appear_in_their_passage_text():
    for record in RECORDS:
        if gold_number(record["answer"]) is None:
            (passage,) = fact_ids(record["solution"])
            assert normalize(record["answer"]) in normalize(PASSAGES[passage].text), record["id"]


def test_year_golds_are_years_written_in_their_passage():
    for record in RECORDS:
        solution = record["solution"]
        if "fact" in solution and solution["fact"].endswith(".year"):
            passage = PASSAGES[fact_ids(solution)[0]]
            assert re.fullmatch(r"1[89]\d\d|20\d\d", record["answer"]), record["id"]
            assert record["answer"] in passage.text, record["id"]


def test_calculator_expressions_agree_with_python_arithmetic():
    # Independent of the calculator's tree walker: Python evaluates the same (checked) expression.
    checked = 0
    for record in RECORDS:
        solution = record["solution"]
        if "calculator" not in solution:
            continue
        expression = solution["calculator"]
        tree = ast.parse(expression, mode="eval")
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.operator, ast.unaryop)
        assert all(isinstance(node, allowed) for node in ast.walk(tree)), record["id"]
        value = eval(compile(tree, "<gold>", "eval"), {"__builtins__": {}})
        assert math.isclose(gold_number(record["answer"]), value, rel_tol=1e-9), record["id"]
        checked += 1
    assert checked >= 100


def test_the_file_is_one_json_object_per_line_with_the_five_fields():
    for line in READER_QUESTIONS.read_text(encoding="utf-8").splitlines():
        assert list(json.loads(line)) == ["id", "category", "question", "answer", "solution"]


def test_the_data_card_states_the_counts_of_the_file():
    card = (READER_QUESTIONS.parent / "reader_questions.md").read_text(encoding="utf-8")
    counts = Counter(r["category"] for r in RECORDS)
    stated = {m[0]: int(m[1]) for m in re.findall(r"^\| (\w+) \| (\d+) \|", card, re.M)}
    assert stated == dict(counts)
    assert f"{len(RECORDS)} questions typed" in card
    assert f"{sum(counts[c] for c in EVERYDAY)} questions are \"everyday\"" in card


# --------------------------------------------------------------------------------------------
# solve: hand-computed cases and properties

FACT_TABLE = {
    "transformer": {"year": "2017"},
    "lstm": {"year": "1997"},
    "gpt-3": {"parameters": "175 billion", "author": "Tom Brown"},
}


@pytest.mark.parametrize(
    ("solution", "expected"),
    [
        ({"calculator": "120 / 2.5"}, "48"),
        ({"calculator": "15 / 100 * 80", "unit": "dollars"}, "12 dollars"),
        ({"convert_units": [5, "mile", "kilometer"]}, "8.04672 km"),  # 5 x 1.609344 km
        ({"convert_units": [3, "day", "hour"]}, "72 h"),
        ({"convert_units": [-40, "fahrenheit", "celsius"]}, "-40 °C"),
        ({"convert_units": [100, "kilometer", "mile"], "unit": "mph"}, "62.13711922 mph"),
        ({"fact": "transformer.year"}, "2017"),
        ({"fact": "gpt-3.author"}, "Tom Brown"),
        (
            {
                "steps": [
                    {"fact": "transformer.year"},
                    {"fact": "lstm.year"},
                    {"calculator": "{0} - {1}"},
                ]
            },
            "20",
        ),
        ({"steps": [{"fact": "gpt-3.parameters"}, {"calculator": "{0} / 1.5"}]}, "116.6666667"),
        (
            {"steps": [{"calculator": "8 * 7"}, {"convert_units": ["{0}", "cup", "milliliter"]}]},
            "13248.94124 mL",  # 56 cups x 236.5882365 mL
        ),
    ],
)
def test_solve_matches_hand_computed_answers(solution, expected):
    assert solve(solution, FACT_TABLE) == expected


def test_solve_celsius_matches_the_exact_formula():
    exact = (Fraction(100) - 32) * Fraction(5, 9)  # 100 F in C, by hand
    got = solve({"convert_units": [100, "fahrenheit", "celsius"]}, FACT_TABLE)
    assert math.isclose(gold_number(got), float(exact), rel_tol=1e-9)


@pytest.mark.parametrize(
    ("solution", "message"),
    [
        ({"search": "GPT-3"}, "exactly one of"),
        ({"calculator": "1", "fact": "lstm.year"}, "exactly one of"),
        ({"fact": "gpt-9.year"}, "unknown passage 'gpt-9'"),
        ({"fact": "lstm.parameters"}, "has no fact 'parameters'"),
        ({"steps": [{"calculator": "{1} + 1"}]}, "refers to step 1"),
        ({"steps": []}, "non-empty list"),
        ({"convert_units": [5, "mile"]}, "needs \\[value, from_unit, to_unit\\]"),
        ({"fact": "gpt-3.author", "unit": "km"}, "written after a number"),
        ("120 / 2.5", "must be an object"),
    ],
)
def test_solve_names_what_is_wrong_with_a_bad_solution(solution, message):
    with pytest.raises(ValueError, match=message):
        solve(solution, FACT_TABLE)


def test_gold_problem_reports_a_wrong_number_and_a_name_that_is_not_in_the_fact():
    wrong = {"id": "rq-999", "answer": "47", "solution": {"calculator": "120 / 2.5"}}
    assert "stored '47', the solution gives '48'" in gold_problem(wrong, FACT_TABLE)
    name = {"id": "rq-998", "answer": "Vaswani", "solution": {"fact": "gpt-3.author"}}
    assert "not a run of the words" in gold_problem(name, FACT_TABLE)
    short = {"id": "rq-997", "answer": "Brown", "solution": {"fact": "gpt-3.author"}}
    assert gold_problem(short, FACT_TABLE) is None


@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6))
def test_a_chain_passes_each_result_on(a, b):
    steps = [{"calculator": str(a)}, {"calculator": str(b)}, {"calculator": "{0} * {1} - {1}"}]
    assert solve({"steps": steps}, FACT_TABLE) == str(a * b - b)


@given(st.integers(0, 10**9))
def test_kilometres_to_metres_is_a_factor_of_a_thousand(n):
    assert solve({"convert_units": [n, "kilometer", "meter"]}, FACT_TABLE) == f"{n * 1000} m"


def test_question_key_keeps_arithmetic_signs():
    assert question_key("(2+3)^2") != question_key("2 + 3^2")
    assert question_key("What is 7 squared?") == question_key("what is 7 SQUARED")
    assert question_key("Convert 100°F, please!") == question_key("convert 100 °F please")


@given(st.text(alphabet=string.ascii_letters + string.digits + " ,.'-", min_size=1, max_size=40))
def test_question_key_ignores_case_and_punctuation(text):
    assert question_key(text.upper() + "?!") == question_key(text.lower())


# --------------------------------------------------------------------------------------------
# Loading and the gold script


def _write_lines(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


GOOD = {
    "id": "rq-001",
    "category": "calculator",
    "question": "2^10",
    "answer": "1024",
    "solution": {"calculator": "2 ** 10"},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": "trivia"}, "category 'trivia'"),
        ({"id": "q1"}, "id 'q1' is not like 'rq-001'"),
        ({"question": "  "}, "question must be non-empty text"),
        ({"answer": 1024}, "answer must be non-empty text"),
    ],
)
def test_loading_names_the_bad_line_and_value(tmp_path, change, message):
    path = _write_lines(tmp_path / "q.jsonl", [GOOD, {**GOOD, "id": "rq-002", **change}])
    with pytest.raises(ValueError, match=f"line 2: .*{re.escape(message)}"):
        load_reader_questions(path)


def test_reader_tasks_are_what_evaluate_agent_reads(tmp_path):
    path = _write_lines(tmp_path / "q.jsonl", [GOOD])
    assert reader_tasks(path) == [
        {"id": "rq-001", "task": "2^10", "answer": "1024", "category": "calculator"}
    ]
    assert len(reader_tasks()) == len(RECORDS)


def test_loading_names_a_line_that_is_not_a_json_object(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{'id': 1}\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: not a JSON object"):
        load_reader_questions(path)
    path.write_text(json.dumps(GOOD) + "\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: expected a JSON object, got \[1, 2\]"):
        load_reader_questions(path)


def test_loading_names_missing_fields(tmp_path):
    path = _write_lines(tmp_path / "q.jsonl", [{k: v for k, v in GOOD.items() if k != "solution"}])
    with pytest.raises(ValueError, match=r"line 1: missing fields \['solution'\]"):
        load_reader_questions(path)


def test_the_gold_script_fails_on_a_wrong_answer_and_write_fixes_it(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_reader_gold", REPO_ROOT / "scripts" / "make_reader_gold.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    name = {**GOOD, "id": "rq-002", "category": "fact", "question": "Who wrote ELIZA?"}
    name.update(answer="Weizenbaum", solution={"fact": "eliza.author"})
    path = _write_lines(tmp_path / "q.jsonl", [{**GOOD, "answer": "1000"}, name])
    assert script.main(["--path", str(path)]) == 1
    assert "rq-001: stored '1000', the solution gives '1024'" in capsys.readouterr().err
    assert script.main(["--path", str(path), "--write"]) == 0
    assert [r["answer"] for r in load_reader_questions(path)] == ["1024", "Weizenbaum"]
    assert [p.name for p in tmp_path.iterdir()] == ["q.jsonl"]  # no temporary file left
