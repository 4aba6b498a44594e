"""The hand-written reader question set and how its gold answers are computed (chapter 7).

``data/sets/reader_questions.jsonl`` holds questions typed the way readers type them, written from
the tool descriptions and the knowledge base by someone who had not seen the tool-use generator
(the data card, ``data/sets/reader_questions.md``, says how). It is for reporting only: never for
training, prompts or choosing between variants. Each record has ``id``, ``category`` (one of
:data:`CATEGORIES`), ``question``, ``answer`` (the gold answer as text) and ``solution``: the tool
calls that compute the gold answer with the agent's own tools.

- ``{"calculator": "120 / 2.5"}`` gives ``calculate("120 / 2.5")``, ``"48"``;
- ``{"convert_units": [5, "mile", "kilometer"]}`` gives the right side of the observation,
  ``"8.04672 km"``;
- ``{"fact": "transformer.year"}`` gives the passage's fact, ``"2017"``;
- ``{"steps": [step, ...]}`` is a chain: ``{0}``, ``{1}``... in a later step stand for the number
  that step 0, 1... gave (a fact such as ``"175 billion"`` gives 175); the last step gives the
  answer. A solution may add ``"unit": "km/h"``: written after the number (in place of the
  converter's symbol).

A numeric gold is exactly what :func:`solve` returns. A name gold may be a shorter run of the
fact's words (``"Vaswani"`` for ``"Ashish Vaswani"``): an answer that copies the fact must score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from companion.agent.evaluation import answer_matches, normalize
from companion.agent.retrieval import load_knowledge_base
from companion.agent.tools import calculate, convert_units
from companion.numbers import leading_number as gold_number
from companion.paths import SETS
from companion.toolcall import stated_value

READER_QUESTIONS = SETS / "reader_questions.jsonl"
CATEGORIES: tuple[str, ...] = ("fact", "conversion", "word_problem", "calculator")
EVERYDAY: tuple[str, ...] = ("fact", "conversion", "word_problem")
FIELDS: tuple[str, ...] = ("id", "category", "question", "answer", "solution")
ID_PATTERN = re.compile(r"rq-\d{3}")
STEP_KINDS: tuple[str, ...] = ("calculator", "convert_units", "fact")

Facts = Mapping[str, Mapping[str, str]]


def load_reader_questions(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read the reader set (one JSON object per line); ``ValueError`` names a bad line."""
    path = READER_QUESTIONS if path is None else Path(path)
    records: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path.name} line {number}: not a JSON object ({err})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path.name} line {number}: expected a JSON object, got {record!r}")
        missing = [k for k in FIELDS if k not in record]
        if missing:
            raise ValueError(f"{path.name} line {number}: missing fields {missing}")
        if not ID_PATTERN.fullmatch(str(record["id"])):
            raise ValueError(f"{path.name} line {number}: id {record['id']!r} is not like 'rq-001'")
        if record["category"] not in CATEGORIES:
            raise ValueError(
                f"{path.name} line {number}: category {record['category']!r}; "
                f"expected one of {list(CATEGORIES)}"
            )
        for key in ("question", "answer"):
            if not isinstance(record[key], str) or not record[key].strip():
                raise ValueError(f"{path.name} line {number}: {key} must be non-empty text")
        records.append(record)
    return records


def reader_tasks(path: str | Path | None = None) -> list[dict[str, str]]:
    """The set as tasks for :func:`~companion.agent.evaluation.evaluate_agent`:
    ``{"id", "task", "answer", "category"}`` (``task`` is the question)."""
    return [
        {"id": r["id"], "task": r["question"], "answer": r["answer"], "category": r["category"]}
        for r in load_reader_questions(path)
    ]


