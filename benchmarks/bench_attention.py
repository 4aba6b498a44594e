"""Chapter 3: from-scratch attention against torch's fused SDPA on CPU; memory growing as T^2.

The from-scratch path materialises the ``(heads, T, T)`` weight matrix; the fused kernel does not
need to. Shapes are SmolLM2's: 9 heads of 64 dimensions, causal, float32, batch 1.
"""

from __future__ import annotations

import time

import torch
from torch.nn import functional as F

from companion.attention import scaled_dot_product_attention

HEADS, HEAD_DIM = 9, 64


def best_time(fn, repeat: int = 5) -> float:
    """Best wall time of ``repeat`` calls, in seconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(t: int, repeat: int = 5) -> dict:
    """Times (ms) of both paths and the bytes of the weight matrix, for sequence length ``t``."""
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, HEADS, t, HEAD_DIM, generator=gen) for _ in range(3))
    with torch.no_grad():
        scratch = best_time(lambda: scaled_dot_product_attention(q, k, v, causal=True), repeat)
        fused = best_time(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), repeat)
    return {"T": t, "from_scratch_ms": 1e3 * scratch, "torch_sdpa_ms": 1e3 * fused,
            "weights_MiB": HEADS * t * t * 4 / 2**20}


def run() -> list[dict]:
    rows = []
    results = {t: compare(t, repeat=3) for t in (256, 512, 1024)}
    for t, r in results.items():
        rows.append({"name": f"from-scratch attention, T={t}, 9 heads x 64, causal",
                     "value": r["from_scratch_ms"], "unit": "ms",
                     "reference": "torch.nn.functional.scaled_dot_product_attention",
                     "ratio": r["from_scratch_ms"] / r["torch_sdpa_ms"]})
    rows.append({"name": "attention weight matrix, T=1024", "value": results[1024]["weights_MiB"],
                 "unit": "MiB", "reference": "same at T=512 (T^2 growth: expect 4)",
                 "ratio": results[1024]["weights_MiB"] / results[512]["weights_MiB"]})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
