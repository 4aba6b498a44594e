"""The conversations to train on: loading the tool-use files and the data mixes of chapter 7.

The data are JSONL files of chats (``{"messages": [...], ...}`` per line), one per split, in the
tool-call format of :mod:`companion.toolcall`. This module reads files and reshapes
``datasets.Dataset`` objects; it does not know how the conversations were made (that is the data
set's own module and its data card, ``data/tooluse.md``), so nothing here imports the agent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from companion.finetune.labels import clean_messages, replies_to_last_user
from companion.paths import TOOLUSE_DATA
from companion.toolcall import ToolCallParseError, parse_call

DATA_DIR = TOOLUSE_DATA
SPLITS: tuple[str, ...] = ("train", "validation", "test")
EXTRA_SPLIT = "train_extra"  # more train tasks, the pool of chapter 7's second stage


def load_tooluse(
    data_dir: str | Path = DATA_DIR, splits: Sequence[str] = SPLITS, limit: int | None = None
):
    """The tool-use conversations as a ``datasets.DatasetDict``, one split per JSONL file (ch. 5).

    Loaded with ``load_dataset("json", data_files={split: f"{data_dir}/{split}.jsonl"})``; with
    ``limit`` each split keeps its first ``limit`` records. ``splits`` may name any file of the
    folder, e.g. ``EXTRA_SPLIT``, the extra train file of chapter 7's second stage.
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


def add_extra_train(data, n: int, extra: str = EXTRA_SPLIT):
    """``data`` (a ``DatasetDict`` with an ``extra`` split) with the first ``n`` extra records
    appended to ``train`` and the extra split removed: the pool of chapter 7's second stage
    (``scripts/train_adapter.py --extra-records``)."""
    from datasets import concatenate_datasets

    if extra not in data or "train" not in data:
        raise ValueError(f"data must hold 'train' and {extra!r}, got {list(data)}")
    available = len(data[extra])
    if not 0 < n <= available:
        raise ValueError(f"n must be between 1 and {available} (the {extra} records), got {n!r}")
    pool = data.pop(extra)
    data["train"] = concatenate_datasets([data["train"], pool.select(range(n))])
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


def chain_mix(dataset, per_kind: int, seed: int = 0, others: int | None = None):
    """``per_kind`` conversations with two or more tool calls and ``others`` of the rest
    (default: ``per_kind`` too), drawn without replacement and shuffled with
    ``random.Random(seed)``: the data of a second training stage aimed at two-tool chains
    (``scripts/train_adapter.py --chain-mix``). The chains drawn for a seed do not depend on
    ``others``.

    Returns ``dataset.select(...)`` of those rows, so it works on any ``Dataset`` of ``messages``.
    """
    others = per_kind if others is None else others
    kinds: dict[bool, list[int]] = {True: [], False: []}
    for i, messages in enumerate(dataset["messages"]):
        kinds[tool_calls(clean_messages(messages)) >= 2].append(i)
    chains, rest = kinds[True], kinds[False]
    if not 0 < per_kind <= len(chains) or not 0 <= others <= len(rest):
        raise ValueError(f"per_kind must be between 1 and {len(chains)} and others between 0 and "
                         f"{len(rest)} (the data hold {len(chains)} chains and {len(rest)} "
                         f"others), got {per_kind!r} and {others!r}")
    rng = random.Random(seed)
    pick = rng.sample(chains, per_kind) + rng.sample(rest, others)
    rng.shuffle(pick)
    return dataset.select(pick)


def with_other_order(dataset, fraction: float, seed: int = 0):
    """``dataset`` with ``fraction`` of its reorderable chains (``tasks.REORDERABLE``) solved the
    other way round (:func:`companion.agent.tasks.other_order`), picked with
    ``random.Random(seed)``: chapter 7's stage sees both orders of a chain
    (``scripts/train_adapter.py --other-order``)."""
    # TEMPORARY upward import, kept inside the function on purpose: re-solving a chain needs the
    # task generator, which lives in companion.agent. The tool-use data set and its two-stage
    # recipe are being replaced; this helper goes (or moves beside the data set) with them.
    from companion.agent.tasks import REORDERABLE, family_of, other_order

    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
    candidates = [i for i, t in enumerate(dataset["template"])
                  if family_of({"template": t}) in REORDERABLE]
    pick = set(random.Random(f"other-order:{seed}").sample(
        candidates, round(fraction * len(candidates))))

    def swap(record: dict[str, Any], i: int) -> dict[str, Any]:
        if i not in pick:
            return record
        done = other_order(record)
        return {k: done[k] for k in ("messages", "answer", "calls", "tool")}

    return dataset.map(swap, with_indices=True)
