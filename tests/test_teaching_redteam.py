"""The grader against hostile submissions (tests/teaching_redteam/): forged results and patched
checks score what the honest answers deserve, a submission that kills, forks, hangs, floods or
tampers harms no classmate, and every hostile one gets a clear, bounded result."""

from __future__ import annotations

import csv
import hashlib
import os
import time
from pathlib import Path

import nbformat
import pytest

from companion.teaching import grade as G
from companion.teaching import notebooks as N
from companion.teaching import sandbox
from companion.teaching import source as S

REDTEAM = Path(__file__).parent / "teaching_redteam"
LIMITS = {"time_limit": 10.0, "cell_limit": 10.0}

pytestmark = pytest.mark.skipif(
    sandbox.isolation() != "namespaces",
    reason="hostile submissions are only safe to run in the namespaced sandbox (Linux, root)")


def answered(name: str, solved: set[str] | None = None, replace: dict[str, str] | None = None):
    """The student notebook with the solution of each question in ``solved`` (all if None) and
    the given code in place of the answers named in ``replace``."""
    assignment = S.load_assignment(name)
    nb = N.build_notebook(assignment, "student")
    solutions = {c.question: S.solution_source(c.source) for c in assignment.cells
                 if c.kind == "solution"}
    for cell in nb.cells:
        if "answer" in cell.metadata.get("tags", []) and cell.cell_type == "code":
            question = next(q for q in solutions if f"def {_function(q, assignment)}" in
                            cell.source or q in cell.source)
            if replace and question in replace:
                cell.source = replace[question]
            elif solved is None or question in solved:
                cell.source = solutions[question]
    return nb


def _function(question: str, assignment: S.Assignment) -> str:
    source = next(c.source for c in assignment.cells
                  if c.kind == "solution" and c.question == question)
    return source.split("def ", 1)[1].split("(", 1)[0]


