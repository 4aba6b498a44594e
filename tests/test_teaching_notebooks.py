"""The generated student notebooks run cleanly where the book runs them: every cell executes in
a Jupyter kernel, and no output carries a warning or a path of the machine that ran it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from companion.teaching import notebooks as N
from companion.teaching import source as S

NAMES = [a.name for a in S.all_assignments()]
MACHINE_PATHS = sorted({str(S.REPO_ROOT), sys.prefix, sys.base_prefix,
                        os.path.expanduser("~") + os.sep, "site-packages"})


def output_text(nb: nbformat.NotebookNode) -> str:
    """Everything a reader of the page would see below the cells."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts += [str(v) for v in output.get("data", {}).values()]
            parts += [output.get("ename", ""), output.get("evalue", "")]
            parts += output.get("traceback", [])
    return "\n".join(parts)


def problems(text: str) -> list[str]:
    """Warnings and machine paths in ``text``."""
    found = [word for word in ("TqdmWarning", "Warning:", "Traceback") if word in text]
    return found + [path for path in MACHINE_PATHS if path in text]


def test_problems_finds_the_tqdm_warning_the_book_used_to_show():
    shown = (f"{sys.prefix}/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: "
             "IProgress not found. Please update jupyter and ipywidgets.")
    assert "TqdmWarning" in problems(shown) and sys.prefix in problems(shown)
    assert problems("[passed] q 1, 2 points") == []


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_executes_with_no_warning_or_machine_path_in_its_output(name):
    nb = N.build_notebook(S.load_assignment(name), "student")
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    os.environ.update({k: os.environ.get(k, v) for k, v in env.items()})
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(N.BOOK_DIR)}}).execute()
    assert problems(output_text(nb)) == []
    stored = nbformat.read(Path(N.BOOK_DIR) / f"{name}.ipynb", as_version=4)
    assert problems(output_text(stored)) == []