def knowledge_base_facts(path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """Passage id -> its ``facts`` (relation -> answer) for every non-adversarial passage."""
    return {p.id: dict(p.facts) for p in load_knowledge_base(path) if not p.adversarial}


def _steps(solution: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if not isinstance(solution, Mapping):
        raise ValueError(f"a solution must be an object, got {solution!r}")
    if "steps" in solution:
        steps = solution["steps"]
        if not isinstance(steps, list) or not steps:
            raise ValueError(f"'steps' must be a non-empty list of steps, got {steps!r}")
        return steps
    return [solution]


def _kind(step: Mapping[str, Any]) -> str:
    kinds = [k for k in STEP_KINDS if k in step]
    if len(kinds) != 1:
        raise ValueError(f"step {dict(step)!r} must have exactly one of {list(STEP_KINDS)}")
    return kinds[0]


def fact_ids(solution: Mapping[str, Any]) -> list[str]:
    """The passage ids a solution's fact steps read (``"gpt-3.parameters"`` -> ``"gpt-3"``)."""
    return [
        step["fact"].rsplit(".", 1)[0] for step in _steps(solution) if _kind(step) == "fact"
    ]


def _fill(text: str, values: list[str]) -> str:
    """Put earlier results into ``{0}``, ``{1}``...; an index past the steps so far is an error."""
    for index in map(int, re.findall(r"\{(\d+)\}", text)):
        if index >= len(values):
            raise ValueError(
                f"{text!r} refers to step {index}, but only {len(values)} earlier steps exist"
            )
    return re.sub(r"\{(\d+)\}", lambda m: values[int(m.group(1))], text)


def _run_step(step: Mapping[str, Any], values: list[str], facts: Facts) -> str:
    kind = _kind(step)
    if kind == "calculator":
        return calculate(_fill(step["calculator"], values))
    if kind == "convert_units":
        args = step["convert_units"]
        if not isinstance(args, list) or len(args) != 3:
            raise ValueError(f"convert_units needs [value, from_unit, to_unit], got {args!r}")
        value, source, target = args
        if isinstance(value, str):
            value = float(_fill(value, values))
        return stated_value(convert_units(value, source, target))
    passage, _, relation = str(step["fact"]).rpartition(".")
    if passage not in facts:
        raise ValueError(f"unknown passage {passage!r} in fact {step['fact']!r}")
    if relation not in facts[passage]:
        raise ValueError(
            f"passage {passage!r} has no fact {relation!r}; it has {sorted(facts[passage])}"
        )
    return facts[passage][relation]


def solve(solution: Mapping[str, Any], facts: Facts) -> str:
    """The gold answer text a solution computes with the agent's tools (module docstring)."""
    steps = _steps(solution)
    values: list[str] = []
    result = ""
    for step in steps:
        result = _run_step(step, values, facts)
        number = gold_number(result)
        values.append("" if number is None else result.split()[0].replace(",", ""))
    unit = solution.get("unit")
    if unit is not None:
        if not isinstance(unit, str) or not unit.strip() or not values[-1]:
            raise ValueError(f"'unit' {unit!r} must be text written after a number, got {result!r}")
        result = f"{values[-1]} {unit}"
    return result


def gold_problem(record: Mapping[str, Any], facts: Facts) -> str | None:
    """Why a record's stored answer is not what its solution computes, or None when it is.

    Numbers must be equal as text; a name may be any run of the fact's words that an answer
    copying the fact would match (:func:`~companion.agent.evaluation.answer_matches`).
    """
    try:
        computed = solve(record["solution"], facts)
    except ValueError as err:
        return f"{record['id']}: {err}"
    stored = record["answer"]
    if gold_number(computed) is not None:
        if stored != computed:
            return f"{record['id']}: stored {stored!r}, the solution gives {computed!r}"
    elif not answer_matches(computed, stored):
        return f"{record['id']}: {stored!r} is not a run of the words of {computed!r}"
    return None


_OPERATOR = re.compile(r"([-+*/^()%÷×=])")


def question_key(question: str) -> str:
    """A question with case, accents and punctuation dropped, for finding duplicates.

    Arithmetic signs are kept: ``(2+3)^2`` and ``2 + 3^2`` are different questions.
    """
    parts = _OPERATOR.split(question)
    return " ".join(" ".join(p if _OPERATOR.fullmatch(p) else normalize(p) for p in parts).split())
