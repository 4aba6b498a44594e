"""Classroom assignments with autograded checks, all generated from one source file per chapter.

A teacher runs three commands (see ``book/teaching.md``)::

    python -m companion.assignments student  --out book/assignments    # hand these out
    python -m companion.assignments solution --out answers/            # keep these
    python -m companion.assignments grade ch03_attention submitted/ --out grades/

**The source format.** ``assignments/chNN_topic.py`` is an ordinary Python file cut into cells by
``# %%`` lines (the "percent" format editors understand), so ruff lints it and the tests import
nothing by hand. What a cell is comes after the ``# %%``:

- ``# %% [markdown]``: prose, every line a ``# `` comment. ``question=NAME points=N`` after
  ``[markdown]`` opens a question (``time_limit=S`` overrides the per-question time limit).
- ``# %%`` alone: code shared by every version (imports, data, helpers).
- ``# %% solution``: code with ``# BEGIN SOLUTION`` / ``# END SOLUTION`` blocks. The student gets
  each block replaced by ``raise NotImplementedError(...)``, or by the lines written
  ``# STUB <code>`` inside the block (how a student receives broken code to fix).
- ``# %% public`` / ``# %% hidden``: one check each (plain ``assert`` statements) of the question
  opened last. Students see the public ones, as ``%%check`` cells that report and never raise;
  only the grader has the hidden ones.

**Grading.** Each submission runs in its own Python process (an IPython shell, so magics work):
first the submission's own code cells (its ``%%check`` cells are skipped; the checks come from the
source, so deleting or editing them changes nothing), then every check of every question, each
question under a time limit. A cell that raises is recorded and the run goes on; a question that
hangs is stopped by ``SIGALRM`` and scores 0; a process that dies or hangs in C code is killed and
every question not reached scores 0. A question scores ``points * passed / checks``. This is not a
sandbox: submitted code runs with the grader's rights, so grade untrusted work in a container.

Why not otter-grader: it is the model for this design (its ``# BEGIN SOLUTION`` markers, public
and hidden tests, points per question). Tried offline here, otter-grader 7.0 installs (92 packages,
no torch) and ``otter assign`` and ``otter run`` work without Docker, but ``otter run`` grades one
notebook with no time limit, and grading a folder into one table (``otter grade``) runs each
submission in a Docker container, which a classroom laptop or CI runner may not have. Rebuilding
folder grading, per-question time limits and crash handling around ``otter run`` would leave otter
only its notebook format, so this module is the same idea in one file on top of IPython and
nbformat, which the book already needs.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from companion.paths import REPO_ROOT

SOURCE_DIR = REPO_ROOT / "assignments"
BOOK_DIR = REPO_ROOT / "book" / "assignments"
KINDS: tuple[str, ...] = ("markdown", "shared", "solution", "public", "hidden")
DEFAULT_TIME_LIMIT = 60.0
"""Seconds for all the checks of one question together."""
DEFAULT_SETUP_LIMIT = 300.0
"""Seconds for running all of a submission's own cells."""
CHECK_MAGIC = "%%check"
LOAD_CELL = "%load_ext companion.assignments"
POSSIBLE = "points possible"

_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
_BEGIN, _END, _STUB = "# BEGIN SOLUTION", "# END SOLUTION", "# STUB "


# --- the source format ------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One cell of an assignment source: its kind, its text and the question it belongs to."""

    kind: str
    source: str
    question: str | None = None


@dataclass(frozen=True)
class Question:
    """A graded exercise: ``points`` shared equally by its checks, ``time_limit`` s for them all."""

    name: str
    points: float
    time_limit: float = DEFAULT_TIME_LIMIT


@dataclass(frozen=True)
class Check:
    """One check of one question: plain Python that raises if the answer is wrong."""

    question: str
    index: int
    hidden: bool
    code: str


@dataclass
class Assignment:
    """A parsed assignment source (book/teaching.md): cells in order, questions by name."""

    name: str
    title: str
    cells: list[Cell]
    questions: dict[str, Question] = field(default_factory=dict)

    @property
    def checks(self) -> list[Check]:
        """Every public and hidden check, numbered from 1 within its question."""
        out: list[Check] = []
        counts: dict[str, int] = {}
        for cell in self.cells:
            if cell.kind in ("public", "hidden"):
                counts[cell.question] = counts.get(cell.question, 0) + 1
                out.append(Check(cell.question, counts[cell.question], cell.kind == "hidden",
                                 cell.source))
        return out

    @property
    def total_points(self) -> float:
        """The most a submission can score."""
        return sum(q.points for q in self.questions.values())


