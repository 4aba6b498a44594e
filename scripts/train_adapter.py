"""Train the book's tool-call adapter for SmolLM2-135M-Instruct: the full chapter 5 recipe.

One command, fixed seed::

    python scripts/train_adapter.py

The shipped adapter of chapter 5 is one epoch over the first 1600 training conversations, 8 per
step, uncut (``--train-limit 1600 --max-length 1088``: about 34 minutes on the book's two cores);
the defaults (all 4000 conversations, cut at 768 tokens) are the larger run for a faster machine.
``--train-limit`` and ``--max-steps`` make a shorter run; ``--threads 1`` beats two when the cores
are shared with other jobs.

It fine-tunes LoRA adapters on ``data/sets/tooluse/train.jsonl`` with ``Trainer`` (the recipe is
:class:`companion.finetune.FinetuneConfig` plus the options below), then measures base and
fine-tuned model on the first ``--eval-records`` conversations of the validation split (tool-call
accuracy of the first assistant turn, perplexity of the assistant tokens) and writes, into
``--adapter-dir`` (default ``data/adapters/smollm2-toolcall``):

- ``adapter_config.json`` and ``adapter_model.safetensors`` (bf16): the adapter itself;
- ``training_log.json``: the Trainer's log history (train and eval loss per step);
- ``metrics.json``: the recipe, the data sizes, speed, and base-vs-fine-tuned numbers.

Progress goes to ``--output-dir/progress.jsonl`` (one JSON line per log step) and stdout.

The agent of chapter 7 stacks three more stages, each a new LoRA trained on the model with the
adapters before it merged in, the first token of every tool name (the decision: which tool next,
or stop) counting five times in the loss: the next 1600 training conversations, the last 800,
then ``focus.jsonl`` (fact chains and word problems weighted up). Each stage's command is in its
folder's ``metrics.json`` and data card; the last one is::

    python scripts/train_adapter.py --train-split focus \
        --on-top-of data/adapters/smollm2-toolcall data/adapters/smollm2-toolcall-chains \
                    data/adapters/smollm2-toolcall-rest \
        --learning-rate 5e-4 --max-length 1088 --eval-steps 1000 --eval-limit 8 \
        --eval-records 24 --decision-weight 5 --adapter-dir data/adapters/smollm2-toolcall-focus

The four were chosen on the validation split (179 of 200 tasks solved, against 163 with the first
two); ``ft.load_finetuned(ft.AGENT_ADAPTERS)`` loads the stack.

"Base" in a later stage's ``metrics.json`` is the model with the adapters before it merged.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from companion import finetune as ft
from companion.files import write_json_atomically


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ft.DATA_DIR))
    parser.add_argument("--output-dir", default="runs/smollm2-toolcall")
    parser.add_argument("--adapter-dir", default=str(ft.ADAPTER_DIR))
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1, help="overrides --epochs if > 0")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=768)
    parser.add_argument("--eval-steps", type=int, default=75, help="also the checkpoint interval")
    parser.add_argument("--eval-limit", type=int, default=12,
                        help="validation conversations for the eval loss during training")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads (1 beats 2 on a CPU shared with other jobs)")
    parser.add_argument("--train-limit", type=int, default=0,
                        help="first N training conversations (the file is shuffled); 0: all")
    parser.add_argument("--eval-records", type=int, default=48,
                        help="validation conversations for accuracy and perplexity")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--on-top-of", nargs="+", default=None,
                        help="train a new adapter on the model with these adapters merged in, "
                             "in order")
    parser.add_argument("--train-split", default="train",
                        help="the file of --data-dir to train on (train, or focus for the "
                             "agent's last stage)")
    parser.add_argument("--train-skip", type=int, default=0,
                        help="skip the first N training conversations (a second stage trains on "
                             "the next --train-limit ones)")
    parser.add_argument("--decision-weight", type=float, default=None,
                        help="weight of the first token of each reply's tool name in the loss "
                             "(the decision: which tool, or stop); default: 1 like every token")
    args = parser.parse_args(argv)
    if args.train_skip < 0:
        parser.error(f"--train-skip must be 0 or more, got {args.train_skip}")
    return args


def read_jsonl(path: Path, limit: int) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows[:limit]


def measure(model, tokenizer, records: list[dict]) -> dict:
    start = time.perf_counter()
    accuracy = ft.toolcall_accuracy(model, tokenizer, records)
    perplexity = ft.assistant_perplexity(model, tokenizer, records)
    return {**accuracy, **perplexity, "seconds": round(time.perf_counter() - start, 1)}


def main(argv: list[str] | None = None) -> dict:
    import torch

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.output_dir)
    if out.exists():
        shutil.rmtree(out)  # a fresh run: stale checkpoints would be resumed or mixed in
    config = ft.FinetuneConfig(
        output_dir=str(out), data_dir=args.data_dir, num_train_epochs=args.epochs,
        max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate, train_limit=args.train_limit or None, seed=args.seed,
        max_length=args.max_length, eval_steps=args.eval_steps, save_steps=args.eval_steps,
        eval_limit=args.eval_limit, logging_steps=2, progress_file=str(out / "progress.jsonl"),
        decision_weight=args.decision_weight,
    )
    print(f"training with {config}", flush=True)
    model = tokenizer = data = None
    if args.on_top_of:
        model, tokenizer = ft.load_finetuned(args.on_top_of)
    if args.train_skip or args.train_split != "train":
        data = ft.load_tooluse(args.data_dir, splits=(args.train_split, "validation"))
        data["train"] = data.pop(args.train_split)
        stop = args.train_skip + (args.train_limit or len(data["train"]))
        data["train"] = data["train"].select(
            range(args.train_skip, min(stop, len(data["train"]))))
    metrics = ft.train_adapter(config, model, tokenizer, data, base_model=ft.BASE_MODEL_ID)
    print(f"trained {metrics['global_step']} steps in {metrics['train_runtime_s']:.0f} s; "
          f"eval loss {metrics['eval_loss']:.4f}", flush=True)

    records = read_jsonl(Path(args.data_dir) / "validation.jsonl", args.eval_records)
    stack = list(args.on_top_of or [])
    model, tokenizer = ft.load_finetuned([*stack, metrics["final_dir"]], merge=False)
    with model.disable_adapter():
        before = measure(model, tokenizer, records)
    print(f"base model: {before}", flush=True)
    after = measure(model.merge_and_unload(), tokenizer, records)
    print(f"fine-tuned: {after}", flush=True)

    target = Path(args.adapter_dir)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy2(Path(metrics["final_dir"]) / name, target / name)
    log_history = metrics.pop("log_history")
    write_json_atomically(target / "training_log.json", log_history)
    summary = {
        "recipe": {k: v for k, v in metrics.pop("config").items()
                   if k not in ("output_dir", "data_dir", "progress_file", "extra")},
        "command": "python scripts/train_adapter.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items()
            if k not in ("data_dir", "output_dir", "adapter_dir") and v is not None),
        "training": {k: v for k, v in metrics.items() if k != "final_dir"},
        "validation": {"records": len(records), "base": before, "finetuned": after},
    }
    write_json_atomically(target / "metrics.json", summary)
    print(f"adapter and metrics written to {target.name}/", flush=True)
    return summary


if __name__ == "__main__":
    main()
