"""The classroom assignments: every check can pass and can fail, students see no answers, and the
grader scores good, wrong, crashing and hanging submissions without crashing itself."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell

from companion import assignments as A

NAMES = [a.name for a in A.all_assignments()]


def _run(assignment: A.Assignment, version: str) -> list[dict]:
    cells = A.submission_cells(A.build_notebook(assignment, version))
    limits = dict.fromkeys(assignment.questions, 60.0)
    with contextlib.redirect_stdout(io.StringIO()):
        return A.run_submission(cells, assignment.checks, limits)


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], list[dict]]:
    """Every assignment's solution and student notebooks, run in this process once."""
    return {(a.name, v): _run(a, v) for a in A.all_assignments() for v in ("solution", "student")}


def test_there_is_an_assignment_for_every_chapter_with_3_to_6_questions():
    assert [name[:4] for name in NAMES] == [f"ch0{i}" for i in range(1, 8)]
    for assignment in A.all_assignments():
        assert 3 <= len(assignment.questions) <= 6, assignment.name
        for name in assignment.questions:
            checks = [c for c in assignment.checks if c.question == name]
            assert any(not c.hidden for c in checks) and any(c.hidden for c in checks), name


@pytest.mark.parametrize("name", NAMES)
def test_solutions_pass_every_check(runs, name):
    events = runs[(name, "solution")]
    assignment = A.load_assignment(name)
    assert [e for e in events if "cell" in e] == []
    assert [e for e in events if not e["passed"]] == []
    assert len(events) == len(assignment.checks)
    assert A.score(assignment, events) == {n: q.points for n, q in assignment.questions.items()}


@pytest.mark.parametrize("name", NAMES)
def test_stubs_fail_every_check_and_the_student_notebook_runs(runs, name):
    events = runs[(name, "student")]
    assert [e for e in events if "cell" in e] == [], "every student cell must run without error"
    assert [e for e in events if e["passed"]] == []
    assert sum(A.score(A.load_assignment(name), events).values()) == 0


def _code_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")}


@pytest.mark.parametrize("name", NAMES)
def test_student_version_contains_no_solution_code_and_no_hidden_check(name):
    assignment = A.load_assignment(name)
    student = A.build_notebook(assignment, "student")
    text = "\n".join(cell.source for cell in student.cells)
    shown = _code_lines("\n".join(c.source for c in student.cells if c.cell_type == "code"))
    solution_lines = set().union(*(_code_lines(A.solution_source(c.source)) for c in
                                   assignment.cells if c.kind == "solution"))
    stub_lines = set().union(*(_code_lines(A.stub_source(c.source, "q")) for c in
                               assignment.cells if c.kind == "solution"))
    hidden_lines = set().union(*(_code_lines(c.code) for c in assignment.checks if c.hidden))
    given = set().union(*(_code_lines(c.source) for c in assignment.cells
                          if c.kind in ("shared", "public")))
    secret = (solution_lines | hidden_lines) - stub_lines - given
    assert secret, "the test must have something to look for"
    assert shown & secret == set(), f"{name}: the student version shows {shown & secret}"
    assert sum("check" in c.metadata.get("tags", []) for c in student.cells) == sum(
        not c.hidden for c in assignment.checks)
    assert "BEGIN SOLUTION" not in text and "--hidden" not in text and "# STUB" not in text


@pytest.mark.parametrize("name", NAMES)
def test_book_student_notebooks_are_generated_from_the_current_sources(name):
    stored = nbformat.read(A.BOOK_DIR / f"{name}.ipynb", as_version=4)
    fresh = A.build_notebook(A.load_assignment(name), "student")
    assert [(c.cell_type, c.source) for c in stored.cells] == [
        (c.cell_type, c.source) for c in fresh.cells]


@given(st.data())
def test_score_is_points_times_the_fraction_of_checks_passed(data):
    assignment = A.load_assignment("ch03_attention")
    checks = assignment.checks
    passed = data.draw(st.lists(st.booleans(), min_size=len(checks), max_size=len(checks)))
    reached = data.draw(st.lists(st.booleans(), min_size=len(checks), max_size=len(checks)))
    events = [{"question": c.question, "index": c.index, "passed": p}
              for c, p, r in zip(checks, passed, reached, strict=True) if r]
    scores = A.score(assignment, events)
    for name, question in assignment.questions.items():
        mine = [p and r for c, p, r in zip(checks, passed, reached, strict=True)
                if c.question == name]
        assert scores[name] == round(question.points * sum(mine) / len(mine), 2)
        assert 0 <= scores[name] <= question.points


def test_stub_replaces_each_block_by_its_stub_lines_or_not_implemented():
    source = ("def f(x):\n    # BEGIN SOLUTION\n    return x + 1\n    # STUB return x\n"
              "    # END SOLUTION\n\n\ndef g():\n    # BEGIN SOLUTION\n    return 2\n"
              "    # END SOLUTION")
    assert A.stub_source(source, "q1") == (
        'def f(x):\n    return x\n\n\ndef g():\n'
        '    raise NotImplementedError("write your answer to q1 here")')
    assert A.solution_source(source) == "def f(x):\n    return x + 1\n\n\ndef g():\n    return 2"


