"""Evaluate base and fine-tuned SmolLM2 on a held-out split into ``data/results/heldout_eval.json``.

::

    python scripts/evaluate_heldout.py [--split test] [--limit N] [--models base finetuned]

For each conversation of ``data/sets/tooluse/<split>.jsonl`` and each model (the base
SmolLM2-135M-Instruct, then the same weights with the shipped adapter of chapter 5 merged in), it
records the measurements of :func:`companion.heldout.evaluate_heldout`: first tool-call exact
match, final-answer F1, and the NLL of the gold assistant tokens. Chapter 6 reads the file and
puts bootstrap intervals on the three corpus numbers. The file is written atomically. With
``--models finetuned`` (after retraining the adapter) the base model's rows are kept from the
existing file, which must hold the same split and number of conversations.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from companion import finetune as ft
from companion.files import write_json_atomically
from companion.heldout import evaluate_heldout, summarize
from companion.models import ADAPTER_DIR, load_finetuned
from companion.paths import REPO_ROOT, RESULTS

OUTPUT = RESULTS / "heldout_eval.json"
MODELS = ("base", "finetuned")


def kept_models(path: Path, split: str, conversations: int, names: list[str]) -> dict:
    """The results of ``names`` from an earlier output file, checked to be for the same records."""
    if not names:
        return {}
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist, so {names} cannot be kept from it; "
                                f"evaluate every model (omit --models)")
    earlier = json.loads(path.read_text(encoding="utf-8"))
    if (earlier.get("split"), earlier.get("conversations")) != (split, conversations):
        raise ValueError(f"{path} holds {earlier.get('conversations')} conversations of split "
                         f"{earlier.get('split')!r}, not {conversations} of {split!r}; evaluate "
                         f"every model (omit --models)")
    return {name: earlier["models"][name] for name in names}


def main(argv: list[str] | None = None) -> dict:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=ft.SPLITS)
    parser.add_argument("--limit", type=int, default=0, help="first N conversations; 0: all")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0: torch's choice")
    parser.add_argument("--output", default=str(OUTPUT))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS,
                        help="models to evaluate; the others are kept from --output")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    path = ft.DATA_DIR / f"{args.split}.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    records = records[: args.limit] if args.limit else records
    model, tokenizer = load_finetuned(merge=False)
    payload: dict = {"split": args.split, "conversations": len(records),
                     "adapter": ADAPTER_DIR.relative_to(REPO_ROOT).as_posix(),
                     "models": kept_models(Path(args.output), args.split, len(records),
                                           [m for m in MODELS if m not in args.models])}
    for name in args.models:
        start = time.perf_counter()
        if name == "base":
            with model.disable_adapter():
                rows = evaluate_heldout(model, tokenizer, records, progress=True)
        else:
            rows = evaluate_heldout(model.merge_and_unload(), tokenizer, records, progress=True)
        seconds = time.perf_counter() - start
        summary = summarize(rows)
        payload["models"][name] = {"seconds": round(seconds, 1), "summary": summary, "rows": rows}
        print(f"{name}: {len(rows)} conversations in {seconds:.0f} s: "
              + ", ".join(f"{k} {v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"
                          for k, v in summary.items()), flush=True)
    payload["models"] = {name: payload["models"][name] for name in MODELS}
    write_json_atomically(args.output, payload)
    print(f"written to {args.output}")
    return payload


if __name__ == "__main__":
    main()
