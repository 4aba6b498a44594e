"""Recompute the gold answers of the reader question set from their solutions (chapter 7).

    python scripts/make_reader_gold.py           # check: exit 1 naming every answer that differs
    python scripts/make_reader_gold.py --write   # store each computed number as the answer

Numbers are computed with the agent's own tools (``companion.agent.tools``), facts are read from
the knowledge base's ``facts`` fields (``companion.agent.reader_questions.solve``). ``--write``
rewrites only numeric answers; a name answer is chosen by hand and only checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from companion.agent.reader_questions import (
    READER_QUESTIONS,
    gold_problem,
    knowledge_base_facts,
    load_reader_questions,
    solve,
)
from companion.files import write_jsonl_atomically
from companion.numbers import leading_number as gold_number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store computed numeric answers")
    parser.add_argument("--path", type=Path, default=READER_QUESTIONS, help="the JSONL file")
    args = parser.parse_args(argv)
    records = load_reader_questions(args.path)
    facts = knowledge_base_facts()
    if args.write:
        changed = 0
        for record in records:
            computed = solve(record["solution"], facts)
            if gold_number(computed) is not None and record["answer"] != computed:
                record["answer"] = computed
                changed += 1
        write_jsonl_atomically(args.path, records)
        print(f"wrote {len(records)} questions ({changed} answers changed)")
    problems = [p for p in (gold_problem(r, facts) for r in records) if p is not None]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} of {len(records)} gold answers differ", file=sys.stderr)
        return 1
    print(f"{len(records)} questions: every gold answer is what its solution computes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