def _parse_options(words: list[str], where: str) -> dict[str, str]:
    options = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or key not in ("question", "points", "time_limit"):
            raise ValueError(f"{where}: cannot read {word!r}; expected question=NAME, points=N or "
                             "time_limit=SECONDS")
        options[key] = value
    return options


def parse_assignment(text: str, name: str) -> Assignment:
    """Cut percent-format source into cells and questions (format in the module docstring).

    Raises ``ValueError`` naming the line for an unknown cell kind, a check before any question,
    a solution cell without a ``# BEGIN SOLUTION`` block, or a question without a check.
    """
    blocks: list[tuple[int, str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _HEADER.match(line)
        if match:
            blocks.append((number, match["rest"].strip(), []))
        elif blocks:
            blocks[-1][2].append(line)
    if not blocks:
        raise ValueError(f"{name}: no '# %%' cell markers found")
    cells: list[Cell] = []
    questions: dict[str, Question] = {}
    current: str | None = None
    for number, header, lines in blocks:
        where = f"{name}, line {number}"
        body = "\n".join(lines).strip("\n")
        words = header.split()
        if words[:1] == ["[markdown]"]:
            options = _parse_options(words[1:], where)
            if "question" in options:
                current = options["question"]
                if not current.isidentifier() or current in questions:
                    raise ValueError(f"{where}: question name {current!r} must be a new identifier")
                questions[current] = Question(
                    current, float(options.get("points", 1)),
                    float(options.get("time_limit", DEFAULT_TIME_LIMIT)))
            prose = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cells.append(Cell("markdown", prose, current))
            continue
        kind = words[0] if words else "shared"
        if kind not in KINDS[1:] or len(words) > 1:
            raise ValueError(f"{where}: unknown cell header {header!r}; expected nothing, "
                             "'solution', 'public', 'hidden' or '[markdown] ...'")
        if kind in ("public", "hidden", "solution") and current is None:
            raise ValueError(f"{where}: a {kind} cell must follow a question=... markdown cell")
        if kind == "solution" and _BEGIN not in body:
            raise ValueError(f"{where}: a solution cell needs a {_BEGIN!r} ... {_END!r} block")
        cells.append(Cell(kind, body, current if kind != "shared" else None))
    for question in questions:
        if not any(c.question == question and c.kind in ("public", "hidden") for c in cells):
            raise ValueError(f"{name}: question {question!r} has no public or hidden check")
    title = next((c.source.splitlines()[0].lstrip("# ") for c in cells if c.kind == "markdown"),
                 name)
    return Assignment(name, title, cells, questions)


def load_assignment(name_or_path: str | Path) -> Assignment:
    """Read ``assignments/<name>.py`` (or any path to a source file) into an :class:`Assignment`."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SOURCE_DIR / f"{name_or_path}.py"
    if not path.is_file():
        known = sorted(p.stem for p in SOURCE_DIR.glob("ch*.py"))
        raise ValueError(f"no assignment source {str(name_or_path)!r}; expected one of {known}")
    return parse_assignment(path.read_text(encoding="utf-8"), path.stem)


def all_assignments() -> list[Assignment]:
    """Every ``assignments/ch*.py``, in chapter order."""
    return [load_assignment(p) for p in sorted(SOURCE_DIR.glob("ch*.py"))]


def stub_source(source: str, question: str) -> str:
    """The student's view of a solution cell: each solution block becomes its ``# STUB`` lines,
    or ``raise NotImplementedError`` at the block's indentation."""
    out: list[str] = []
    block: list[str] | None = None
    indent = ""
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == _BEGIN:
            block, indent = [], line[: len(line) - len(line.lstrip())]
        elif stripped == _END:
            if block is None:
                raise ValueError(f"{_END!r} without {_BEGIN!r} in question {question!r}")
            if not block and not indent:
                raise ValueError(f"a solution block of {question!r} is at module level; put it in "
                                 "a function body (or give # STUB lines), so that the student "
                                 "notebook runs")
            out.extend(block or [f'{indent}raise NotImplementedError("write your answer to '
                                 f'{question} here")'])
            block = None
        elif block is not None:
            if stripped.startswith(_STUB):  # the code goes where its "# STUB" comment starts
                block.append(line.replace(_STUB, "", 1))
        else:
            out.append(line)
    if block is not None:
        raise ValueError(f"{_BEGIN!r} without {_END!r} in question {question!r}")
    return "\n".join(out)


def solution_source(source: str) -> str:
    """The solution cell without its markers and ``# STUB`` lines."""
    drop = (_BEGIN, _END)
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in drop and not line.strip().startswith(_STUB))


# --- notebooks ----------------------------------------------------------------------------------


def _check_cell(question: str, code: str, hidden: bool) -> nbformat.NotebookNode:
    flag = " --hidden" if hidden else ""
    return nbformat.v4.new_code_cell(f"{CHECK_MAGIC} {question}{flag}\n{code}",
                                     metadata={"tags": ["check"]})


def build_notebook(assignment: Assignment, version: str) -> nbformat.NotebookNode:
    """The ``student`` or ``solution`` notebook of an assignment (book/teaching.md).

    Student: solution blocks stubbed, hidden checks removed. Solution: solutions in place and the
    hidden checks shown after the public ones.
    """
    if version not in ("student", "solution"):
        raise ValueError(f"version must be 'student' or 'solution', got {version!r}")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cells = []
    for i, cell in enumerate(assignment.cells):
        if cell.kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
            if i == 0:  # the checks need the magic: load it right under the title
                cells.append(nbformat.v4.new_code_cell(LOAD_CELL))
        elif cell.kind == "shared":
            cells.append(nbformat.v4.new_code_cell(cell.source))
        elif cell.kind == "solution":
            code = (stub_source(cell.source, cell.question) if version == "student"
                    else solution_source(cell.source))
            cells.append(nbformat.v4.new_code_cell(code, metadata={"tags": ["answer"]}))
        elif cell.kind == "public" or version == "solution":
            cells.append(_check_cell(cell.question, cell.source, cell.kind == "hidden"))
    for i, cell in enumerate(cells):  # stable ids: regenerating leaves an unchanged file alone
        cell.id = f"{assignment.name}-{i:02d}".replace("_", "-")
    nb.cells = cells
    return nb


def write_notebooks(out: str | Path, version: str, names: Sequence[str] = ()) -> list[Path]:
    """Write the ``version`` notebook of each assignment (all by default) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = [load_assignment(n) for n in names] if names else all_assignments()
    paths = []
    for assignment in chosen:
        path = out / f"{assignment.name}.ipynb"
        nbformat.write(build_notebook(assignment, version), path)
        paths.append(path)
    return paths


def submission_cells(nb: nbformat.NotebookNode) -> list[str]:
    """The code a submission contributes: its code cells minus every ``%%check`` cell."""
    return [c.source for c in nb.cells
            if c.cell_type == "code" and not c.source.lstrip().startswith(CHECK_MAGIC)]


# --- the %%check magic ------------------------------------------------------------------------


def load_ipython_extension(ipython) -> None:
    """Register ``%%check NAME``: run the cell, print whether the check passed, never raise."""

    def check(line: str, cell: str) -> None:
        words = line.split()
        label = (words[0] if words else "check") + (" (hidden)" if "--hidden" in words else "")
        try:
            exec(compile(cell, f"<check {label}>", "exec"), ipython.user_ns)
        except Exception as err:  # a failed check is reported, never raised
            print(f"[not passed] {label}: {type(err).__name__}: {err}".rstrip(": "))
        else:
            print(f"[passed] {label}")

    ipython.register_magic_function(check, magic_kind="cell", magic_name="check")


# --- running a submission -----------------------------------------------------------------------


class CheckTimeout(BaseException):
    """Raised by the alarm inside a cell or check that runs past its limit.

    A ``BaseException``, so that a submission's ``except Exception`` cannot swallow it.
    """


def _on_alarm(signum, frame):
    raise CheckTimeout("time limit reached")


def _seed() -> None:
    random.seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)


def _describe(err: BaseException) -> str:
    if isinstance(err, CheckTimeout):
        return "time limit reached"
    message = str(err).strip().splitlines()
    return f"{type(err).__name__}: {message[0][:300]}" if message else type(err).__name__


def _preload_imports(checks: Sequence[Check], namespace: dict[str, Any]) -> None:
    """Run the checks' top-level imports up front, so that a slow first import (rouge-score pulls
    in nltk) is not charged to a question's time limit nor cut in half by its alarm."""
    for check in checks:
        try:
            tree = ast.parse(check.code)
        except SyntaxError:
            continue  # the check itself will report it
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                with contextlib.suppress(Exception):  # one that fails here fails in its check
                    exec(compile(ast.Module([node], []), "<imports>", "exec"), dict(namespace))


