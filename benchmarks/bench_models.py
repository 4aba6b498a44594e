"""Model loading (cold GGUF conversion vs warm cache load) and SmolLM2 greedy decode speed."""

from __future__ import annotations

import os
import tempfile
import time

import torch

from companion import models


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        previous = os.environ.get(models.CACHE_ENV)
        os.environ[models.CACHE_ENV] = tmp
        try:
            _, cold = _timed(models.prepare_smollm2)
            _, warm = _timed(models.load_smollm2)
        finally:
            if previous is None:
                del os.environ[models.CACHE_ENV]
            else:
                os.environ[models.CACHE_ENV] = previous
    _, minilm = _timed(models.load_minilm)

    model, tokenizer = models.load_smollm2()
    messages = [{"role": "user", "content": "Write a short paragraph about the sea."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    new_tokens = 64
    with torch.no_grad():
        model.generate(**inputs, max_new_tokens=4, do_sample=False)  # warm-up
        out, seconds = _timed(lambda: model.generate(
            **inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False))
    produced = out.shape[1] - inputs["input_ids"].shape[1]
    return [
        {"name": "SmolLM2 cold load (GGUF -> cache)", "value": cold, "unit": "s",
         "reference": "warm load from cache", "ratio": cold / warm},
        {"name": "SmolLM2 warm load (cache)", "value": warm, "unit": "s",
         "reference": None, "ratio": None},
        {"name": "MiniLM load (wheel)", "value": minilm, "unit": "s",
         "reference": "SmolLM2 warm load", "ratio": minilm / warm},
        {"name": "SmolLM2 greedy decode (HF generate, KV cache)", "value": produced / seconds,
         "unit": "tok/s", "reference": None, "ratio": None},
    ]
