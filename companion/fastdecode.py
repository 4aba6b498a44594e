"""The decoder's fast path: the same weights and arithmetic, rearranged for speed (chapter 4).

Generating one token with a batch of one multiplies a single vector by every weight matrix of the
model: the work is tiny next to the cost of reading ~0.5 GB of float32 weights, and in eager
PyTorch next to the fixed cost of each operation (a few microseconds of Python and dispatch,
times hundreds of operations per token). The readable path of :meth:`DecoderLM.generate
<companion.decoder.DecoderLM.generate>` pays both; this one cuts the second:

- **fused projections**: ``W_q, W_k, W_v`` stacked into one matrix and ``W_gate, W_up`` into
  another, so a block runs four matrix-vector products instead of seven;
- **a static KV cache**: one tensor per layer for keys and values, allocated once for the whole
  generation and written in place (no ``torch.cat`` copying the cache every step);
- **rotary angles computed once** for every position of the generation, and applied to queries
  and keys together;
- **the LM head only where it is needed**: on the prompt's last position, never on all of them;
- plain functions (``F.linear``, ``F.rms_norm``) instead of module calls and their hooks.

It imports nothing above :mod:`companion.attention`: :class:`~companion.decoder.DecoderLM` calls
:func:`decode` with itself and a function that picks the next token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from companion.attention import rope_cos_sin


class FusedBlock(NamedTuple):
    """One decoder block's weights, with the projections that read the same input stacked."""

    attn_norm: Tensor  # (d_model,)
    qkv: Tensor  # (n_heads * d_k + 2 * n_kv_heads * d_k, d_model): W_q, W_k, W_v stacked
    o: Tensor  # (d_model, n_heads * d_k)
    mlp_norm: Tensor  # (d_model,)
    gate_up: Tensor  # (2 * d_ff, d_model): W_gate, W_up stacked
    down: Tensor  # (d_model, d_ff)


def fuse(model: nn.Module) -> list[FusedBlock]:
    """Stack each block's q/k/v and gate/up weights (copies: the model itself is unchanged)."""
    fused = []
    for block in model.blocks:
        attn, mlp = block.attn, block.mlp
        fused.append(FusedBlock(
            block.attn_norm.weight,
            torch.cat((attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight)),
            attn.o_proj.weight,
            block.mlp_norm.weight,
            torch.cat((mlp.gate_proj.weight, mlp.up_proj.weight)),
            mlp.down_proj.weight,
        ))
    return fused


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """RoPE, as :func:`companion.attention.apply_rotary`, without its shape checks."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


class Decoder:
    """A DecoderLM's weights laid out for decoding, with a static KV cache for ``max_len`` tokens.

    :meth:`step` feeds ``(batch, T)`` new tokens (the prompt first, then one at a time) and
    returns the logits of the last one, ``(batch, vocab)``.
    """

    def __init__(self, model: nn.Module, fused: list[FusedBlock], batch: int, max_len: int):
        config = model.config
        self.n_heads, self.n_kv = config.n_heads, config.n_kv_heads or config.n_heads
        self.head_dim = model.blocks[0].attn.head_dim
        self.eps, self.fused = config.norm_eps, fused
        self.embed, self.norm = model.embed.weight, model.norm.weight
        weight = self.embed
        # The whole generation's keys and values, (layers, batch, kv_heads, max_len, d_k) each:
        # allocated once, written in place, read through a slice of the filled length.
        shape = (len(fused), batch, self.n_kv, max_len, self.head_dim)
        self.keys = torch.empty(shape, dtype=weight.dtype, device=weight.device)
        self.values = torch.empty_like(self.keys)
        positions = torch.arange(max_len, device=weight.device)
        self.cos, self.sin = rope_cos_sin(positions, self.head_dim, config.rope_theta,
                                          dtype=weight.dtype)
        self.length = 0  # tokens in the cache so far

    def step(self, ids: Tensor) -> Tensor:
        b, t = ids.shape
        start, end = self.length, self.length + t
        h, kv, d = self.n_heads, self.n_kv, self.head_dim
        cos, sin = self.cos[start:end], self.sin[start:end]  # (t, d), broadcast over heads
        x = F.embedding(ids, self.embed)
        for i, w in enumerate(self.fused):
            # (b, t, (h + 2 kv) d) -> (b, h + 2 kv, t, d): query heads, key heads, value heads
            qkv = F.linear(F.rms_norm(x, (x.shape[-1],), w.attn_norm, self.eps), w.qkv)
            qkv = qkv.view(b, t, h + 2 * kv, d).transpose(1, 2)
            qk = _rotate(qkv[:, : h + kv], cos, sin)  # queries and keys rotate together
            self.keys[i, :, :, start:end] = qk[:, h:]
            self.values[i, :, :, start:end] = qkv[:, h + kv :]
            # Causal within the new tokens (top-left: only right for an empty cache) and, for
            # one new token, no mask at all: it may see every cached key.
            attended = F.scaled_dot_product_attention(
                qk[:, :h], self.keys[i, :, :, :end], self.values[i, :, :, :end],
                is_causal=t > 1, enable_gqa=h > kv,
            )
            x = x + F.linear(attended.transpose(1, 2).reshape(b, t, h * d), w.o)
            gate, up = F.linear(F.rms_norm(x, (x.shape[-1],), w.mlp_norm, self.eps),
                                w.gate_up).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, w.down)
        self.length = end
        last = F.rms_norm(x[:, -1], (x.shape[-1],), self.norm, self.eps)
        return F.linear(last, self.embed)  # the tied head, on the last position only


@torch.no_grad()  # not inference_mode: its tensors could never enter a later backward pass
def decode(
    model: nn.Module, fused: list[FusedBlock], input_ids: Tensor, max_new_tokens: int,
    choose: Callable[[Tensor], Tensor], eos: int | None,
) -> Tensor:
    """Extend ``input_ids`` by up to ``max_new_tokens`` tokens picked by ``choose(logits)``.

    The same contract as the readable loop: rows that reach ``eos`` are padded with it, and the
    loop stops when every row has. Returns ``(batch, T + n)`` (``n <= max_new_tokens``).
    """
    b, t = input_ids.shape
    decoder = Decoder(model, fused, b, t + max_new_tokens)
    out = torch.empty((b, t + max_new_tokens), dtype=input_ids.dtype, device=input_ids.device)
    out[:, :t] = input_ids
    finished = torch.zeros(b, dtype=torch.bool, device=input_ids.device)
    logits = decoder.step(input_ids)
    for n in range(max_new_tokens):
        token = choose(logits.float())
        if eos is not None:
            token = token.masked_fill(finished, eos)
            finished |= token == eos
        out[:, t + n] = token
        if n + 1 == max_new_tokens or (eos is not None and bool(finished.all())):
            return out[:, : t + n + 1]
        logits = decoder.step(token[:, None])
    return out
