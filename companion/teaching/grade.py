"""Grading a class: each submission in a sandboxed process driven one step at a time, scores
counted by the grader, written after every student (book/teaching.md).

    python -m companion.teaching.grade ch06_evaluation submitted/ --out grades/

For each submission the grader starts :mod:`companion.teaching.harness` in the sandbox
(:mod:`companion.teaching.sandbox`), sends it the teacher's set-up cells, a snapshot command, the
student's cells and then every check, each with a fresh nonce, and waits for the one reply that
carries it. A step past its limit, or a process that dies, is killed with its whole process group;
the grader starts a new process, replays the cells that worked and goes on with the next
question, so a hang costs only its own question. Each check the grader sent counts once, worth
its share of its question's points.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import secrets
import select
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from companion.teaching import sandbox
from companion.teaching.notebooks import Submission, assignment_of, read_submission
from companion.teaching.source import REPO_ROOT, Assignment, Check, load_assignment

DEFAULT_CELL_LIMIT = 20.0
"""Seconds for one of the student's cells."""
DEFAULT_SETUP_LIMIT = 300.0
"""Seconds for the teacher's set-up cells together (they import torch), and as much again for
the checks' imports and the snapshot; teacher's code, so only a bound for a broken machine."""
GRACE = 2.0
"""Seconds past a limit before the process is killed rather than asked to stop."""
_HARNESS = [sys.executable, "-c", "from companion.teaching.harness import main; main()"]
_MAX_REPLY = 1 << 20


@dataclass
class Result:
    """The outcome of one check."""

    passed: bool
    error: str | None = None


@dataclass
class Grade:
    """One student's result: points per question and what the feedback file says."""

    student: str
    scores: dict[str, float]
    results: dict[tuple[str, int], Result] = field(default_factory=dict)
    cell_errors: dict[int, tuple[str, str]] = field(default_factory=dict)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """The sum over the automatically graded questions."""
        return round(sum(self.scores.values()), 2)


def score(assignment: Assignment, results: dict[tuple[str, int], Result]) -> dict[str, float]:
    """Points per automatically graded question: its points times the weight share of the checks
    that passed. A check with no result (not reached) has failed; a result for a check the
    assignment does not have counts for nothing, so no question exceeds its points."""
    out = {}
    for name, question in assignment.questions.items():
        if question.written:
            continue
        checks = [c for c in assignment.checks if c.question == name]
        passed = sum(c.weight for c in checks
                     if (r := results.get((c.question, c.index))) is not None and r.passed)
        out[name] = round(question.points * passed / sum(c.weight for c in checks), 2)
    return out


