"""Measuring an agent: tolerant success, steps, call validity and latency (chapter 7).

A task is a mapping (or object) with ``task`` (the question; or ``question``), ``answer`` (the gold
answer, text) and optionally ``id``. A run succeeds when it stopped with a final answer that
:func:`answer_matches` the gold answer:

- a numeric gold answer (a number, perhaps followed by a unit: ``"748.1352523 cup"``) is compared
  with the *last* number in the prediction, p (thousands separators are ignored; the unit is not
  checked, since the question names it; :mod:`companion.numbers` reads and compares them). A gold
  answer with decimals, g, matches within a relative tolerance,
  ``|p - g| <= rel_tol * max(|p|, |g|)``: the model may round what a tool computed. A whole number
  (a count, a year) matches only when p rounds to it, ``|p - g| < 0.5``: 2023 is not 2018, though
  it is within 1%;
- any other gold answer matches when its normalised words (lower case, punctuation dropped) appear
  as a contiguous run in the prediction's normalised words.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from companion.agent.loop import AgentResult, StopReason
from companion.numbers import is_whole, leading_number, numbers_in, same_number


def normalize(text: str) -> str:
    """Lower case, no accents, punctuation, extra spaces: ``"Vaswani, A."`` -> ``"vaswani a"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w\s]", " ", plain).split())


def answer_matches(predicted: str, expected: str, rel_tol: float = 1e-2) -> bool:
    """The tolerant answer check of the module docstring (whole numbers: rounding; other numbers:
    relative tolerance; names: a run of words)."""
    if rel_tol < 0:
        raise ValueError(f"rel_tol={rel_tol}; expected a non-negative tolerance")
    gold = leading_number(str(expected))
    if gold is not None:
        found = numbers_in(predicted)
        return bool(found) and same_number(found[-1], gold, is_whole(str(expected)), rel_tol)
    want = normalize(str(expected))
    if not want:
        raise ValueError(f"expected answer {expected!r} has no words to look for")
    return f" {want} " in f" {normalize(predicted)} "


def _field(task: Any, name: str, default: Any = None) -> Any:
    if isinstance(task, Mapping):
        return task.get(name, default)
    return getattr(task, name, default)


@dataclass
class EvaluationReport:
    """Summary numbers of one evaluation, plus the per-task table (a pandas DataFrame)."""

    n: int
    success_rate: float
    mean_steps: float
    tool_call_validity: float
    latency_mean_s: float
    latency_median_s: float
    table: pd.DataFrame = field(repr=False)

    def summary(self) -> dict[str, float]:
        """The headline numbers as a plain dict (for JSON and for glue)."""
        return {
            "n": self.n,
            "success_rate": self.success_rate,
            "mean_steps": self.mean_steps,
            "tool_call_validity": self.tool_call_validity,
            "latency_mean_s": self.latency_mean_s,
            "latency_median_s": self.latency_median_s,
        }


def evaluate_agent(
    agent: Any,
    tasks: Iterable[Any],
    rel_tol: float = 1e-2,
    on_result: Callable[[Any, AgentResult], None] | None = None,
) -> EvaluationReport:
    """Run ``agent`` on each task and score it (chapter 7).

    success rate = successes / n; mean steps = steps per task (model replies, or the notation
    reader's call and answer); tool-call validity = valid calls / all steps (a reply is valid when
    it parses, names a known tool and its arguments fit the schema); latency = wall-clock seconds
    per task (mean and median). The table also keeps each run's
    :attr:`~companion.agent.loop.AgentResult.confidence` (None for models that do not report token
    probabilities). ``on_result`` is called after each task (for progress or for keeping traces).
    """
    rows = []
    valid = replies = 0
    for task in tasks:
        question, gold = _field(task, "task", _field(task, "question")), _field(task, "answer")
        if not isinstance(question, str) or gold is None:
            raise ValueError(
                f"each task needs a 'task' (or 'question') string and an 'answer', got {task!r}")
        result: AgentResult = agent.run(question)
        if on_result is not None:
            on_result(task, result)
        ok = result.stopped_because == StopReason.FINAL_ANSWER and answer_matches(
            result.answer, str(gold), rel_tol
        )
        n_valid = sum(step.valid_call for step in result.steps)
        valid += n_valid
        replies += len(result.steps)
        rows.append(
            {
                "id": _field(task, "id", len(rows)),
                "task": question,
                "expected": str(gold),
                "answer": result.answer,
                "success": ok,
                "steps": len(result.steps),
                "valid_calls": n_valid,
                "tools": " > ".join(s.call.name if s.call else "?" for s in result.steps),
                "stopped_because": result.stopped_because,
                "seconds": result.duration_s,
                "confidence": result.confidence,
            }
        )
    if not rows:
        raise ValueError("no tasks to evaluate; expected at least one")
    table = pd.DataFrame(rows)
    return EvaluationReport(
        n=len(rows),
        success_rate=float(table["success"].mean()),
        mean_steps=float(table["steps"].mean()),
        tool_call_validity=valid / replies if replies else 0.0,
        latency_mean_s=float(table["seconds"].mean()),
        latency_median_s=float(statistics.median(table["seconds"])),
        table=table,
    )
