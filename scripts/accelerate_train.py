"""The chapter 5 training as an explicit Accelerate loop, for one or many processes.

``Trainer`` hides the loop; this script writes it out, the way it looks when a reader scales from a
laptop to several GPUs or machines. The same file runs in every setting; only the launch changes::

    python scripts/accelerate_train.py --max-steps 20       # one process
    accelerate launch --multi_gpu --num_processes 2 scripts/accelerate_train.py  # 2 CPU procs
    accelerate launch --multi_gpu --num_processes 8 scripts/accelerate_train.py  # 8 GPUs

On a machine without a GPU, ``--multi_gpu`` only means "start the processes with torchrun"; the
script then asks for ``Accelerator(cpu=True)``, which joins them in a gloo process group on the
CPU. The more obvious ``accelerate launch --cpu --num_processes 2`` starts a single process
(accelerate 1.x launches multi-CPU runs only through ``mpirun``; see accelerate issue #2741).

Each process sees a different shard of every batch; gradients are averaged across processes
before each optimizer step, so all processes hold the same weights throughout. Every process writes
``rank<k>.json`` (its rank, the world size, its losses and a checksum of its trainable weights) to
``--output-dir``; the main process also saves the adapter there.

``--model tiny`` swaps SmolLM2 for a two-layer random Llama with SmolLM2's tokenizer, which is
what the test suite launches (a few seconds instead of minutes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from peft import get_peft_model
from torch.utils.data import DataLoader
from transformers import get_scheduler

from companion.finetune import (
    DATA_DIR,
    ChatCollator,
    lora_config,
    tiny_causal_lm,
    tokenize_conversation,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DATA_DIR), help="folder with train.jsonl")
    parser.add_argument("--output-dir", default="runs/accelerate")
    parser.add_argument("--model", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--train-limit", type=int, default=None, help="first N conversations")
    parser.add_argument("--batch-size", type=int, default=8, help="per process")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--mixed-precision", choices=("no", "bf16", "fp16"), default="no")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def load_model_and_tokenizer(kind: str):
    """SmolLM2-135M-Instruct, or a tiny random Llama sharing its tokenizer."""
    from transformers import AutoTokenizer

    from companion.models import load_smollm2, prepare_smollm2

    if kind == "smollm2":
        return load_smollm2()
    tokenizer = AutoTokenizer.from_pretrained(prepare_smollm2())
    return tiny_causal_lm(len(tokenizer)), tokenizer


def read_conversations(data_dir: str, limit: int | None) -> list[list[dict[str, str]]]:
    """The ``messages`` of each record of ``train.jsonl`` (plain json: no datasets cache races)."""
    path = Path(data_dir) / "train.jsonl"
    if not path.is_file():
        raise ValueError(f"no train.jsonl in {path.parent.name}/; expected the tool-use data")
    with path.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    records = records[:limit] if limit else records
    return [[{"role": m["role"], "content": m["content"]} for m in r["messages"]] for r in records]


def checksum(model) -> str:
    """SHA-256 of the trainable weights, to compare processes."""
    digest = hashlib.sha256()
    for name, p in sorted(model.named_parameters()):
        if p.requires_grad:
            digest.update(name.encode())
            digest.update(p.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # On a machine without a GPU, cpu=True makes a torchrun-launched group use gloo on the CPU.
    accelerator = Accelerator(cpu=not torch.cuda.is_available(),
                              mixed_precision=args.mixed_precision)
    set_seed(args.seed)  # the same initial weights on every process
    model, tokenizer = load_model_and_tokenizer(args.model)
    model = get_peft_model(model, lora_config())
    features = [tokenize_conversation(m, tokenizer, args.max_length)
                for m in read_conversations(args.data_dir, args.train_limit)]
    loader = DataLoader(features, batch_size=args.batch_size, shuffle=True,
                        collate_fn=ChatCollator(tokenizer.pad_token_id))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=args.learning_rate)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=max(1, args.max_steps // 20),
                              num_training_steps=args.max_steps)
    # prepare() wraps the model for DDP, shards the loader and places everything on the device.
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    model.train()
    losses: list[float] = []
    step = 0
    while step < args.max_steps:
        for batch in loader:
            loss = model(**batch).loss
            accelerator.backward(loss)  # DDP all-reduces (averages) the gradients here
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            mean_loss = accelerator.gather(loss.detach()[None]).mean().item()
            losses.append(mean_loss)
            step += 1
            accelerator.print(f"step {step}/{args.max_steps} loss {mean_loss:.4f}")
            if step == args.max_steps:
                break

    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if accelerator.is_main_process:
        unwrapped.save_pretrained(str(out / "adapter"))
    report = {"rank": accelerator.process_index, "world_size": accelerator.num_processes,
              "backend": str(accelerator.state.backend), "steps": step, "losses": losses,
              "checksum": checksum(unwrapped), "pid": os.getpid()}
    (out / f"rank{accelerator.process_index}.json").write_text(json.dumps(report, indent=1))
    accelerator.end_training()


if __name__ == "__main__":
    main()
