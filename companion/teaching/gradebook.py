"""Score sheets kept up to date after every student, hand-graded written answers, and one
gradebook across all assignments for an LMS (book/teaching.md).

    python -m companion.teaching.gradebook grades/ --out gradebook.csv

``grades/<assignment>/`` holds ``scores.csv`` (a ``points possible`` row, then one row per student:
a column per automatically graded question and ``total``), ``feedback/<student>.md``,
``written/<question>.md`` (each student's written answer under the rubric) and ``written.csv``
(``student, question, points, comment``: the teacher fills in ``points``).
"""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from companion.files import write_text_atomically
from companion.teaching.source import Assignment, all_assignments, load_assignment

if TYPE_CHECKING:
    from companion.teaching.grade import Grade

POSSIBLE = "points possible"
WRITTEN_FIELDS = ["student", "question", "points", "comment"]


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _csv_text(fields: list[str], rows: list[dict[str, object]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


class Sheet:
    """The grading folder of one assignment, rewritten after each student graded."""

    def __init__(self, folder: Path, assignment: Assignment) -> None:
        self.folder, self.assignment = folder, assignment
        (folder / "feedback").mkdir(parents=True, exist_ok=True)
        self.auto = [n for n, q in assignment.questions.items() if not q.written]
        self.written = [n for n, q in assignment.questions.items() if q.written]
        self.rows = {row["student"]: row for row in _read_csv(folder / "scores.csv")
                     if row.get("student") != POSSIBLE}
        self.answers: dict[str, dict[str, str]] = {}

    def record(self, grade: Grade, feedback: str) -> None:
        """Add or replace one student's row, feedback and written answers; write them now."""
        self.rows[grade.student] = {"student": grade.student, **{
            n: f"{grade.scores[n]:g}" for n in self.auto}, "total": f"{grade.total:g}"}
        fields = ["student", *self.auto, "total"]
        possible = {"student": POSSIBLE, **{n: f"{self.assignment.questions[n].points:g}"
                                            for n in self.auto},
                    "total": f"{sum(self.assignment.questions[n].points for n in self.auto):g}"}
        table = [possible, *(self.rows[s] for s in sorted(self.rows))]
        write_text_atomically(self.folder / "scores.csv", _csv_text(fields, table))
        write_text_atomically(self.folder / "feedback" / f"{grade.student}.md", feedback)
        if self.written:
            self._record_written(grade)

    def _record_written(self, grade: Grade) -> None:
        path = self.folder / "written.csv"
        rows = _read_csv(path)
        have = {(r["student"], r["question"]) for r in rows}
        rows += [{"student": grade.student, "question": q, "points": "", "comment": ""}
                 for q in self.written if (grade.student, q) not in have]
        rows.sort(key=lambda r: (r["question"], r["student"]))
        write_text_atomically(path, _csv_text(WRITTEN_FIELDS, rows))
        (self.folder / "written").mkdir(exist_ok=True)
        for question in self.written:
            self.answers.setdefault(question, {})[grade.student] = grade.written.get(
                question, "(no answer)")
            page = self.folder / "written" / f"{question}.md"
            known = _read_answers(page)
            known.update(self.answers[question])
            parts = [f"# {self.assignment.name}: {question} "
                     f"({self.assignment.questions[question].points:g} points)", "",
                     "## Rubric", "", self.assignment.rubric(question).replace("# ", ""), ""]
            for student in sorted(known):
                parts += [f"## {student}", "", known[student], ""]
            write_text_atomically(page, "\n".join(parts))


def _read_answers(page: Path) -> dict[str, str]:
    """The answers already on a written-answers page, by student."""
    if not page.exists():
        return {}
    answers: dict[str, str] = {}
    current = None
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("## ") and line != "## Rubric":
            current = line[3:]
            answers[current] = ""
        elif line.startswith("## "):
            current = None
        elif current is not None:
            answers[current] += line + "\n"
    return {k: v.strip() for k, v in answers.items()}


def written_points(folder: Path, assignment: Assignment) -> dict[str, float]:
    """Hand-graded points per student from ``written.csv``; blank cells count 0.

    Raises ``ValueError`` naming the row for points that are not a number in ``[0, points]`` or a
    question that is not a written question of the assignment.
    """
    out: dict[str, float] = {}
    for i, row in enumerate(_read_csv(folder / "written.csv"), start=2):
        question = assignment.questions.get(row.get("question", ""))
        if question is None or not question.written:
            raise ValueError(f"{folder / 'written.csv'}, line {i}: {row.get('question')!r} is not "
                             f"a written question of {assignment.name}")
        text = (row.get("points") or "").strip()
        try:
            points = float(text) if text else 0.0
        except ValueError:
            points = -1.0
        if not 0 <= points <= question.points:
            raise ValueError(f"{folder / 'written.csv'}, line {i}: points {text!r} for "
                             f"{row['student']} must be a number from 0 to {question.points:g}")
        out[row["student"]] = out.get(row["student"], 0.0) + points
    return out


def build_gradebook(grades: str | Path, out: str | Path,
                    assignments: Sequence[Assignment] | None = None) -> list[dict[str, str]]:
    """One row per student, one column per assignment (automatic plus written points; blank if
    not graded), a ``total``, and a ``points possible`` row first; written as CSV to ``out``."""
    grades = Path(grades)
    assignments = list(assignments) if assignments is not None else all_assignments()
    table: dict[str, dict[str, str]] = {}
    for assignment in assignments:
        folder = grades / assignment.name
        rows = {r["student"]: r for r in _read_csv(folder / "scores.csv")
                if r.get("student") != POSSIBLE}
        extra = written_points(folder, assignment) if rows else {}
        for student, row in rows.items():
            total = float(row["total"]) + extra.get(student, 0.0)
            table.setdefault(student, {})[assignment.name] = f"{round(total, 2):g}"
    names = [a.name for a in assignments]
    possible = {"student": POSSIBLE, **{a.name: f"{a.total_points:g}" for a in assignments},
                "total": f"{sum(a.total_points for a in assignments):g}"}
    rows_out = [possible]
    for student in sorted(table):
        total = sum(float(table[student].get(n, 0) or 0) for n in names)
        rows_out.append({"student": student, **{n: table[student].get(n, "") for n in names},
                         "total": f"{round(total, 2):g}"})
    write_text_atomically(Path(out), _csv_text(["student", *names, "total"], rows_out))
    return rows_out


def main(argv: Sequence[str] | None = None) -> None:
    """The teacher's command (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m companion.teaching.gradebook",
                                     description="One CSV row per student across assignments.")
    parser.add_argument("grades", type=Path, help="the --out folder of the grade command")
    parser.add_argument("--out", type=Path, default=Path("gradebook.csv"))
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    args = parser.parse_args(argv)
    chosen = [load_assignment(n) for n in args.names] if args.names else None
    rows = build_gradebook(args.grades, args.out, chosen)
    print(f"wrote {args.out}: {len(rows) - 1} students")


if __name__ == "__main__":
    main()
