"""Chapter 4: greedy decoding speed of DecoderLM against transformers, on SmolLM2's weights.

Three decoders produce the same tokens from the same prompt: transformers ``generate``
(do_sample=False), ``DecoderLM.generate`` with its KV cache, and ``DecoderLM.generate`` without it.
Beside them, the memory-bandwidth bound: each new token must read every weight once, so
tokens/s <= measured read bandwidth / weight bytes.
"""

from __future__ import annotations

import time

import torch

PROMPT = "The history of the printing press begins"
NEW_TOKENS = 32


def read_bandwidth(megabytes: int = 512, repeat: int = 5) -> float:
    """Bytes per second for summing a large float32 tensor (a stand-in for reading weights)."""
    x = torch.ones(megabytes * 2**20 // 4)
    x.sum()
    best = min(_timed(x.sum) for _ in range(repeat))
    return x.nbytes / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def tokens_per_second(generate, n: int) -> tuple[float, torch.Tensor]:
    """Run ``generate`` once to warm up, then once timed; new tokens per second and the output."""
    generate()
    start = time.perf_counter()
    out = generate()
    return n / (time.perf_counter() - start), out


def run() -> list[dict]:
    from companion.decoder import DecoderLM
    from companion.models import load_smollm2

    model, tokenizer = load_smollm2()
    ours = DecoderLM.from_hf(model)
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    n = NEW_TOKENS
    eos = {"eos_token_id": -1}  # never stop early: every run makes exactly n tokens
    with torch.no_grad():
        hf_rate, hf_out = tokens_per_second(lambda: model.generate(
            ids, max_new_tokens=n, do_sample=False, pad_token_id=0, **eos), n)
        our_rate, our_out = tokens_per_second(lambda: ours.generate(ids, n, **eos), n)
        slow_rate, _ = tokens_per_second(lambda: ours.generate(ids, n, use_cache=False, **eos), n)
    if not torch.equal(hf_out, our_out):
        raise AssertionError("DecoderLM and transformers disagree on the greedy tokens")
    weight_bytes = sum(p.nbytes for p in ours.parameters())
    bound = read_bandwidth() / weight_bytes
    return [
        {"name": f"DecoderLM greedy, KV cache, SmolLM2, {n} tokens", "value": our_rate,
         "unit": "tokens/s", "reference": "transformers generate, same weights and prompt",
         "ratio": our_rate / hf_rate},
        {"name": "transformers generate (do_sample=False)", "value": hf_rate,
         "unit": "tokens/s", "reference": "memory-bandwidth bound", "ratio": hf_rate / bound},
        {"name": f"DecoderLM greedy without KV cache, {n} tokens", "value": slow_rate,
         "unit": "tokens/s", "reference": "DecoderLM with KV cache", "ratio": slow_rate / our_rate},
        {"name": f"memory-bandwidth bound ({weight_bytes / 2**20:.0f} MiB of weights per token)",
         "value": bound, "unit": "tokens/s", "reference": "DecoderLM greedy, KV cache",
         "ratio": bound / our_rate},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
