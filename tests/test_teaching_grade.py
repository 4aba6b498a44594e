"""The grader's parts, in this process: failing values explained, libraries restored after a
patch, a check namespace the student cannot rebind, submissions read cell by cell as the student
numbers them, and notebooks that are not the assignment refused before anything runs."""

from __future__ import annotations

import builtins

import nbformat
import pytest
import torch

from companion.teaching import grade as G
from companion.teaching import harness as H
from companion.teaching import notebooks as N
from companion.teaching import source as S


def _failure(code: str, namespace: dict) -> str:
    try:
        exec(compile(code, "<check>", "exec"), namespace)
    except AssertionError as err:
        return H.explain(err, code, "<check>", namespace)
    raise AssertionError("the check was meant to fail")


def test_a_failing_bare_assert_shows_its_test_and_both_values():
    namespace = {"f": lambda n: [n] * 2}
    text = _failure("x = 1\nassert f(3) == [3, 3, 3]\n", namespace)
    assert text == ("AssertionError: `f(3) == [3, 3, 3]` is false "
                    "(`f(3)` = [3, 3]; `[3, 3, 3]` = [3, 3, 3])")
    assert _failure("assert False, 'the reason'", {}) == "AssertionError: the reason"
    assert _failure("assert 1 > 2 and True", {}) == "AssertionError: `1 > 2 and True` is false"


def test_the_guard_puts_patched_library_code_back_and_names_it():
    real_close, real_all = torch.testing.assert_close, torch.Tensor.all
    guard = H.Guard({})
    try:
        torch.testing.assert_close = lambda *a, **k: None
        torch.Tensor.all = lambda self, *a, **k: True
        changed = guard.changes(restore=True)
        assert "torch.testing.assert_close" in changed
        assert "torch.Tensor.all" in changed
        assert torch.testing.assert_close is real_close and torch.Tensor.all is real_all
        assert guard.changes(restore=False) == []
    finally:
        torch.testing.assert_close = real_close
        if "all" in vars(torch.Tensor) and torch.Tensor.all is not real_all:
            del torch.Tensor.all


def test_a_check_sees_the_teachers_names_and_builtins_whatever_the_student_rebinds():
    teacher = {"models": [1, 2, 3], "torch": torch}
    guard = H.Guard(teacher)
    teacher["models"].clear()  # the student empties the teacher's data in place
    student = {**teacher, "torch": None, "models": [], "all": lambda x: True,
               "masked_attention": len, "_private": 1}
    namespace = guard.check_namespace(student)
    assert namespace["models"] == [1, 2, 3] and namespace["torch"] is torch
    assert namespace["masked_attention"] is len
    assert "all" not in namespace and "_private" not in namespace
    assert namespace["__builtins__"] is builtins


def test_a_submission_is_read_with_the_cell_numbers_the_student_sees():
    assignment = S.load_assignment("ch03_attention")
    nb = N.build_notebook(assignment, "student")
    shared = next(c for c in nb.cells if c.cell_type == "code" and "import torch" in c.source)
    shared.source = "import torch\ntorch.testing.assert_close = None"  # edited set-up: ignored
    nb.cells.insert(4, nbformat.v4.new_code_cell("helper = 1"))
    submission = N.read_submission(nb, assignment)
    numbers = {n: (origin, code.splitlines()[0]) for n, origin, code in submission.cells}
    assert numbers[3][0] == "teacher" and "assert_close" not in dict(
        (n, c) for n, _, c in submission.cells)[3]
    assert numbers[5] == ("student", "helper = 1")
    assert all(not code.startswith("%%check") for _, _, code in submission.cells)
    assert [(q, i) for q, i, _, _ in submission.checks] == [
        ("masked_attention", 1), ("cached_causal_mask", 1), ("repeat_kv", 1)]


def test_written_answers_are_read_from_their_cells():
    assignment = S.load_assignment("ch06_evaluation")
    nb = N.build_notebook(assignment, "student")
    cell = next(c for c in nb.cells if "written" in c.metadata.get("tags", []))
    cell.source = "ROUGE-L misses paraphrases."
    assert N.read_submission(nb, assignment).written == {
        "metric_choice": "ROUGE-L misses paraphrases."}


@pytest.mark.parametrize("nb, problem", [
    (None, "could not read the notebook"),
    (N.build_notebook(S.load_assignment("ch06_evaluation"), "student"),
     "this notebook is for ch06_evaluation, not ch03_attention"),
    (nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
     "this notebook is not ch03_attention: it has none of its cells"),
])
def test_a_notebook_that_is_not_the_assignment_scores_zero_without_running(nb, problem):
    grade = G.grade_notebook(nb, "eve", S.load_assignment("ch03_attention"))
    assert grade.problem == problem and grade.total == 0 and grade.results == {}
