"""Chapter 4: greedy decoding speed of DecoderLM against transformers, on SmolLM2's weights.

Five decoders produce the same tokens from the same prompt: transformers ``generate``
(do_sample=False), ``DecoderLM.generate`` (the readable loop with its KV cache), the same with
``fast=True`` (:mod:`companion.fastdecode`: fused weights and a static cache, and a bfloat16 copy
of the weights drafting tokens that one float32 pass checks), the fast path without the draft
(``draft_tokens=0``), and the readable loop without a cache. They run
interleaved, round after round, in one process with 2 threads, so that a busy machine slows them
alike; each keeps its best round, and the speed-ups are also given as the median of the per-round
ratios. Beside them, the memory-bandwidth bound: each new token must read every weight once, so
tokens/s <= measured read bandwidth / weight bytes.
"""

from __future__ import annotations

import statistics
import time

import torch

PROMPT = "The history of the printing press begins"
NEW_TOKENS = 32
ROUNDS = 5
THREADS = 2


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


def interleaved(runs: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of each run in each round; the order rotates so that none always goes first."""
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(_timed(runs[name]))
    return times


def measure(model, ours, ids, n: int = NEW_TOKENS, rounds: int = ROUNDS) -> dict:
    """Tokens/s of transformers, the readable and the fast DecoderLM with and without its draft
    (same greedy tokens), the fast path's warm-up, and the bandwidth bound. Used by this benchmark
    and by chapter 4."""
    never = -1  # an end-of-sequence id no run can produce: every run makes exactly n tokens
    runs = {
        "transformers": lambda: model.generate(ids, max_new_tokens=n, do_sample=False,
                                               pad_token_id=0, eos_token_id=None),
        "readable": lambda: ours.generate(ids, n, eos_token_id=never),
        "fast": lambda: ours.generate(ids, n, eos_token_id=never, fast=True),
        "fast, no draft": lambda: ours.generate(ids, n, eos_token_id=never, fast=True,
                                                draft_tokens=0),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        with torch.no_grad():
            ours._fused_stamp = None  # the first fast call stacks the weights: time it alone
            warm_up = _timed(lambda: (ours._fused(), ours._fused(torch.bfloat16)))
            outputs = {name: run() for name, run in runs.items()}  # also warms every path up
            times = interleaved(runs, rounds)
        bandwidth = read_bandwidth()
    finally:
        torch.set_num_threads(threads)
    if not all(torch.equal(out, outputs["transformers"]) for out in outputs.values()):
        raise AssertionError("the decoders disagree on the greedy tokens")
    weight_bytes = sum(p.nbytes for p in ours.parameters())  # the tied head counted once
    rate = {name: n / min(t) for name, t in times.items()}
    return {
        "tokens": n, "rounds": rounds, "rate": rate, "times": times,
        "speedup": {name: statistics.median(h / t for h, t in zip(times["transformers"], ts,
                                                                  strict=True))
                    for name, ts in times.items()},
        "warm_up_s": warm_up, "weight_bytes": weight_bytes, "bandwidth": bandwidth,
        "bound": bandwidth / weight_bytes,
    }


def run() -> list[dict]:
    from companion.decoder import DecoderLM
    from companion.models import load_smollm2

    model, tokenizer = load_smollm2()
    ours = DecoderLM.from_hf(model)
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    m = measure(model, ours, ids)
    n, rate, bound = m["tokens"], m["rate"], m["bound"]
    with torch.no_grad():
        torch.set_num_threads(THREADS)
        slow = n / min(_timed(lambda: ours.generate(ids, n, use_cache=False, eos_token_id=-1))
                       for _ in range(2))
    return [
        {"name": f"DecoderLM greedy, fast=True, SmolLM2, {n} tokens", "value": rate["fast"],
         "unit": "tokens/s", "reference": "transformers generate, same weights and tokens "
         f"(median of {m['rounds']} interleaved rounds)", "ratio": m["speedup"]["fast"]},
        {"name": f"DecoderLM greedy, fast=True, draft_tokens=0, {n} tokens",
         "value": rate["fast, no draft"], "unit": "tokens/s",
         "reference": "transformers generate (median ratio)",
         "ratio": m["speedup"]["fast, no draft"]},
        {"name": f"DecoderLM greedy, readable loop, {n} tokens", "value": rate["readable"],
         "unit": "tokens/s", "reference": "transformers generate (median ratio)",
         "ratio": m["speedup"]["readable"]},
        {"name": "transformers generate (do_sample=False)", "value": rate["transformers"],
         "unit": "tokens/s", "reference": "memory-bandwidth bound", "ratio": rate["transformers"]
         / bound},
        {"name": "DecoderLM fast=True, draft_tokens=0", "value": rate["fast, no draft"],
         "unit": "tokens/s", "reference": "memory-bandwidth bound",
         "ratio": rate["fast, no draft"] / bound},
        {"name": "fast path warm-up (stacking the weights and their bfloat16 copy, once)",
         "value": m["warm_up_s"],
         "unit": "s", "reference": None, "ratio": None},
        {"name": f"DecoderLM greedy without KV cache, {n} tokens", "value": slow,
         "unit": "tokens/s", "reference": "DecoderLM readable loop with KV cache",
         "ratio": slow / rate["readable"]},
        {"name": f"memory-bandwidth bound ({m['weight_bytes'] / 2**20:.0f} MiB of weights per "
         f"token at {m['bandwidth'] / 1e9:.1f} GB/s)", "value": bound, "unit": "tokens/s",
         "reference": "DecoderLM fast=True, draft_tokens=0",
         "ratio": bound / rate["fast, no draft"]},
    ]


if __name__ == "__main__":
    for row in run():
        print(row, flush=True)
