"""Grading a class of 30 (chapter 1's assignment) with and without 3 hostile submissions, with
the grader's default limits: what hostile work costs the teacher in wall-clock time (issue 28's
bar: at most 2 minutes more). The hostile three are the costliest of tests/teaching_redteam/: a
function that never returns and swallows every exception, a cell that hangs the same way, and a
cell that kills every process it can.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import nbformat

from companion.teaching import grade, notebooks, sandbox, source

REDTEAM = Path(__file__).resolve().parent.parent / "tests" / "teaching_redteam"
NAME = "ch01_history"


def _class(folder: Path, hostile: bool) -> None:
    assignment = source.load_assignment(NAME)
    solutions = [source.solution_source(c.source) for c in assignment.cells
                 if c.kind == "solution"]
    for i in range(30):  # 10 full marks, 10 with the first answer only, 10 untouched
        nb = notebooks.build_notebook(assignment, "student")
        answers = [c for c in nb.cells if "answer" in c.metadata.get("tags", [])]
        for cell, solution in zip(answers, solutions[: 3 if i < 10 else 1 if i < 20 else 0],
                                  strict=False):
            cell.source = solution
        nbformat.write(nb, folder / f"student{i:02d}.ipynb")
    if hostile:
        for attack in ("baseexception_loop", "module_level_hang", "parent_kill"):
            nb = notebooks.build_notebook(assignment, "solution")
            nb.cells.append(nbformat.v4.new_code_cell((REDTEAM / f"{attack}.py").read_text()))
            nbformat.write(nb, folder / f"x_{attack}.ipynb")


def _time(hostile: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submitted"
        folder.mkdir()
        _class(folder, hostile)
        start = time.perf_counter()
        grade.grade_folder(folder, NAME, Path(tmp) / "grades")
        return time.perf_counter() - start


def run() -> list[dict]:
    honest = _time(hostile=False)
    mixed = _time(hostile=True)
    mode = sandbox.isolation()
    return [
        {"name": f"grade 30 honest ({mode})", "value": round(honest, 1), "unit": "s",
         "reference": None, "ratio": None},
        {"name": "grade 30 honest + 3 hostile", "value": round(mixed, 1), "unit": "s",
         "reference": "30 honest", "ratio": round(mixed / honest, 2)},
        {"name": "cost of the 3 hostile", "value": round(mixed - honest, 1), "unit": "s",
         "reference": "bar: 120 s", "ratio": round((mixed - honest) / 120, 2)},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
