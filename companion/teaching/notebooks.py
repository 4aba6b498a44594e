"""Student and solution notebooks from an assignment source, the ``%%check`` magic students run,
and reading a submitted notebook back (book/teaching.md).

    python -m companion.teaching.notebooks student  --out book/assignments
    python -m companion.teaching.notebooks solution --out solutions/
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from companion.teaching.source import (
    REPO_ROOT,
    Assignment,
    all_assignments,
    check_message,
    load_assignment,
    solution_source,
    stub_source,
)

BOOK_DIR = REPO_ROOT / "book" / "assignments"
CHECK_MAGIC = "%%check"
LOAD_CELL = "%load_ext companion.teaching.notebooks"
WRITTEN_PROMPT = "*Write your answer to {question} here, in place of this line.*"


def _check_cell(assignment: Assignment, index: int, question: str, code: str,
                hidden: bool) -> nbformat.NotebookNode:
    check = next(c for c in assignment.checks if c.question == question and c.index == index)
    flag = " --hidden" if hidden else ""
    line = f"{CHECK_MAGIC} {question} {index} points={assignment.check_points(check):.3g}{flag}"
    return nbformat.v4.new_code_cell(f"{line}\n{code}", metadata={"tags": ["check"]})


def build_notebook(assignment: Assignment, version: str) -> nbformat.NotebookNode:
    """The ``student`` or ``solution`` notebook of an assignment.

    Student: solution blocks stubbed, hidden checks and rubrics removed, a markdown answer cell
    for each written question. Solution: solutions in place, hidden checks after the public ones,
    rubrics shown.
    """
    if version not in ("student", "solution"):
        raise ValueError(f"version must be 'student' or 'solution', got {version!r}")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["assignment"] = {
        "name": assignment.name,
        "points": {n: q.points for n, q in assignment.questions.items()},
        "written": [n for n, q in assignment.questions.items() if q.written]}
    cells = []
    counts: dict[str, int] = {}
    for i, cell in enumerate(assignment.cells):
        if cell.kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
            if i == 0:  # the checks need the magic: load it right under the title
                cells.append(nbformat.v4.new_code_cell(LOAD_CELL))
            question = assignment.questions.get(cell.question)
            if question is not None and question.written and (
                    i + 1 == len(assignment.cells) or assignment.cells[i + 1].question
                    != cell.question or assignment.cells[i + 1].kind != "markdown"):
                cells.append(nbformat.v4.new_markdown_cell(
                    WRITTEN_PROMPT.format(question=cell.question),
                    metadata={"tags": ["answer", "written"], "question": cell.question}))
        elif cell.kind == "shared":
            cells.append(nbformat.v4.new_code_cell(cell.source))
        elif cell.kind == "solution":
            code = (stub_source(cell.source, cell.question) if version == "student"
                    else solution_source(cell.source))
            cells.append(nbformat.v4.new_code_cell(code, metadata={"tags": ["answer"]}))
        elif cell.kind == "rubric":
            if version == "solution":
                cells.append(nbformat.v4.new_markdown_cell(
                    "**Rubric** (for the teacher)\n\n" + "\n".join(
                        line.lstrip("# ") if line.startswith("#") else line
                        for line in cell.source.splitlines())))
        else:
            counts[cell.question] = counts.get(cell.question, 0) + 1
            if cell.kind == "public" or version == "solution":
                cells.append(_check_cell(assignment, counts[cell.question], cell.question,
                                         cell.source, cell.kind == "hidden"))
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


# --- reading a submission -----------------------------------------------------------------------


@dataclass
class Submission:
    """What a submitted notebook contributes, in its own cell order.

    ``cells``: ``(cell number, origin, code)`` with origin ``"teacher"`` for a shared cell (its
    code taken from the source, whatever the notebook holds) or ``"student"`` (answer cells and
    cells the student added). Cell numbers count every cell of the notebook from 1, as a student
    sees them. ``written``: the text of each written answer. ``checks``: the notebook's own
    public checks (what the student can see), used by the ``check`` command.
    """

    cells: list[tuple[int, str, str]] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)
    checks: list[tuple[str, int, float, str]] = field(default_factory=list)


def assignment_of(nb: nbformat.NotebookNode) -> str | None:
    """The assignment a notebook was generated for (its metadata), or None."""
    meta = nb.metadata.get("assignment")
    return meta.get("name") if isinstance(meta, dict) else None


def read_submission(nb: nbformat.NotebookNode, assignment: Assignment) -> Submission:
    """Split a submitted notebook into teacher cells, student cells and written answers."""
    reference = build_notebook(assignment, "student")
    shared = {c.id: c.source for c in reference.cells
              if c.cell_type == "code" and "answer" not in c.metadata.get("tags", [])
              and not c.source.startswith((CHECK_MAGIC, LOAD_CELL))}
    seen: set[str] = set()
    out = Submission()
    for number, cell in enumerate(nb.cells, start=1):
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        cell_id = cell.get("id")
        if cell.cell_type == "markdown" and "written" in cell.metadata.get("tags", []):
            question = cell.metadata.get("question")
            if question in assignment.questions:
                out.written[question] = source.strip()
            continue
        if cell.cell_type != "code" or source.strip() == LOAD_CELL:
            continue
        if source.lstrip().startswith(CHECK_MAGIC):
            words = source.lstrip().splitlines()[0].split()
            if len(words) >= 3 and words[2].isdigit():
                points = next((float(w[7:]) for w in words if w.startswith("points=")), 0.0)
                body = source.split("\n", 1)[1] if "\n" in source else ""
                out.checks.append((words[1], int(words[2]), points, body))
            continue
        if cell_id in shared and cell_id not in seen:
            seen.add(cell_id)
            out.cells.append((number, "teacher", shared[cell_id]))
        else:
            out.cells.append((number, "student", source))
    missing = [code for cell_id, code in shared.items() if cell_id not in seen]
    out.cells[:0] = [(0, "teacher", code) for code in missing]  # a deleted set-up cell comes back
    return out


# --- the %%check magic ------------------------------------------------------------------------


def load_ipython_extension(ipython) -> None:
    """Register ``%%check QUESTION INDEX points=P``: run the cell, print whether the check
    passed, its points and its message; never raise. Also quiets tqdm's note that ipywidgets is
    missing (its text bars are what the notebooks want), which would print a machine path."""
    warnings.filterwarnings("ignore", message="IProgress not found")

    def check(line: str, cell: str) -> None:
        words = line.split()
        label = " ".join(w for w in words[:2]) or "check"
        if "--hidden" in words:
            label += " (hidden)"
        points = next((w[7:] for w in words if w.startswith("points=")), None)
        if points is not None:
            label += f", {points} point" + ("" if points == "1" else "s")
        message = check_message(cell)
        try:
            exec(compile(cell, f"<check {label}>", "exec"), ipython.user_ns)
        except Exception as err:  # a failed check is reported, never raised
            detail = f"{type(err).__name__}: {err}".rstrip(": ")
            print(f"[not passed] {label}: {detail}" + (f" ({message})" if message else ""))
        else:
            print(f"[passed] {label}" + (f": {message}" if message else ""))

    ipython.register_magic_function(check, magic_kind="cell", magic_name="check")


def main(argv: Sequence[str] | None = None) -> None:
    """``student`` / ``solution``: write the notebooks (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m companion.teaching.notebooks",
                                     description="Write student or solution notebooks.")
    parser.add_argument("version", choices=("student", "solution"))
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder (default: book/assignments for student, solutions/ else)")
    args = parser.parse_args(argv)
    out = args.out or (BOOK_DIR if args.version == "student" else Path("solutions"))
    for path in write_notebooks(out, args.version, args.names):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