def _check_imports(checks: Sequence[Check]) -> list[str]:
    """The checks' top-level imports, run before any student code (references come first)."""
    out = []
    for check in checks:
        try:
            tree = ast.parse(check.code)
        except SyntaxError:
            continue
        out += [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return out


class _Process:
    """One harness process and the reply pipe the grader reads."""

    def __init__(self, workdir: Path, limits: sandbox.Limits, stderr, isolate: bool) -> None:
        read, write = os.pipe()
        try:
            self.process = sandbox.start(_HARNESS, workdir, REPO_ROOT, limits, write, stderr,
                                         isolate)
        finally:
            os.close(write)
        self.replies, self.buffer, self.stray = read, b"", 0

    def send(self, command: dict[str, Any], wait: float) -> tuple[str, dict[str, Any] | None]:
        """``("ok", reply)``, ``("timeout", None)`` or ``("died", None)``."""
        nonce = secrets.token_hex(16)
        try:
            self.process.stdin.write(json.dumps({**command, "nonce": nonce}).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return "died", None
        end = time.monotonic() + wait
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    reply = json.loads(line)
                except ValueError:
                    reply = None
                if isinstance(reply, dict) and reply.get("nonce") == nonce:
                    return "ok", reply
                self.stray += 1  # not the answer to this command: written by the submission
            left = end - time.monotonic()
            if left <= 0:
                return "timeout", None
            ready, _, _ = select.select([self.replies], [], [], left)
            if ready:
                data = os.read(self.replies, 65536)
                if not data:
                    return "died", None
                self.buffer = (self.buffer + data)[-_MAX_REPLY:]

    def stop(self) -> str:
        """Kill the process group; say how the process ended if it ended by itself."""
        code = self.process.poll()
        sandbox.stop(self.process)
        os.close(self.replies)
        if code is None:
            return "stopped at the time limit"
        if code < 0:
            return f"the process was ended by {signal.Signals(-code).name}"
        return f"the process exited with code {code}"


def _first_line(code: str) -> str:
    lines = [x.strip() for x in code.splitlines() if x.strip()]
    line = next((x for x in lines if not x.startswith("#")), lines[0] if lines else "")
    return line if len(line) <= 60 else line[:57] + "..."


def grade_notebook(nb: nbformat.NotebookNode | None, student: str, assignment: Assignment, *,
                   cell_limit: float = DEFAULT_CELL_LIMIT, time_limit: float | None = None,
                   setup_limit: float = DEFAULT_SETUP_LIMIT,
                   limits: sandbox.Limits | None = None, isolate: bool = True,
                   checks: Sequence[Check] | None = None) -> Grade:
    """Grade one submitted notebook (None: unreadable) in the sandbox. Never raises for a bad
    submission: a crash, a hang or a hostile notebook becomes a :class:`Grade` with a note.

    ``time_limit`` (seconds per question) overrides the source's; ``checks`` replaces the
    source's checks (the student's ``check`` command passes the public ones).
    """
    zero = {n: 0.0 for n, q in assignment.questions.items() if not q.written}
    if nb is None:
        return Grade(student, zero, problem="could not read the notebook")
    made_for = assignment_of(nb)
    if made_for is not None and made_for != assignment.name:
        return Grade(student, zero, problem=f"this notebook is for {made_for}, not "
                                            f"{assignment.name}")
    submission = read_submission(nb, assignment)
    if made_for is None and not any(o == "teacher" and n for n, o, _ in submission.cells):
        return Grade(student, zero, problem=f"this notebook is not {assignment.name}: it has "
                                            "none of its cells")
    checks = list(assignment.checks if checks is None else checks)
    grade = Grade(student, zero, written=submission.written)
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp, \
            open(Path(tmp) / "stderr", "wb") as stderr:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        (workdir / "submission.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
        runner = _Runner(submission, checks, grade, workdir, limits or sandbox.Limits(), stderr,
                         isolate, cell_limit, setup_limit)
        runner.grade_questions(assignment, time_limit)
    grade.scores = score(assignment, grade.results)
    return grade


class _Runner:
    """The step-by-step protocol of :func:`grade_notebook`, restarts included."""

    def __init__(self, submission: Submission, checks: list[Check], grade: Grade, workdir: Path,
                 limits: sandbox.Limits, stderr, isolate: bool, cell_limit: float,
                 setup_limit: float) -> None:
        self.submission, self.checks, self.grade = submission, checks, grade
        self.workdir, self.limits, self.stderr, self.isolate = workdir, limits, stderr, isolate
        self.cell_limit, self.setup_limit = cell_limit, setup_limit
        self.starts = 0
        self.stray = 0

    def _boot(self) -> _Process | None:
        """A process with the teacher's set-up, the snapshot and the student's working cells."""
        while self.starts <= len(self.submission.cells) + len(self.checks) + 2:
            self.starts += 1
            process = _Process(self.workdir, self.limits, self.stderr, self.isolate)
            cells = self.submission.cells
            prelude = 0
            while prelude < len(cells) and cells[prelude][1] == "teacher":
                prelude += 1
            steps = [("cell", c) for c in cells[:prelude]] + [("snapshot", None)] + [
                ("cell", c) for c in cells[prelude:]]
            setup_end = time.monotonic() + self.setup_limit
            restart = False
            for kind, cell in steps:
                if kind == "snapshot":
                    status, reply = process.send(
                        {"op": "snapshot", "imports": _check_imports(self.checks)},
                        self.setup_limit + GRACE)  # the checks' imports: a budget of their own
                    if status != "ok":
                        how = process.stop()
                        self.grade.problem = (f"the grader's set-up did not finish ({how}); not "
                                              "the student's doing: grade them again with "
                                              "--student")
                        return None
                    continue
                number, origin, code = cell
                if number in self.grade.cell_errors:
                    continue  # it failed before; running it again would change nothing
                limit = (max(setup_end - time.monotonic(), 1) if origin == "teacher"
                         else self.cell_limit)
                status, reply = process.send({"op": "run", "kind": "cell", "code": code,
                                              "label": f"<cell {number}>", "limit": limit},
                                             limit + GRACE)
                if status == "ok":
                    if reply["error"] is not None:
                        self.grade.cell_errors[number] = (_first_line(code), reply["error"])
                    continue
                how = process.stop()
                self.stray += process.stray
                if origin == "teacher":
                    self.grade.problem = (f"the teacher's set-up cell {number} did not finish "
                                          f"({how}); not the student's doing: grade them again "
                                          "with --student")
                    return None
                self.grade.cell_errors[number] = (_first_line(code), how)
                restart = True
                break
            if not restart:
                return process
        self.grade.problem = "the submission was restarted too often; later checks not run"
        return None

    def grade_questions(self, assignment: Assignment, time_limit: float | None) -> None:
        by_question: dict[str, list[Check]] = {}
        for check in self.checks:
            by_question.setdefault(check.question, []).append(check)
        process = self._boot()
        for question, group in by_question.items():
            if process is None:
                break
            limit = time_limit or assignment.questions[question].time_limit
            deadline = time.monotonic() + limit
            for i, check in enumerate(group):
                left = deadline - time.monotonic()
                key = (check.question, check.index)
                if left <= 0:
                    self.grade.results[key] = Result(False, "not run: the question's time limit "
                                                            f"({limit:g} s) was used up")
                    continue
                status, reply = process.send(
                    {"op": "run", "kind": "check", "code": check.code, "limit": left,
                     "question": question,
                     "label": f"<{question} check {check.index}>"}, left + GRACE)
                if status == "ok":
                    error = reply["error"]
                    if reply["tampered"]:
                        error = ("the submission changed library code the checks use: "
                                 + ", ".join(reply["tampered"]))
                    self.grade.results[key] = Result(error is None, error)
                    continue
                how = process.stop()
                self.stray += process.stray
                self.grade.results[key] = Result(False, how if how != "stopped at the time limit"
                                                 else f"time limit reached ({limit:g} s)")
                for later in group[i + 1:]:
                    self.grade.results[(later.question, later.index)] = Result(
                        False, "not run: an earlier check of this question did not finish")
                process = self._boot()
                break
        if process is not None:
            process.stop()
            self.stray += process.stray
        if self.stray:
            self.grade.notes.append(f"the submission wrote {self.stray} line(s) to the grader's "
                                    "reply channel; they were ignored")
        tail = self.stderr.name and Path(self.stderr.name)
        if tail and tail.exists() and "MemoryError" in tail.read_bytes()[-4000:].decode(
                errors="replace"):
            self.grade.notes.append("the submission ran out of memory at least once")


def feedback(assignment: Assignment, grade: Grade) -> str:
    """The Markdown feedback for one student: score per question, each check with its points and
    message, the cells that did not run (numbered as in the notebook)."""
    auto = sum(q.points for q in assignment.questions.values() if not q.written)
    lines = [f"# {assignment.title}: feedback for {grade.student}", "",
             f"Total: **{grade.total:g} / {auto:g}** points graded automatically."]
    written = [n for n, q in assignment.questions.items() if q.written]
    if written:
        lines.append(f"Written answers ({', '.join(written)}) are graded by hand.")
    lines.append("")
    if grade.problem:
        lines += [f"Problem: {grade.problem}.", ""]
    lines += [f"Note: {note}." for note in grade.notes] + ([""] if grade.notes else [])
    if grade.cell_errors:
        lines.append("Cells of your notebook that did not run (numbered from the top, every "
                     "cell counted):")
        lines += [f"- cell {n} (`{first}`): {error}"
                  for n, (first, error) in sorted(grade.cell_errors.items())]
        lines.append("")
    for name, question in assignment.questions.items():
        if question.written:
            lines += [f"## {name}: written, {question.points:g} points, graded by hand", ""]
            continue
        lines.append(f"## {name}: {grade.scores[name]:g} / {question.points:g}")
        for check in (c for c in assignment.checks if c.question == name):
            kind = "hidden" if check.hidden else "public"
            result = grade.results.get((name, check.index))
            status = ("not run" if result is None else "passed" if result.passed
                      else f"failed: {result.error}")
            about = f" ({check.message})" if check.message else ""
            points = assignment.check_points(check)
            lines.append(f"- {kind} check {check.index}, {points:.3g} point"
                         f"{'' if points == 1 else 's'}{about}: {status}")
        lines.append("")
    return "\n".join(lines)


def read_notebook(data: bytes) -> nbformat.NotebookNode | None:
    """A submitted file as a notebook, or None if it is not one (bad JSON, not UTF-8...)."""
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # noqa: BLE001 - any unreadable file is a graded problem, not a crash
        return None


def grade_folder(folder: str | Path, assignment: Assignment | str, out: str | Path, *,
                 students: Sequence[str] = (), **options) -> list[Grade]:
    """Grade every ``*.ipynb`` in ``folder`` (the file name is the student; ``students`` picks
    some) into ``out/<assignment>/``: ``scores.csv`` rewritten after each student (rows of
    students graded earlier and not now are kept), ``feedback/<student>.md`` and the written
    answers for hand grading (:mod:`companion.teaching.gradebook`). Every file is read before
    the first submission runs, so no submission can change a classmate's."""
    from companion.teaching import gradebook

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"submissions folder {str(folder)!r} does not exist")
    if isinstance(assignment, str):
        assignment = load_assignment(assignment)
    paths = sorted(folder.glob("*.ipynb"))
    if students:
        unknown = set(students) - {p.stem for p in paths}
        if unknown:
            raise ValueError(f"no submission for {sorted(unknown)} in {str(folder)!r}")
        paths = [p for p in paths if p.stem in students]
    files = {p.stem: p.read_bytes() for p in paths}
    sheet = gradebook.Sheet(Path(out) / assignment.name, assignment)
    grades = []
    for student, data in files.items():
        grade = grade_notebook(read_notebook(data), student, assignment, **options)
        sheet.record(grade, feedback(assignment, grade))
        grades.append(grade)
    return grades


def main(argv: Sequence[str] | None = None) -> None:
    """The teacher's command (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m companion.teaching.grade",
                                     description="Grade a folder of submitted notebooks.")
    parser.add_argument("assignment", help="e.g. ch03_attention")
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--out", type=Path, default=Path("grades"))
    parser.add_argument("--student", action="append", default=[],
                        help="grade only this student (repeatable); other rows are kept")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per question")
    parser.add_argument("--cell-limit", type=float, default=DEFAULT_CELL_LIMIT,
                        help="seconds per student cell")
    args = parser.parse_args(argv)
    print(f"isolation: {sandbox.isolation()}")
    grades = grade_folder(args.submissions, args.assignment, args.out, students=args.student,
                          time_limit=args.time_limit, cell_limit=args.cell_limit)
    for grade in grades:
        print(f"{grade.student}: {grade.total:g}" + (f" ({grade.problem})" if grade.problem
                                                     else ""))
    print(f"wrote {args.out / args.assignment / 'scores.csv'} and {len(grades)} feedback files")


if __name__ == "__main__":
    main()
