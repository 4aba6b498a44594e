"""Where the repository and its data live: the one place that computes them from ``__file__``.

``REPO_ROOT`` is the folder that holds ``companion/``; ``DATA`` its ``data/`` folder, which holds
``SETS`` (``data/sets/``: the input data sets, each with its card), ``RESULTS`` (``data/results/``:
measured results that a chapter or the lab notes read) and the shipped adapters
(``data/adapters/``). Every module and script that reads or writes a file of the repository starts
from these, so moving the package means changing one line.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
DATA: Path = REPO_ROOT / "data"
SETS: Path = DATA / "sets"  # input data sets, each with its data card (<name>.md)
RESULTS: Path = DATA / "results"  # measured results a chapter or the lab notes read
TOOLUSE_DATA: Path = SETS / "tooluse"  # chapters 5-7's tool-use conversations (tooluse.md)