def run_submission(cells: Sequence[str], checks: Sequence[Check], limits: dict[str, float],
                   setup_limit: float = DEFAULT_SETUP_LIMIT, emit=None) -> list[dict[str, Any]]:
    """Run a submission's cells, then every check, in this process; one event dict per step.

    Events: ``{"cell": i, "error": ...}`` for a cell that failed, then
    ``{"question", "index", "hidden", "passed", "error"}`` per check. ``limits`` maps a question to
    the seconds all its checks may take; ``setup_limit`` bounds all cells together.
    """
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    events: list[dict[str, Any]] = []

    def record(event: dict[str, Any]) -> None:
        events.append(event)
        if emit is not None:
            emit(event)

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        deadline = time.monotonic() + setup_limit
        for i, source in enumerate(cells):
            left = deadline - time.monotonic()
            if left <= 0:
                record({"cell": i, "error": "skipped: the cells used up their time limit"})
                continue
            signal.setitimer(signal.ITIMER_REAL, left)
            try:
                result = shell.run_cell(source, store_history=False, silent=True)
            except CheckTimeout as err:
                result = None
                record({"cell": i, "error": _describe(err)})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if result is not None and not result.success:
                err = result.error_in_exec or result.error_before_exec
                record({"cell": i, "error": _describe(err)})
        _preload_imports(checks, shell.user_ns)
        by_question: dict[str, list[Check]] = {}
        for check in checks:
            by_question.setdefault(check.question, []).append(check)
        for question, group in by_question.items():
            deadline = time.monotonic() + limits.get(question, DEFAULT_TIME_LIMIT)
            for check in group:
                error = None
                left = deadline - time.monotonic()
                if left <= 0:
                    error = "time limit reached"
                else:
                    _seed()
                    signal.setitimer(signal.ITIMER_REAL, left)
                    try:
                        exec(compile(check.code, f"<{question} check {check.index}>", "exec"),
                             shell.user_ns)
                    except BaseException as err:  # noqa: BLE001 - a check failure is a score
                        error = _describe(err)
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                record({"question": question, "index": check.index, "hidden": check.hidden,
                        "passed": error is None, "error": error})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return events


