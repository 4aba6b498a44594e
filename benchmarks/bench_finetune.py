"""Chapter 5: what a training step of SmolLM2-135M costs, LoRA against full fine-tuning, on CPU.

Each method runs in a fresh Python process (peak memory never goes down within one), takes one
warm-up step and two timed AdamW steps on a 4 x 128 token batch, in float32 and with bf16 autocast.

Then the loss of the shipped recipe on a real batch (the first 8 training conversations): the
plain ``model(**batch).loss`` against :func:`companion.finetune.shared_prefix_loss` (the shared
system prompt computed once, only labelled positions projected onto the vocabulary), each with
LoRA dropout 0.05 and 0, timed as forward plus backward.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SNIPPET = (
    "import json, sys; from companion.finetune import measure_training; "
    "print(json.dumps(measure_training(sys.argv[1], bf16=sys.argv[2] == 'bf16')))"
)


def in_fresh_process(code: str, *args: str, timeout: float = 600) -> dict:
    """Run ``code`` in a new Python process (offline) and parse the JSON of its last line."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, check=True, timeout=timeout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(method: str, precision: str) -> dict:
    return in_fresh_process(SNIPPET, method, precision)


LOSS_SNIPPET = """
import json, sys, time
import torch
from companion import finetune as ft
from companion.models import load_smollm2
base, tok = load_smollm2()
rows = [json.loads(l) for l in (ft.DATA_DIR / "train.jsonl").open()][:8]
batch = ft.ChatCollator(tok.pad_token_id)(
    [ft.tokenize_conversation(r["messages"], tok, 768) for r in rows])
out = {}
for dropout in (0.05, 0.0):
    model = ft.prepare_model(ft.FinetuneConfig(lora_dropout=dropout), base).train()
    for name, loss in (("plain", lambda: model(**batch).loss),
                       ("shared", lambda: ft.shared_prefix_loss(model, batch).loss)):
        loss().backward()
        start = time.perf_counter()
        for _ in range(2):
            loss().backward()
        out[f"{name}_{dropout}"] = (time.perf_counter() - start) / 2
    model.unload()
print(json.dumps(out))
"""


def loss_paths() -> dict:
    return in_fresh_process(LOSS_SNIPPET, timeout=900)


def run() -> list[dict]:
    lora, full = measure("lora", "fp32"), measure("full", "fp32")
    lora_bf16 = measure("lora", "bf16")
    rows = [
        {"name": "LoRA trainable parameters (r=16, all projections)", "value": lora["trainable"],
         "unit": "parameters", "reference": "full fine-tuning", "ratio":
         lora["trainable"] / full["trainable"]},
        {"name": "LoRA training speed, fp32, 4x128 tokens", "value": lora["tokens_per_s"],
         "unit": "tokens/s", "reference": "full fine-tuning, fp32",
         "ratio": lora["tokens_per_s"] / full["tokens_per_s"]},
        {"name": "LoRA training speed, bf16 autocast", "value": lora_bf16["tokens_per_s"],
         "unit": "tokens/s", "reference": "LoRA, fp32",
         "ratio": lora_bf16["tokens_per_s"] / lora["tokens_per_s"]},
    ]
    rows.append({"name": "LoRA: peak resident memory of the training process (fp32)",
                 "value": lora["rss_peak_mb"], "unit": "MiB",
                 "reference": "full fine-tuning, same batch", "ratio":
                 lora["rss_peak_mb"] / full["rss_peak_mb"]})
    paths = loss_paths()
    reference = paths["plain_0.05"]
    for key, label in (("plain_0.0", "plain loss, no LoRA dropout"),
                       ("shared_0.05", "shared-prefix, labelled-only loss, dropout 0.05"),
                       ("shared_0.0", "shared-prefix, labelled-only loss, no dropout (recipe)")):
        rows.append({"name": f"LoRA step on 8 real conversations: {label}",
                     "value": paths[key], "unit": "s", "reference": "plain loss, dropout 0.05",
                     "ratio": paths[key] / reference})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
