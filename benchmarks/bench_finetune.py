"""Chapter 5: what a training step of SmolLM2-135M costs, LoRA against full fine-tuning, on CPU.

Each method runs in a fresh Python process (peak memory never goes down within one), takes one
warm-up step and two timed AdamW steps on a 4 x 128 token batch, in float32 and with bf16 autocast.
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


def measure(method: str, precision: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", SNIPPET, method, precision], env=env,
                          capture_output=True, text=True, check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
