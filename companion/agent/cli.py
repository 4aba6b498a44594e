"""The agent from a terminal (chapter 7): ``python -m companion.agent`` runs :func:`main`.

::

    python -m companion.agent "What is 15% of 80?"
    python -m companion.agent --trace "How many years passed between BERT and GPT-2?"
    python -m companion.agent --min-confidence 0.5       # then one question per line

Each question is checked first (:func:`companion.agent.questions.check_question`): an empty one, one
too long, or one not written in English is answered with a message, and when no question needs it
the model is never loaded. With questions on the command line, each is a fresh task. Without,
questions are read one per line from standard input until an empty line or end of input.
``--memory`` gives the agent conversation and retrieval memory across the questions; it is off by
default because chapter 7 measured that it costs the shipped model accuracy on single tasks.

Each answer is printed with the run's confidence (the probability of the least sure token the
model chose; an answer of the notation reader says so instead, since no model ran); below
``--min-confidence`` the answer is flagged for a person to check: selective answering. The
threshold is the reader's to choose; the lab notes show how one was chosen on a validation split.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

from companion.agent.questions import QuestionError, check_question

if TYPE_CHECKING:  # the loop imports torch: the command line does so only once a question needs it
    from companion.agent.loop import Agent, AgentResult


def build_default_agent(max_steps: int, memory: bool) -> Agent:
    """The default agent (:func:`companion.agent.build.build_default_agent`), imported when a
    question needs an agent, with its model loaded when a question first needs the model (a
    question the notation reader answers does not)."""
    from companion.agent.build import build_default_agent as build
    from companion.agent.memory import Memory

    return build(max_steps=max_steps, memory=Memory() if memory else None, lazy=True)


def shorten(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters with its length said when longer."""
    line = " ".join(text.split())
    return line if len(line) <= limit else f"{line[:limit]}... ({len(text):,} characters)"


def describe(result: AgentResult, min_confidence: float | None = None, trace: bool = False) -> str:
    """The answer, or why there is none, with the run's confidence, steps and seconds; the
    steps themselves when ``trace``; a warning when confidence is below ``min_confidence``."""
    from companion.agent.loop import StopReason

    lines = []
    if trace:
        for row in result.trace():
            what = row["tool"] or "(unparsed)"
            lines.append(f"  {row['step']}. {what} {row['arguments'] or ''}")
            if row["observation"]:
                lines.append(f"     -> {row['observation'][:200]}")
    if result.stopped_because == StopReason.REFUSED:
        return f"not asked: {result.refusal}"
    if result.stopped_because == StopReason.FINAL_ANSWER:
        lines.append(f"answer: {result.answer}")
    else:
        lines.append(f"no answer: the run stopped on its {result.stopped_because} budget")
    sure = result.confidence
    sure_text = "unknown" if sure is None else f"{sure:.2f}"
    steps = f"{len(result.steps)} step" + ("s" if len(result.steps) != 1 else "")
    how = "read as notation, no model" if result.notation else f"confidence {sure_text}"
    lines.append(f"{how}, {steps}, {result.duration_s:.1f} s")
    if min_confidence is not None and sure is not None and sure < min_confidence:
        lines.append(f"unsure: confidence {sure:.2f} < {min_confidence:.2f}; "
                     "have a person check this answer")
    return "\n".join(lines)


def _questions(stream: TextIO) -> Iterator[str]:
    for line in stream:
        if not line.strip():
            return
        yield line.strip()


def main(argv: list[str] | None = None, stdin: TextIO | None = None) -> int:
    """Answer the questions; 0 when every question was asked, 1 when some were refused."""
    parser = argparse.ArgumentParser(prog="python -m companion.agent",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="*", help="tasks; none: read one per line from stdin")
    parser.add_argument("--trace", action="store_true", help="print every step")
    parser.add_argument("--min-confidence", type=float, default=None,
                        help="flag answers whose confidence is below this (0-1)")
    parser.add_argument("--max-steps", type=int, default=4, help="model replies per task")
    parser.add_argument("--memory", action="store_true",
                        help="remember earlier questions and answers (conversation and retrieval)")
    args = parser.parse_args(argv)
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        parser.error(f"--min-confidence must be between 0 and 1, got {args.min_confidence}")
    if args.max_steps < 1:
        parser.error(f"--max-steps must be at least 1, got {args.max_steps}")
    stream = stdin or sys.stdin
    questions: Iterable[str] = args.questions or _questions(stream)
    if not args.questions and stream.isatty():
        print("One question per line; an empty line ends.", file=sys.stderr)
    agent, refused = None, 0
    for question in questions:
        print(f"> {shorten(question)}")
        try:
            check_question(question)
        except QuestionError as err:
            print(f"not asked: {err}", flush=True)
            refused += 1
            continue
        if agent is None:
            agent = build_default_agent(max_steps=args.max_steps, memory=args.memory)
        print(describe(agent.run(question), args.min_confidence, args.trace), flush=True)
    return 1 if refused else 0
