"""Execute notebooks in place, so their stored outputs are the ones nbval checks.

Authors run this after editing a chapter::

    .venv/bin/python scripts/execute_notebook.py notebooks/03_attention.ipynb
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 900) -> float:
    """Run every cell of ``path`` (from its own folder) and write the outputs back."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    nbformat.write(nb, path)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
    for var, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                       "HF_DATASETS_OFFLINE": "1", "PYTHONHASHSEED": "0",
                       "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(var, value)
    for path in args.notebooks:
        print(f"{path}: {execute(path):.1f} s")


if __name__ == "__main__":
    main()
