"""The student bundle: what students get, and nothing only the teacher may see (book/teaching.md).

    python -m companion.teaching.release --out handout/

The bundle holds the student notebooks (public checks only), the ``companion`` package (which the
notebooks import; the teaching tools in it hold no solution and no check), the ``data/`` it
reads, ``requirements.txt`` and a README. It never holds ``assignments/`` (the sources, with
solutions and hidden checks), the solution notebooks, the tests or the book's sources.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

from companion.teaching.notebooks import write_notebooks
from companion.teaching.source import REPO_ROOT

COPIED = ("companion", "data", "requirements.txt")
"""What of the repository goes into the bundle, besides the notebooks and the README."""
README = """# Assignments of "From Attention to Agents"

Set up once, from this folder (Python 3.11, CPU is enough):

    python -m venv .venv
    .venv/bin/python -m pip install torch    # first: the CPU build is enough
    .venv/bin/python -m pip install -r requirements.txt

Open an assignment in JupyterLab (`.venv/bin/python -m jupyter lab ch03_attention.ipynb`), write
your answers in the cells tagged `answer`, and run each `%%check` cell: it prints `[passed]` or
what went wrong, with the points the check is worth. To see your public score for a whole
notebook, run it top to bottom in a fresh process:

    .venv/bin/python -m companion.teaching.check ch03_attention.ipynb

The grader runs these checks and hidden ones; questions answered in prose are graded by hand.
Hand in the notebook file itself, named after you if your teacher asks.
"""


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".ipynb_checkpoints") or n.endswith(".pyc")}


def write_release(out: str | Path, names: Sequence[str] = ()) -> list[Path]:
    """Write the student bundle into ``out`` (which must be empty or new); the files written."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"release folder {str(out)!r} is not empty; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    write_notebooks(out, "student", names)
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=_ignore)
        else:
            shutil.copy2(source, out / name)
    (out / "README.md").write_text(README, encoding="utf-8")
    return sorted(p for p in out.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> None:
    """The teacher's command (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m companion.teaching.release",
                                     description="Write the student bundle.")
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    parser.add_argument("--out", type=Path, default=Path("handout"))
    args = parser.parse_args(argv)
    files = write_release(args.out, args.names)
    print(f"wrote {len(files)} files into {args.out}")


if __name__ == "__main__":
    main()