def hostile(nb, attack: str):
    nb.cells.append(nbformat.v4.new_code_cell((REDTEAM / f"{attack}.py").read_text()))
    return nb


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _harness_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"companion.teaching.harness" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _scores(path: Path) -> dict[str, str]:
    with open(path, newline="") as f:
        return {row["student"]: row["total"] for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def history_class(tmp_path_factory):
    """Two honest students and every hostile one, graded together (ch01_history, 8 points)."""
    root = tmp_path_factory.mktemp("redteam")
    submitted, out = root / "submitted", root / "grades"
    submitted.mkdir()
    students = {
        "ada": answered("ch01_history"),
        "bob": answered("ch01_history", solved={"largest_per_year"}),
        "x_forge_results": hostile(answered("ch01_history", solved=set()), "forge_results"),
        "x_forge_replies": hostile(answered("ch01_history", solved=set()), "forge_replies"),
        "x_parent_kill": hostile(answered("ch01_history"), "parent_kill"),
        "x_tamper": hostile(answered("ch01_history"), "tamper_classmates"),
        "x_fork_sleepers": hostile(answered("ch01_history"), "fork_sleepers"),
        "x_baseexception": hostile(answered("ch01_history"), "baseexception_loop"),
        "x_huge_output": hostile(answered("ch01_history"), "huge_output"),
    }
    hang = answered("ch01_history")
    hang.cells.insert(3, nbformat.v4.new_code_cell((REDTEAM / "module_level_hang.py").read_text()))
    students["x_module_hang"] = hang
    for student, nb in students.items():
        nbformat.write(nb, submitted / f"{student}.ipynb")
    (submitted / "x_not_utf8.ipynb").write_bytes(b'{"cells": [\xff\xfe\x00 not a notebook')
    nbformat.write(N.build_notebook(S.load_assignment("ch06_evaluation"), "solution"),
                   submitted / "x_wrong_assignment.ipynb")
    before = {**_digests(submitted), **_digests(N.BOOK_DIR)}
    G.grade_folder(submitted, "ch01_history", out, **LIMITS)
    folder = out / "ch01_history"
    return {"scores": _scores(folder / "scores.csv"),
            "feedback": {p.stem: p.read_text() for p in (folder / "feedback").glob("*.md")},
            "before": before, "after": {**_digests(submitted), **_digests(N.BOOK_DIR)},
            "root": root}


def test_honest_students_keep_their_scores_beside_hostile_ones(history_class):
    scores = history_class["scores"]
    assert scores["points possible"] == "8"
    assert (scores["ada"], scores["bob"]) == ("8", "2")


@pytest.mark.parametrize("student", ["x_forge_results", "x_forge_replies"])
def test_forged_results_score_what_the_stubbed_answers_deserve(history_class, student):
    assert history_class["scores"][student] == "0"


def test_the_grader_notes_lines_written_to_its_reply_channel(history_class):
    assert "reply channel; they were ignored" in history_class["feedback"]["x_forge_replies"]


@pytest.mark.parametrize("student", ["x_parent_kill", "x_tamper", "x_fork_sleepers",
                                     "x_huge_output", "x_module_hang"])
def test_an_attack_beside_right_answers_costs_nothing_but_its_own_cell(history_class, student):
    assert history_class["scores"][student] == "8"
    assert "Cells of your notebook that did not run" in history_class["feedback"][student] or \
        student in ("x_tamper", "x_fork_sleepers")


def test_a_hang_that_swallows_every_exception_costs_only_its_question(history_class):
    assert history_class["scores"]["x_baseexception"] == "5"
    feedback = history_class["feedback"]["x_baseexception"]
    assert "## family_share: 0 / 3" in feedback and "time limit reached (10 s)" in feedback
    assert "## doubling_time: 3 / 3" in feedback


def test_a_module_level_hang_is_named_by_its_real_cell_number(history_class):
    assert "- cell 4 (`import time`): stopped at the time limit" in \
        history_class["feedback"]["x_module_hang"]


def test_a_parent_kill_is_reported_as_the_process_ending(history_class):
    assert "the process was ended by SIGKILL" in history_class["feedback"]["x_parent_kill"]


def test_no_submission_changed_a_file_or_left_a_process_behind(history_class):
    assert history_class["after"] == history_class["before"]
    assert _harness_processes() == []
    assert not list(history_class["root"].rglob("filler.bin"))


def test_unreadable_and_wrong_notebooks_get_a_clear_zero(history_class):
    assert history_class["scores"]["x_not_utf8"] == "0"
    assert "could not read the notebook" in history_class["feedback"]["x_not_utf8"]
    assert "this notebook is for ch06_evaluation, not ch01_history" in \
        history_class["feedback"]["x_wrong_assignment"]


WRONG_ATTENTION = '''def masked_attention(q, k, v, mask=None):
    weights = (q @ k.transpose(-2, -1)).softmax(dim=-1)  # no scaling and no mask
    return weights @ v, weights
'''


def test_patched_checks_score_what_the_honest_answers_deserve(tmp_path):
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    honest = answered("ch03_attention", replace={"masked_attention": WRONG_ATTENTION})
    nbformat.write(honest, submitted / "honest.ipynb")
    for attack in ("patch_checks", "patch_at_call"):
        nb = answered("ch03_attention", replace={"masked_attention": WRONG_ATTENTION})
        nbformat.write(hostile(nb, attack), submitted / f"{attack}.ipynb")
    G.grade_folder(submitted, "ch03_attention", tmp_path / "grades", **LIMITS)
    folder = tmp_path / "grades" / "ch03_attention"
    scores = _scores(folder / "scores.csv")
    assert scores == {"points possible": "10", "honest": "6", "patch_checks": "6",
                      "patch_at_call": "6"}
    feedback = (folder / "feedback" / "patch_at_call.md").read_text()
    assert "the submission changed library code the checks use" in feedback


def test_regrading_one_student_updates_their_row_and_keeps_the_others(tmp_path):
    submitted, out = tmp_path / "submitted", tmp_path / "grades"
    submitted.mkdir()
    nbformat.write(answered("ch01_history", solved=set()), submitted / "ada.ipynb")
    nbformat.write(answered("ch01_history"), submitted / "bob.ipynb")
    G.grade_folder(submitted, "ch01_history", out, **LIMITS)
    nbformat.write(answered("ch01_history"), submitted / "ada.ipynb")  # a corrected, late file
    G.grade_folder(submitted, "ch01_history", out, students=["ada"], **LIMITS)
    assert _scores(out / "ch01_history" / "scores.csv") == {
        "points possible": "8", "ada": "8", "bob": "8"}
    with pytest.raises(ValueError, match=r"no submission for \['cy'\]"):
        G.grade_folder(submitted, "ch01_history", out, students=["cy"])


def test_a_killed_grading_run_keeps_the_students_already_graded(tmp_path):
    import subprocess
    import sys

    submitted, out = tmp_path / "submitted", tmp_path / "grades"
    submitted.mkdir()
    for student in ("ada", "bob", "cy"):
        nbformat.write(answered("ch01_history"), submitted / f"{student}.ipynb")
    run = subprocess.Popen([sys.executable, "-m", "companion.teaching.grade", "ch01_history",
                            str(submitted), "--out", str(out)], cwd=S.REPO_ROOT,
                           env={**os.environ, "PYTHONPATH": str(S.REPO_ROOT)},
                           stdout=subprocess.DEVNULL, start_new_session=True)
    sheet = out / "ch01_history" / "scores.csv"
    deadline = time.monotonic() + 900  # generous: the machine may be busy
    while time.monotonic() < deadline and not (sheet.exists() and "ada" in sheet.read_text()):
        time.sleep(0.2)
    os.killpg(run.pid, 9)
    run.wait()
    scores = _scores(sheet)
    assert scores["ada"] == "8" and "cy" not in scores