def _worker(job_path: str) -> None:
    """Subprocess entry: read the job, delete it (it holds hidden checks), run, stream events."""
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    Path(job_path).unlink()
    checks = [Check(**c) for c in job["checks"]]
    with open(job["events"], "a", encoding="utf-8") as sink:

        def emit(event: dict[str, Any]) -> None:
            sink.write(json.dumps(event) + "\n")
            sink.flush()

        run_submission(job["cells"], checks, job["limits"], job["setup_limit"], emit)


# --- grading ----------------------------------------------------------------------------------


@dataclass
class Grade:
    """One student's result: points per question and what the feedback file says."""

    student: str
    scores: dict[str, float]
    events: list[dict[str, Any]]
    problem: str | None = None

    @property
    def total(self) -> float:
        """The sum over questions."""
        return round(sum(self.scores.values()), 2)


def score(assignment: Assignment, events: Sequence[dict[str, Any]]) -> dict[str, float]:
    """``points * passed / checks`` per question; a check with no event (not reached) failed."""
    passed: dict[str, int] = {}
    for event in events:
        if event.get("passed"):
            passed[event["question"]] = passed.get(event["question"], 0) + 1
    counts: dict[str, int] = {}
    for check in assignment.checks:
        counts[check.question] = counts.get(check.question, 0) + 1
    return {name: round(q.points * passed.get(name, 0) / counts[name], 2)
            for name, q in assignment.questions.items()}


def grade_notebook(path: str | Path, assignment: Assignment,
                   setup_limit: float = DEFAULT_SETUP_LIMIT,
                   time_limit: float | None = None) -> Grade:
    """Grade one submitted notebook in a fresh Python process (book/teaching.md).

    ``time_limit`` (seconds per question) overrides the source's. Never raises for a bad
    submission: an unreadable notebook, a crash or a hang becomes a :class:`Grade` with zeros and
    a ``problem``.
    """
    path = Path(path)
    student = path.stem
    zero = dict.fromkeys(assignment.questions, 0.0)
    try:
        cells = submission_cells(nbformat.read(path, as_version=4))
    except Exception as err:  # any unreadable file is a graded problem, not a crash
        return Grade(student, zero, [], f"could not read the notebook ({_describe(err)})")
    limits = {name: time_limit or q.time_limit for name, q in assignment.questions.items()}
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        events_path = Path(tmp) / "events.jsonl"
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps({
            "cells": cells, "checks": [c.__dict__ for c in assignment.checks],
            "limits": limits, "setup_limit": setup_limit, "events": str(events_path)}))
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        problem = None
        try:
            run = subprocess.run(
                [sys.executable, "-m", "companion.assignments", "_worker", str(job_path)],
                cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, timeout=setup_limit + sum(limits.values()) + 60)
            if run.returncode != 0:
                tail = run.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
                problem = f"the grading process exited with code {run.returncode} {tail[0]}"
        except subprocess.TimeoutExpired:
            problem = "the grading process ran past every time limit and was stopped"
        events = [json.loads(line) for line in events_path.read_text().splitlines()
                  if line.strip()] if events_path.exists() else []
    return Grade(student, score(assignment, events), events, problem)


