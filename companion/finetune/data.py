"""The conversations to train on: loading the tool-use files (chapter 5).

The data are JSONL files of chats (``{"messages": [...], ...}`` per line), one per split, in the
tool-call format of :mod:`companion.toolcall`. This module reads files and reshapes
``datasets.Dataset`` objects; it does not know how the conversations were made (that is the data
set's own module and its data card, ``data/sets/tooluse.md``), so nothing here imports the agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from companion.finetune.labels import replies_to_last_user
from companion.paths import TOOLUSE_DATA
from companion.toolcall import ToolCallParseError, parse_call

DATA_DIR = TOOLUSE_DATA
SPLITS: tuple[str, ...] = ("train", "validation", "test", "heldout")  # companion.tooluse's files


def load_tooluse(
    data_dir: str | Path = DATA_DIR, splits: Sequence[str] = SPLITS, limit: int | None = None
):
    """The tool-use conversations as a ``datasets.DatasetDict``, one split per JSONL file (ch. 5).

    Loaded with ``load_dataset("json", data_files={split: f"{data_dir}/{split}.jsonl"})``; with
    ``limit`` each split keeps its first ``limit`` records. ``splits`` may name any file of the
    folder.
    """
    from datasets import load_dataset

    folder = Path(data_dir)
    if isinstance(splits, str) or not splits:
        raise ValueError(f"splits must be a non-empty list of split names, got {splits!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    files = {s: folder / f"{s}.jsonl" for s in splits}
    missing = [s for s, f in files.items() if not f.is_file()]
    if missing:
        present = sorted(p.stem for p in folder.glob("*.jsonl"))
        raise ValueError(f"no data file for splits {missing} in {folder.name}/; the folder holds "
                         f"{present}")
    data = load_dataset("json", data_files={s: str(f) for s, f in files.items()})
    if limit is not None:
        for s in splits:
            data[s] = data[s].select(range(min(limit, len(data[s]))))
    return data


def tool_calls(messages: Sequence[dict[str, Any]]) -> int:
    """How many tools the replies to the last user turn call, ``final_answer`` not counted.

    A chain (search, then calculator) counts 2; an earlier exchange replayed from memory counts 0.
    """
    count = 0
    for reply in replies_to_last_user(messages):
        try:
            count += parse_call(reply["content"]).name != "final_answer"
        except ToolCallParseError:
            continue
    return count
