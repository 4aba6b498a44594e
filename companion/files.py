"""Writing results so that a crash never leaves half a file behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json_atomically(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON to ``path`` all at once or not at all.

    The JSON goes to a temporary file in the same folder, which is then renamed over ``path``
    (``os.replace`` is atomic on one file system): readers see the old file or the new one, and an
    exception while serialising leaves the old file untouched and no temporary file behind.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path.name}: its folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)
            f.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are for every reader
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