def feedback(assignment: Assignment, grade: Grade) -> str:
    """The Markdown feedback for one student: score per question, each check, cell errors."""
    lines = [f"# {assignment.title}: feedback for {grade.student}", "",
             f"Total: **{grade.total:g} / {assignment.total_points:g}** points.", ""]
    if grade.problem:
        lines += [f"Problem: {grade.problem}.", ""]
    cell_errors = [e for e in grade.events if "cell" in e]
    if cell_errors:
        lines.append("Your notebook's cells that did not run:")
        lines += [f"- code cell {e['cell'] + 1}: {e['error']}" for e in cell_errors]
        lines.append("")
    reached = {(e["question"], e["index"]): e for e in grade.events if "question" in e}
    for name, question in assignment.questions.items():
        lines.append(f"## {name}: {grade.scores[name]:g} / {question.points:g}")
        for check in (c for c in assignment.checks if c.question == name):
            kind = "hidden" if check.hidden else "public"
            event = reached.get((name, check.index))
            if event is None:
                status = "not run (the grading process stopped before it)"
            else:
                status = "passed" if event["passed"] else f"failed: {event['error']}"
            lines.append(f"- {kind} check {check.index}: {status}")
        lines.append("")
    return "\n".join(lines)


def grade_folder(folder: str | Path, assignment: Assignment | str, out: str | Path,
                 setup_limit: float = DEFAULT_SETUP_LIMIT,
                 time_limit: float | None = None) -> list[Grade]:
    """Grade every ``*.ipynb`` in ``folder`` (the file name is the student) into ``out``.

    Writes ``out/scores.csv`` (a ``points possible`` row, then one row per student: a column per
    question and ``total``) and ``out/feedback/<student>.md``.
    """
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise ValueError(f"submissions folder {str(folder)!r} does not exist")
    if isinstance(assignment, str):
        assignment = load_assignment(assignment)
    grades = [grade_notebook(p, assignment, setup_limit, time_limit)
              for p in sorted(folder.glob("*.ipynb"))]
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    names = list(assignment.questions)
    with open(out / "scores.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *names, "total"])
        writer.writerow([POSSIBLE, *(f"{assignment.questions[n].points:g}" for n in names),
                         f"{assignment.total_points:g}"])
        for grade in grades:
            writer.writerow([grade.student, *(f"{grade.scores[n]:g}" for n in names),
                             f"{grade.total:g}"])
    for grade in grades:
        (out / "feedback" / f"{grade.student}.md").write_text(feedback(assignment, grade),
                                                              encoding="utf-8")
    return grades


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: ``student``, ``solution`` and ``grade`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m companion.assignments",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for version in ("student", "solution"):
        sub = commands.add_parser(version, help=f"write the {version} notebooks")
        sub.add_argument("names", nargs="*", help="assignments (default: all)")
        sub.add_argument("--out", type=Path,
                         default=BOOK_DIR if version == "student" else Path("solutions"))
    sub = commands.add_parser("grade", help="grade a folder of submitted notebooks")
    sub.add_argument("assignment", help="e.g. ch03_attention")
    sub.add_argument("submissions", type=Path)
    sub.add_argument("--out", type=Path, default=Path("grades"))
    sub.add_argument("--time-limit", type=float, default=None, help="seconds per question")
    sub.add_argument("--setup-limit", type=float, default=DEFAULT_SETUP_LIMIT)
    worker = commands.add_parser("_worker")
    worker.add_argument("job")
    args = parser.parse_args(argv)
    if args.command == "_worker":
        _worker(args.job)
    elif args.command == "grade":
        grades = grade_folder(args.submissions, args.assignment, args.out, args.setup_limit,
                              args.time_limit)
        for grade in grades:
            print(f"{grade.student}: {grade.total:g}" + (f" ({grade.problem})" if grade.problem
                                                         else ""))
        print(f"wrote {args.out / 'scores.csv'} and {len(grades)} feedback files")
    else:
        for path in write_notebooks(args.out, args.command, args.names):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
