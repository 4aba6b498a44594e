"""Writing results so that a crash never leaves half a file behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` all at once or not at all.

    The text goes to a temporary file in the same folder, which is then renamed over ``path``
    (``os.replace`` is atomic on one file system): readers see the old file or the new one, and an
    exception while writing leaves the old file untouched and no temporary file behind.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path.name}: its folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are for every reader
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomically(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON to ``path`` all at once or not at all
    (:func:`write_text_atomically`); a payload that is not JSON leaves the old file untouched."""
    write_text_atomically(path, json.dumps(payload, indent=1) + "\n")


def write_jsonl_atomically(path: str | Path, records: Iterable[Any]) -> None:
    """Write one JSON object per line (UTF-8, not ASCII-escaped) to ``path`` all at once or not at
    all (:func:`write_text_atomically`)."""
    write_text_atomically(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
