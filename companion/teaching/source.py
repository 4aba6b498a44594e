"""The assignment source format: one percent-format file per chapter (book/teaching.md).

``assignments/chNN_topic.py`` is an ordinary Python file cut into cells by ``# %%`` lines, so ruff
lints it. What a cell is comes after the ``# %%``:

- ``# %% [markdown]``: prose, every line a ``# `` comment. ``question=NAME points=N`` after
  ``[markdown]`` opens a question (``time_limit=S`` overrides the per-question time limit;
  the word ``written`` makes it a question answered in prose and graded by hand).
- ``# %%`` alone: code shared by every version (imports, data, helpers).
- ``# %% solution``: code with ``# BEGIN SOLUTION`` / ``# END SOLUTION`` blocks. The student gets
  each block replaced by ``raise NotImplementedError(...)``, or by the lines written
  ``# STUB <code>`` inside the block (how a student receives broken code to fix).
- ``# %% public`` / ``# %% hidden`` (optionally ``weight=N``, default 1): one check each (plain
  ``assert`` statements) of the question opened last; its leading ``#`` comment lines are the
  check's message. Students see the public ones; only the grader has the hidden ones.
- ``# %% rubric``: the marking guide of a written question (``#`` comment lines), for the teacher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIR = REPO_ROOT / "assignments"
KINDS: tuple[str, ...] = ("markdown", "shared", "solution", "public", "hidden", "rubric")
DEFAULT_TIME_LIMIT = 20.0
"""Seconds for all the checks of one question together."""

_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
_BEGIN, _END, _STUB = "# BEGIN SOLUTION", "# END SOLUTION", "# STUB "


@dataclass(frozen=True)
class Cell:
    """One cell of an assignment source: its kind, its text, its question and check weight."""

    kind: str
    source: str
    question: str | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class Question:
    """A graded exercise: ``points`` shared by its checks in proportion to their weights,
    ``time_limit`` s for them all; a ``written`` question is graded by hand with its rubric."""

    name: str
    points: float
    time_limit: float = DEFAULT_TIME_LIMIT
    written: bool = False


@dataclass(frozen=True)
class Check:
    """One check of one question: plain Python that raises if the answer is wrong."""

    question: str
    index: int
    hidden: bool
    code: str
    weight: float = 1.0
    message: str = ""


@dataclass
class Assignment:
    """A parsed assignment source: cells in order, questions by name."""

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
                                 cell.source, cell.weight, check_message(cell.source)))
        return out

    @property
    def total_points(self) -> float:
        """The most a submission can score, written questions included."""
        return sum(q.points for q in self.questions.values())

    def check_points(self, check: Check) -> float:
        """The points one check is worth: its share of the question by weight."""
        total = sum(c.weight for c in self.checks if c.question == check.question)
        return self.questions[check.question].points * check.weight / total

    def rubric(self, question: str) -> str:
        """The marking guide of a written question."""
        return "\n".join(c.source for c in self.cells
                         if c.kind == "rubric" and c.question == question)


def check_message(code: str) -> str:
    """A check's message: its leading ``#`` comment lines, joined."""
    lines = []
    for line in code.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    return " ".join(lines)


def _parse_options(words: list[str], where: str, allowed: tuple[str, ...],
                   flags: tuple[str, ...] = ()) -> dict[str, str]:
    options = {}
    for word in words:
        if word in flags:
            options[word] = "yes"
            continue
        key, sep, value = word.partition("=")
        if not sep or key not in allowed:
            expected = ", ".join([f"{k}=..." for k in allowed] + list(flags))
            raise ValueError(f"{where}: cannot read {word!r}; expected {expected}")
        options[key] = value
    return options


def _number(value: str, what: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{where}: {what} must be a number, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"{where}: {what} must be positive, got {value!r}")
    return number


def parse_assignment(text: str, name: str) -> Assignment:
    """Cut percent-format source into cells and questions (format in the module docstring).

    Raises ``ValueError`` naming the line for an unknown cell kind, a check before any question,
    a solution cell without a ``# BEGIN SOLUTION`` block, a question without a check (or a
    written one without a rubric).
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
            options = _parse_options(words[1:], where, ("question", "points", "time_limit"),
                                     ("written",))
            if "question" in options:
                current = options["question"]
                if not current.isidentifier() or current in questions:
                    raise ValueError(f"{where}: question name {current!r} must be a new identifier")
                questions[current] = Question(
                    current, _number(options.get("points", "1"), "points", where),
                    _number(options.get("time_limit", str(DEFAULT_TIME_LIMIT)), "time_limit",
                            where),
                    "written" in options)
            prose = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cells.append(Cell("markdown", prose, current))
            continue
        kind = words[0] if words else "shared"
        if kind not in KINDS[1:]:
            raise ValueError(f"{where}: unknown cell header {header!r}; expected nothing, "
                             "'solution', 'public', 'hidden', 'rubric' or '[markdown] ...'")
        options = _parse_options(words[1:], where, ("weight",) if kind in ("public", "hidden")
                                 else ())
        if kind != "shared" and current is None:
            raise ValueError(f"{where}: a {kind} cell must follow a question=... markdown cell")
        if kind == "solution" and _BEGIN not in body:
            raise ValueError(f"{where}: a solution cell needs a {_BEGIN!r} ... {_END!r} block")
        if kind in ("public", "hidden", "solution") and questions[current].written:
            raise ValueError(f"{where}: {current!r} is a written question; it takes a rubric "
                             f"cell, not a {kind} cell")
        weight = _number(options.get("weight", "1"), "weight", where)
        cells.append(Cell(kind, body, current if kind != "shared" else None, weight))
    for question in questions.values():
        kinds = {c.kind for c in cells if c.question == question.name}
        if question.written and "rubric" not in kinds:
            raise ValueError(f"{name}: written question {question.name!r} has no rubric cell")
        if not question.written and not kinds & {"public", "hidden"}:
            raise ValueError(f"{name}: question {question.name!r} has no public or hidden check")
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
