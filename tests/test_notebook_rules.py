"""Every chapter notebook follows the book's rules (AUTHORING.md), checked statically.

- the first code cell loads ``companion.notebook`` (the ``%%gpu`` / ``%%online`` magics);
- a cell starts with ``%%gpu`` exactly when it carries the ``gpu`` tag (likewise ``online``);
- no other cell reads a name that only a ``gpu`` / ``online`` cell defines (those are skipped
  under the default profile, so the name would not exist);
- one H1 title, a "What you will learn" box and a "Summary" section;
- no stored output shows a path of the machine that executed it;
- every chapter is listed in ``_toc.yml``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAGIC_TAGS = ("gpu", "online")
MACHINE_PATH = re.compile(r"(/root/|/home/\w+/|/work/|site-packages)")


def _code(cell) -> str:
    """The cell's Python, with a leading cell magic line and IPython line magics removed."""
    lines = cell.source.splitlines()
    if lines and lines[0].startswith("%%"):
        lines = lines[1:]
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    bound, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound, used


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def test_there_are_chapters():
    assert NOTEBOOKS, "no chapter notebooks found"


def test_first_code_cell_loads_the_magics(notebook):
    first = next(c for c in notebook.cells if c.cell_type == "code")
    assert "%load_ext companion.notebook" in first.source


@pytest.mark.parametrize("kind", MAGIC_TAGS)
def test_magic_cells_carry_their_tag(notebook, kind):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        has_magic = cell.source.lstrip().startswith(f"%%{kind}")
        has_tag = kind in cell.metadata.get("tags", [])
        assert has_magic == has_tag, (
            f"cell {cell.source[:60]!r}: %%{kind} magic and '{kind}' tag must go together")


def test_no_cell_depends_on_a_skipped_cell(notebook):
    only_in_skipped: set[str] = set()
    bound_elsewhere: set[str] = set()
    trees = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(_code(cell))
        bound, _ = _names(tree)
        skipped = any(t in cell.metadata.get("tags", []) for t in MAGIC_TAGS)
        (only_in_skipped if skipped else bound_elsewhere).update(bound)
        trees.append((skipped, tree))
    only_in_skipped -= bound_elsewhere
    for skipped, tree in trees:
        if not skipped:
            _, used = _names(tree)
            assert not used & only_in_skipped, (
                f"names defined only in gpu/online cells are used elsewhere: "
                f"{sorted(used & only_in_skipped)}")


def test_chapter_structure(notebook):
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    h1 = [ln for src in markdown for ln in src.splitlines() if re.match(r"^# \S", ln)]
    assert len(h1) == 1, f"expected one H1 title, found {h1}"
    text = "\n".join(markdown)
    assert "What you will learn" in text
    assert re.search(r"^## Summary", text, re.MULTILINE)


def test_outputs_show_no_machine_paths(notebook):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            match = MACHINE_PATH.search(text)
            assert match is None, f"output shows a machine path: ...{text[:200]}"


def test_every_chapter_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = {ch["file"] for part in toc["parts"] for ch in part["chapters"]}
    missing = [p.stem for p in NOTEBOOKS if f"notebooks/{p.stem}" not in files]
    assert not missing, f"chapters missing from _toc.yml: {missing}"
