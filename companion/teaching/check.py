"""A student's public score: run a notebook top to bottom in a fresh process and every public
check it holds, as the grader would (book/teaching.md).

    python -m companion.teaching.check ch03_attention.ipynb
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import nbformat

from companion.teaching.grade import DEFAULT_SETUP_LIMIT, Grade, grade_notebook
from companion.teaching.notebooks import assignment_of, read_submission
from companion.teaching.source import Assignment, Cell, Question


def public_assignment(nb: nbformat.NotebookNode) -> Assignment:
    """The assignment as a student's notebook knows it: its public checks and their points."""
    name = assignment_of(nb)
    if name is None:
        raise ValueError("this notebook was not generated as an assignment (no 'assignment' "
                         "metadata); check the notebook you were given")
    empty = Assignment(name, name, [])
    cells, questions = [], {}
    for question, _index, points, code in read_submission(nb, empty).checks:
        cells.append(Cell("public", code, question, points or 1.0))
        total = questions.get(question, Question(question, 0.0)).points + (points or 1.0)
        questions[question] = Question(question, total)
    if not cells:
        raise ValueError("this notebook has no %%check cells")
    return Assignment(name, name, cells, questions)


def check_notebook(path: str | Path) -> tuple[Assignment, Grade]:
    """Grade ``path`` against its own public checks, on this machine, in a fresh process."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    assignment = public_assignment(nb)
    # every cell counts as the student's here, the slow imports of the set-up cell included
    return assignment, grade_notebook(nb, path.stem, assignment, isolate=False,
                                      cell_limit=DEFAULT_SETUP_LIMIT)


def report(assignment: Assignment, grade: Grade, possible: dict[str, float]) -> str:
    """What the student reads: each public check, then the public score."""
    lines = []
    for check in assignment.checks:
        result = grade.results.get((check.question, check.index))
        status = "passed" if result and result.passed else (
            f"not passed: {result.error}" if result else "not run")
        lines.append(f"{check.question} check {check.index} "
                     f"({assignment.check_points(check):.3g} points): {status}")
    lines += [f"cell {n} did not run: {error}" for n, (_, error) in grade.cell_errors.items()]
    if grade.problem:
        lines.append(f"problem: {grade.problem}")
    public = round(assignment.total_points, 2)
    lines.append(f"public checks: {grade.total:g} of {public:g} points; the assignment is worth "
                 f"{sum(possible.values()):g}, the rest in hidden checks and written answers")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """The student's command (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m companion.teaching.check",
                                     description="Your public score for one notebook.")
    parser.add_argument("notebook", type=Path)
    args = parser.parse_args(argv)
    assignment, grade = check_notebook(args.notebook)
    possible = nbformat.read(args.notebook, as_version=4).metadata["assignment"]["points"]
    print(report(assignment, grade, possible))


if __name__ == "__main__":
    main()
