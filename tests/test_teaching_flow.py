"""The teaching guide's commands, run as written (book/teaching.md): release a student bundle that
holds no solution, hidden check or rubric; students fill in and check a notebook from the bundle
alone; the teacher grades, re-grades one late file, marks the written answers and exports the
gradebook."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from companion.teaching import notebooks as N
from companion.teaching import release as R
from companion.teaching import source as S

GUIDE = S.REPO_ROOT / "book" / "teaching.md"
PREFIX = ".venv/bin/python -m companion.teaching."


def guide_commands() -> dict[str, list[str]]:
    """Every ``python -m companion.teaching.<module>`` line of the guide's bash blocks, by module
    (in order: the re-grade follows the grade)."""
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    out: dict[str, list[str]] = {}
    for line in "\n".join(blocks).splitlines():
        if line.startswith(PREFIX):
            words = shlex.split(line.split("#")[0])
            out.setdefault(words[2].rsplit(".", 1)[1], []).append(words)
    return out


def run_guide(words: list[str], cwd: Path, pythonpath: Path = S.REPO_ROOT) -> str:
    """Run one guide command with this interpreter in place of ``.venv/bin/python``."""
    done = subprocess.run([sys.executable, *words[1:]], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(pythonpath)}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _normal(text: str) -> str:
    return " ".join(text.split())


def _lines(text: str) -> set[str]:
    return {x.strip() for x in text.splitlines() if len(x.strip()) > 3 and
            not x.strip().startswith("#")}


def test_the_guide_gives_every_step_of_the_flow():
    commands = guide_commands()
    assert set(commands) >= {"release", "notebooks", "check", "grade", "gradebook"}
    assert len(commands["grade"]) == 2 and "--student" in commands["grade"][1]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class")
    run_guide(guide_commands()["release"][0], root)
    return root


def test_the_bundle_holds_no_solution_no_hidden_check_and_no_rubric(bundle):
    handout = bundle / "handout"
    texts = {}
    for path in handout.rglob("*"):
        if path.is_file():
            try:
                texts[path] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary data (adapter weights) holds no code
            if path.suffix == ".ipynb":  # what a student sees: the cells' text
                texts[path] = "\n".join(c.source for c in nbformat.reads(texts[path], 4).cells)
    everything = _normal("\n".join(texts.values()))
    shown = set().union(*(_lines(text) for text in texts.values()))
    published = set().union(*(_lines(p.read_text(encoding="utf-8")) for p in
                              (S.REPO_ROOT / "companion").rglob("*.py")))
    for assignment in S.all_assignments():
        assert (handout / f"{assignment.name}.ipynb").exists()
        blocks = [S.solution_source(c.source) for c in assignment.cells if c.kind == "solution"]
        blocks += [c.code for c in assignment.checks if c.hidden]
        blocks += [assignment.rubric(q) for q, x in assignment.questions.items() if x.written]
        for block in blocks:
            assert _normal(block) not in everything, block[:200]
        # lines found only in the assignment's solutions and hidden checks (not in the book's own
        # code, which the bundle ships on purpose) appear nowhere in the bundle
        given = set().union(*(_lines(c.source) for c in assignment.cells
                              if c.kind in ("shared", "public", "markdown")))
        secret = set().union(*(_lines(b) for b in blocks)) - given - published
        stubs = set().union(*(_lines(S.stub_source(c.source, "q")) for c in assignment.cells
                              if c.kind == "solution"))
        secret -= stubs
        assert len(secret) > 5, assignment.name
        assert secret & shown == set(), assignment.name
    assert not (handout / "assignments").exists() and not (handout / "tests").exists()
    with pytest.raises(ValueError, match="is not empty"):
        R.write_release(handout)


def _fill(nb, solved: set[str], written: str | None = None):
    assignment = S.load_assignment("ch06_evaluation")
    solutions = {c.question: S.solution_source(c.source) for c in assignment.cells
                 if c.kind == "solution"}
    for cell in nb.cells:
        if "answer" not in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "markdown" and written is not None:
            cell.source = written
        for question in solved:
            if cell.cell_type == "code" and f"write your answer to {question} here" in cell.source:
                cell.source = solutions[question]
    return nb


def test_release_submit_check_grade_regrade_mark_and_export(bundle):
    commands = guide_commands()
    handout, submitted = bundle / "handout", bundle / "submitted"
    submitted.mkdir()
    notebook = handout / "ch06_evaluation.ipynb"
    # a student works in the bundle alone: the check command runs with only the bundle on the path
    nbformat.write(_fill(nbformat.read(notebook, as_version=4), {"lcs_length", "rouge_l",
                                                                 "cohen_kappa"},
                         "A paraphrase scores low; exact match after normalising."), notebook)
    out = run_guide(commands["check"][0], handout, pythonpath=handout)
    assert re.search(r"public checks: (\S+) of \1 points; the assignment is worth 10", out), out
    (submitted / "ada.ipynb").write_bytes(notebook.read_bytes())
    bob = _fill(N.build_notebook(S.load_assignment("ch06_evaluation"), "student"), {"lcs_length"})
    nbformat.write(bob, submitted / "bob.ipynb")
    run_guide(commands["grade"][0], bundle)
    folder = bundle / "grades" / "ch06_evaluation"
    with open(folder / "scores.csv", newline="") as f:
        assert {r["student"]: r["total"] for r in csv.DictReader(f)} == {
            "points possible": "8", "ada": "8", "bob": "2"}
    assert "exact match after normalising" in (folder / "written" / "metric_choice.md").read_text()
    # bob hands in a corrected notebook late; only his row changes
    nbformat.write(_fill(bob, {"rouge_l"}), submitted / "bob.ipynb")
    run_guide(commands["grade"][1], bundle)
    with open(folder / "scores.csv", newline="") as f:
        assert {r["student"]: r["total"] for r in csv.DictReader(f)} == {
            "points possible": "8", "ada": "8", "bob": "5"}
    # the teacher marks the written answers, then exports the gradebook
    with open(folder / "written.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["student"], r["question"]) for r in rows] == [("ada", "metric_choice"),
                                                            ("bob", "metric_choice")]
    rows[0]["points"], rows[1]["points"] = "2", "0.5"
    with open(folder / "written.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run_guide(commands["gradebook"][0], bundle)
    with open(bundle / "gradebook.csv", newline="") as f:
        book = {r["student"]: r for r in csv.DictReader(f)}
    assert book["points possible"]["ch06_evaluation"] == "10"
    assert (book["ada"]["ch06_evaluation"], book["bob"]["ch06_evaluation"]) == ("10", "5.5")
    assert book["ada"]["ch01_history"] == "" and book["ada"]["total"] == "10"
    rows[1]["points"] = "3"
    with open(folder / "written.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = subprocess.run([sys.executable, *commands["gradebook"][0][1:]], cwd=bundle,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(S.REPO_ROOT)})
    assert done.returncode != 0 and "points '3' for bob must be a number from 0 to 2" in \
        done.stderr
