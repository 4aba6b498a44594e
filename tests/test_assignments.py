"""The classroom assignments: every check can pass and can fail, students see no answers, the
book's student notebooks are current, and the source format rejects what it cannot grade."""

from __future__ import annotations

import contextlib
import io
import signal

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell

from companion.teaching import grade as G
from companion.teaching import harness as H
from companion.teaching import notebooks as N
from companion.teaching import source as S

NAMES = [a.name for a in S.all_assignments()]


def run_in_process(assignment: S.Assignment, nb) -> tuple[dict, dict]:
    """The grader's steps on one shell in this process (fast; the sandboxed path is tested in
    test_teaching_grade.py): cell errors by cell number, and a Result per check."""
    submission = N.read_submission(nb, assignment)
    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    harness = H.Harness(shell)
    previous = signal.signal(signal.SIGALRM, H._on_alarm)
    errors, results = {}, {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            snapshot_taken = False
            for number, origin, code in submission.cells:
                if origin == "student" and not snapshot_taken:
                    harness.handle({"op": "snapshot", "imports": G._check_imports(
                        assignment.checks)})
                    snapshot_taken = True
                reply = harness.handle({"op": "run", "kind": "cell", "code": code,
                                        "limit": 60, "label": f"<cell {number}>"})
                if reply["error"]:
                    errors[number] = reply["error"]
            if not snapshot_taken:
                harness.handle({"op": "snapshot", "imports": []})
            for check in assignment.checks:
                reply = harness.handle({"op": "run", "kind": "check", "code": check.code,
                                        "limit": 60, "label": f"<{check.question}>",
                                        "question": check.question})
                results[(check.question, check.index)] = G.Result(
                    reply["error"] is None and not reply["tampered"], reply["error"])
    finally:
        signal.signal(signal.SIGALRM, previous)
    return errors, results


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], tuple[dict, dict]]:
    """Every assignment's solution and student notebooks, run once."""
    return {(a.name, v): run_in_process(a, N.build_notebook(a, v))
            for a in S.all_assignments() for v in ("solution", "student")}


def test_there_is_an_assignment_for_every_chapter_with_3_to_6_questions():
    assert [name[:4] for name in NAMES] == [f"ch0{i}" for i in range(1, 8)]
    for assignment in S.all_assignments():
        assert 3 <= len(assignment.questions) <= 6, assignment.name
        for name, question in assignment.questions.items():
            checks = [c for c in assignment.checks if c.question == name]
            if question.written:
                assert not checks and assignment.rubric(name), name
            else:
                assert any(not c.hidden for c in checks) and any(c.hidden for c in checks), name


@pytest.mark.parametrize("name", NAMES)
def test_solutions_pass_every_check(runs, name):
    errors, results = runs[(name, "solution")]
    assignment = S.load_assignment(name)
    assert errors == {}
    assert {k: r.error for k, r in results.items() if not r.passed} == {}
    assert len(results) == len(assignment.checks)
    assert G.score(assignment, results) == {n: q.points for n, q in
                                            assignment.questions.items() if not q.written}


@pytest.mark.parametrize("name", NAMES)
def test_stubs_fail_every_check_and_the_student_notebook_runs(runs, name):
    errors, results = runs[(name, "student")]
    assert errors == {}, "every student cell must run without error"
    assert [k for k, r in results.items() if r.passed] == []
    assert sum(G.score(S.load_assignment(name), results).values()) == 0


def _code_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")}


def secret_lines(assignment: S.Assignment) -> set[str]:
    """Lines of solutions and hidden checks that the student version must not contain."""
    solution_lines = set().union(*(_code_lines(S.solution_source(c.source)) for c in
                                   assignment.cells if c.kind == "solution"))
    stub_lines = set().union(*(_code_lines(S.stub_source(c.source, "q")) for c in
                               assignment.cells if c.kind == "solution"))
    hidden_lines = set().union(*(_code_lines(c.code) for c in assignment.checks if c.hidden))
    given = set().union(*(_code_lines(c.source) for c in assignment.cells
                          if c.kind in ("shared", "public")))
    return (solution_lines | hidden_lines) - stub_lines - given


@pytest.mark.parametrize("name", NAMES)
def test_student_version_contains_no_solution_code_and_no_hidden_check(name):
    assignment = S.load_assignment(name)
    student = N.build_notebook(assignment, "student")
    text = "\n".join(cell.source for cell in student.cells)
    shown = _code_lines("\n".join(c.source for c in student.cells if c.cell_type == "code"))
    secret = secret_lines(assignment)
    assert secret, "the test must have something to look for"
    assert shown & secret == set(), f"{name}: the student version shows {shown & secret}"
    assert sum("check" in c.metadata.get("tags", []) for c in student.cells) == sum(
        not c.hidden for c in assignment.checks)
    assert "BEGIN SOLUTION" not in text and "--hidden" not in text and "# STUB" not in text
    for question in (q for q in assignment.questions.values() if q.written):
        assert assignment.rubric(question.name) not in text


