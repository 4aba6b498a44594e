"""The data set's files: the four splits and the focus file, made together, written, read back.

:func:`generate_splits` makes every file from one seed: ``validation``, ``test`` and ``heldout``
first, then ``train`` (never repeating an evaluation question), then ``focus`` (the agent's last
training stage, drawn with ``focus_mix.yaml``, repeating no question of the others). A share of the
training conversations opens the way the agent opens a task when its memory is on
(:func:`with_memory`). :func:`write_splits` and :func:`load_split` write and read the JSONL files.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from companion.agent.memory import Memory
from companion.agent.tools import SearchIndex
from companion.files import write_jsonl_atomically
from companion.tooluse.generate import (
    DATA_DIR,
    SPLITS,
    Grammar,
    generate_split,
    load_grammar,
)

#: the agent's last training stage: training tasks drawn with ``focus_mix.yaml`` (chapter 7)
FOCUS = "focus"
FILES: tuple[str, ...] = (*SPLITS, FOCUS)
MEMORY_MODES: tuple[str, ...] = ("conversation", "retrieval", "both")


def with_memory(records: list[dict[str, Any]], share: float = 0.3,
                seed: int = 0) -> list[dict[str, Any]]:
    """The records, a ``share`` of them opening as an agent with memory opens a task (ch. 7).

    For a chosen record a :class:`~companion.agent.loop.Memory` (conversation, retrieval or both;
    a window of one or two exchanges) remembers one to three other records, and usually one more of
    the same frame, so that its retrieval note has something similar to recall. The conversation
    becomes: system prompt, the replayed exchanges, the task with the memory's note, then the
    record's own calls, unchanged. Only those calls are training targets, so the model learns to
    read a memory and still solve the new task with tools.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be a fraction in [0, 1], got {share!r}")
    by_frame: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_frame.setdefault(r["frame"], []).append(r)
    rng = random.Random(seed)
    shaped = []
    for record in records:
        if rng.random() >= share:
            shaped.append(record)
            continue
        mode = rng.choice(MEMORY_MODES)
        memory = Memory(window=rng.choice([1, 2]), conversation=mode != "retrieval",
                        retrieval=mode != "conversation")
        earlier = rng.sample(records, rng.randint(1, 3))
        if rng.random() < 0.8:
            earlier.append(rng.choice(by_frame[record["frame"]]))
        rng.shuffle(earlier)
        for other in earlier:
            if other["id"] != record["id"]:
                memory.remember(other["task"], other["answer"], len(other["calls"]) + 1)
        system, _, *calls = record["messages"]
        task = {"role": "user", "content": record["task"] + memory.note(record["task"])}
        shaped.append({**record, "messages": [system, *memory.history(), task, *calls]})
    return shaped


def generate_focus(n: int, seed: int, grammar: Grammar, exclude: set[str],
                   memory_share: float = 0.3,
                   index: SearchIndex | None = None) -> list[dict[str, Any]]:
    """``n`` training tasks drawn with the grammar's ``focus_mix`` instead of its ``mix`` (the
    agent's last adapter, chapter 7), from their own random stream (``seed + 1``), none of them
    in ``exclude``; a share opens with memory, as in train."""
    records = generate_split("train", n, seed + 1, replace(grammar, mix=grammar.focus_mix), index,
                             exclude=exclude)
    records = with_memory(records, memory_share, seed + 1)
    return [{**r, "id": f"{FOCUS}-{k:05d}", "split": FOCUS} for k, r in enumerate(records)]


def generate_splits(seed: int = 0, n_train: int = 4000, n_eval: int = 200,
                    memory_share: float = 0.3, index: SearchIndex | None = None,
                    n_focus: int = 600) -> dict[str, list[dict[str, Any]]]:
    """All four splits and the focus file; train and focus never repeat a question of another
    file; a share of the training conversations opens with memory."""
    grammar = load_grammar()
    splits: dict[str, list[dict[str, Any]]] = {}
    for split in ("validation", "test", "heldout"):
        taken = {r["task"] for s in splits.values() for r in s}
        splits[split] = generate_split(split, n_eval, seed, grammar, index, exclude=taken)
    taken = {r["task"] for s in splits.values() for r in s}
    train = generate_split("train", n_train, seed, grammar, index, exclude=taken)
    splits["train"] = with_memory(train, memory_share, seed)
    taken |= {r["task"] for r in train}
    splits[FOCUS] = generate_focus(n_focus, seed, grammar, taken, memory_share, index)
    return {s: splits[s] for s in FILES}


def write_splits(splits: dict[str, list[dict[str, Any]]], out_dir: Path = DATA_DIR) -> list[Path]:
    """Write ``<split>.jsonl`` files (one record per line, UTF-8), each replaced atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, records in splits.items():
        path = out_dir / f"{split}.jsonl"
        write_jsonl_atomically(path, records)
        paths.append(path)
    return paths


def load_split(split: str, data_dir: Path = DATA_DIR) -> list[dict[str, Any]]:
    """Read one file's records back (a split, or the focus file)."""
    if split not in FILES:
        raise ValueError(f"unknown split {split!r}; expected one of {FILES}")
    path = Path(data_dir) / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def summarize(splits: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per split: size, distinct frames and templates, share of each maker, mean calls."""
    summary = {}
    for split, records in splits.items():
        makers = Counter(r["maker"] for r in records)
        summary[split] = {
            "records": len(records),
            "frames": len({r["frame"] for r in records}),
            "templates": len({r["template"] for r in records}),
            "maker_share": {m: round(c / len(records), 3) for m, c in sorted(makers.items())},
            "mean_calls": round(sum(len(r["calls"]) for r in records) / len(records), 3),
        }
    return summary
