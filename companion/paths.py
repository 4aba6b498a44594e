"""Where the repository and its data live: the one place that computes them from ``__file__``.

``REPO_ROOT`` is the folder that holds ``companion/``; ``DATA`` its ``data/`` folder (data sets
with their cards, shipped adapters and stored results). Every module and script that reads or
writes a file of the repository starts from these two, so moving the package means changing one
line.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
DATA: Path = REPO_ROOT / "data"
TOOLUSE_DATA: Path = DATA / "tooluse"  # chapters 5-7's tool-use conversations (tooluse.md)