@pytest.mark.parametrize("source, message", [
    ("# %% public\nassert True", "must follow a question"),
    ("# %% [markdown] question=q points=1\n# Q\n# %% answer\nx = 1", "unknown cell header"),
    ("# %% [markdown] question=q points=1\n# Q\n# %% solution\nx = 1", "BEGIN SOLUTION"),
    ("# %% [markdown] question=q points=1\n# Q", "has no public or hidden check"),
    ("# %% [markdown] question=q pts=1\n# Q", "cannot read 'pts=1'"),
    ("no cells", "no '# %%' cell markers"),
])
def test_malformed_sources_are_rejected_with_the_reason(source, message):
    with pytest.raises(ValueError, match=message):
        A.parse_assignment(source, "bad")


def test_a_module_level_solution_block_is_rejected_because_the_student_cell_would_raise():
    source = ("# %% [markdown] question=q points=1\n# Q\n# %% solution\n# BEGIN SOLUTION\nx = 1\n"
              "# END SOLUTION\n# %% public\nassert x == 1")
    with pytest.raises(ValueError, match="module level"):
        A.stub_source(A.parse_assignment(source, "bad").cells[1].source, "q")


def test_check_magic_reports_pass_and_failure_without_raising():
    shell = InteractiveShell.instance()
    A.load_ipython_extension(shell)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert shell.run_cell("%%check q1\nassert 1 + 1 == 2").success
        assert shell.run_cell("%%check q2\nraise NotImplementedError('write it')").success
    assert out.getvalue().splitlines() == [
        "[passed] q1", "[not passed] q2: NotImplementedError: write it"]


# --- grading a class -------------------------------------------------------------------------

WRONG_ROUGE = '''
def rouge_l(prediction, reference):
    p, r = tokenize(prediction), tokenize(reference)
    if not p or not r:
        return {"precision": 0.0, "recall": 0.0, "fmeasure": 0.0}
    overlap = lcs_length(p, r)
    return {"precision": overlap / len(p), "recall": overlap / len(r),
            "fmeasure": overlap / len(r)}  # wrong: recall is not the F-measure
'''


def _submissions(folder: Path) -> None:
    assignment = A.load_assignment("ch06_evaluation")
    nbformat.write(A.build_notebook(assignment, "solution"), folder / "ada.ipynb")

    partly = A.build_notebook(assignment, "student")
    solution = A.build_notebook(assignment, "solution")
    answers = [c for c in solution.cells if "answer" in c.metadata.get("tags", [])]
    student_answers = [c for c in partly.cells if "answer" in c.metadata.get("tags", [])]
    student_answers[0].source = answers[0].source  # lcs_length right
    student_answers[1].source = WRONG_ROUGE  # rouge_l partly right; cohen_kappa left as the stub
    nbformat.write(partly, folder / "bob.ipynb")

    crashing = A.build_notebook(assignment, "solution")
    crashing.cells = [c for c in crashing.cells if "check" not in c.metadata.get("tags", [])]
    crashing.cells.insert(3, nbformat.v4.new_code_cell("raise RuntimeError('my notebook broke')"))
    crashing.cells.insert(4, nbformat.v4.new_code_cell("import sys\nsys.exit(3)"))
    crashing.cells.append(nbformat.v4.new_code_cell(
        "def rouge_l(prediction, reference):\n    while True:\n        pass"))  # hangs
    nbformat.write(crashing, folder / "cy.ipynb")

    (folder / "dee.ipynb").write_text("{ not a notebook")


def test_grading_a_folder_gives_scores_per_question_and_student_and_feedback(tmp_path):
    submitted, out = tmp_path / "submitted", tmp_path / "grades"
    submitted.mkdir()
    _submissions(submitted)
    A.grade_folder(submitted, "ch06_evaluation", out, setup_limit=60, time_limit=10)
    with open(out / "scores.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["student", "lcs_length", "rouge_l", "cohen_kappa", "total"],
        ["points possible", "2", "3", "3", "8"],
        ["ada", "2", "3", "3", "8"],
        ["bob", "2", "2", "0", "4"],
        ["cy", "2", "0", "3", "5"],
        ["dee", "0", "0", "0", "0"],
    ]
    cy = (out / "feedback" / "cy.md").read_text()
    assert "code cell 3: RuntimeError: my notebook broke" in cy
    assert "public check 1: failed: time limit reached" in cy
    assert "hidden check 2: failed: time limit reached" in cy
    assert "## cohen_kappa: 3 / 3" in cy
    bob = (out / "feedback" / "bob.md").read_text()
    assert "Total: **4 / 8** points." in bob
    # Precision equals recall in the public example, so only a hidden check catches the bug.
    assert "## rouge_l: 2 / 3\n- public check 1: passed\n- hidden check 2: failed: AssertionError" \
        in bob
    assert "NotImplementedError: write your answer to cohen_kappa here" in bob
    assert "could not read the notebook" in (out / "feedback" / "dee.md").read_text()


def test_the_worker_deletes_its_job_file_before_running_submitted_code(tmp_path):
    job, events = tmp_path / "job.json", tmp_path / "events.jsonl"
    probe = f"import os\nJOB_VISIBLE = os.path.exists({str(job)!r})"
    check = A.Check("q", 1, True, "assert not JOB_VISIBLE")
    job.write_text(json.dumps({"cells": [probe], "checks": [check.__dict__], "limits": {"q": 5},
                               "setup_limit": 5, "events": str(events)}))
    with contextlib.redirect_stdout(io.StringIO()):
        A._worker(str(job))
    assert json.loads(events.read_text())["passed"] is True