@pytest.mark.parametrize("name", NAMES)
def test_book_student_notebooks_are_generated_from_the_current_sources(name):
    stored = nbformat.read(N.BOOK_DIR / f"{name}.ipynb", as_version=4)
    fresh = N.build_notebook(S.load_assignment(name), "student")
    assert [(c.cell_type, c.source) for c in stored.cells] == [
        (c.cell_type, c.source) for c in fresh.cells]
    assert stored.metadata["assignment"] == fresh.metadata["assignment"]


@given(st.data())
def test_score_is_points_times_the_weight_share_of_checks_passed_and_never_more(data):
    assignment = S.load_assignment("ch03_attention")
    checks = assignment.checks
    passed = data.draw(st.lists(st.booleans(), min_size=len(checks), max_size=len(checks)))
    reached = data.draw(st.lists(st.booleans(), min_size=len(checks), max_size=len(checks)))
    results = {(c.question, c.index): G.Result(p)
               for c, p, r in zip(checks, passed, reached, strict=True) if r}
    # results for checks the assignment does not have count for nothing
    results.update({(c.question, c.index + 100): G.Result(True) for c in checks})
    results[("no_such_question", 1)] = G.Result(True)
    scores = G.score(assignment, results)
    assert set(scores) == set(assignment.questions)
    for name, question in assignment.questions.items():
        mine = [p and r for c, p, r in zip(checks, passed, reached, strict=True)
                if c.question == name]
        assert scores[name] == round(question.points * sum(mine) / len(mine), 2)
        assert 0 <= scores[name] <= question.points


def test_check_weights_share_a_questions_points():
    source = ("# %% [markdown] question=q points=3\n# Q\n# %% public\n# the easy case\nassert 1\n"
              "# %% hidden weight=2\nassert 1\n")
    assignment = S.parse_assignment(source, "w")
    first, second = assignment.checks
    assert (first.message, first.weight, second.weight) == ("the easy case", 1.0, 2.0)
    assert (assignment.check_points(first), assignment.check_points(second)) == (1.0, 2.0)
    scores = G.score(assignment, {("q", 2): G.Result(True), ("q", 1): G.Result(False)})
    assert scores == {"q": 2.0}


def test_stub_replaces_each_block_by_its_stub_lines_or_not_implemented():
    source = ("def f(x):\n    # BEGIN SOLUTION\n    return x + 1\n    # STUB return x\n"
              "    # END SOLUTION\n\n\ndef g():\n    # BEGIN SOLUTION\n    return 2\n"
              "    # END SOLUTION")
    assert S.stub_source(source, "q1") == (
        'def f(x):\n    return x\n\n\ndef g():\n'
        '    raise NotImplementedError("write your answer to q1 here")')
    assert S.solution_source(source) == "def f(x):\n    return x + 1\n\n\ndef g():\n    return 2"


@pytest.mark.parametrize("source, message", [
    ("# %% public\nassert True", "must follow a question"),
    ("# %% [markdown] question=q points=1\n# Q\n# %% answer\nx = 1", "unknown cell header"),
    ("# %% [markdown] question=q points=1\n# Q\n# %% solution\nx = 1", "BEGIN SOLUTION"),
    ("# %% [markdown] question=q points=1\n# Q", "has no public or hidden check"),
    ("# %% [markdown] question=q pts=1\n# Q", "cannot read 'pts=1'"),
    ("# %% [markdown] question=q points=two\n# Q", "points must be a number, got 'two'"),
    ("# %% [markdown] question=q points=1\n# Q\n# %% hidden weight=0\nassert 1",
     "weight must be positive, got '0'"),
    ("# %% [markdown] question=q points=1 written\n# Q", "has no rubric cell"),
    ("# %% [markdown] question=q points=1 written\n# Q\n# %% public\nassert 1",
     "is a written question"),
    ("no cells", "no '# %%' cell markers"),
])
def test_malformed_sources_are_rejected_with_the_reason(source, message):
    with pytest.raises(ValueError, match=message):
        S.parse_assignment(source, "bad")


def test_a_module_level_solution_block_is_rejected_because_the_student_cell_would_raise():
    source = ("# %% [markdown] question=q points=1\n# Q\n# %% solution\n# BEGIN SOLUTION\nx = 1\n"
              "# END SOLUTION\n# %% public\nassert x == 1")
    with pytest.raises(ValueError, match="module level"):
        S.stub_source(S.parse_assignment(source, "bad").cells[1].source, "q")


def test_check_magic_reports_pass_failure_points_and_message_without_raising():
    shell = InteractiveShell.instance()
    N.load_ipython_extension(shell)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert shell.run_cell("%%check q1 1 points=2\n# sums work\nassert 1 + 1 == 2").success
        assert shell.run_cell("%%check q2 1 points=1\nraise NotImplementedError('write it')"
                              ).success
    assert out.getvalue().splitlines() == [
        "[passed] q1 1, 2 points: sums work",
        "[not passed] q2 1, 1 point: NotImplementedError: write it"]
