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

Greedy decoding of one sequence can also skip passes (:func:`speculate`): a copy of the same
weights in bfloat16, half the bytes to read, drafts a few tokens one at a time, and one float32
pass over all of them keeps the longest run that float32 greedy would have chosen itself. The
tokens are float32 greedy's; only the number of float32 passes drops (speculative decoding,
Leviathan et al., 2023, with the model's own low-precision copy as the draft).

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


class Weights(NamedTuple):
    """Everything a decoding step reads: the fused blocks, the embedding (also the tied LM head)
    and the final norm, all in one dtype."""

    blocks: list[FusedBlock]
    embed: Tensor  # (vocab, d_model)
    norm: Tensor  # (d_model,)


def fuse(model: nn.Module, dtype: torch.dtype | None = None) -> Weights:
    """Stack each block's q/k/v and gate/up weights (copies: the model itself is unchanged),
    cast to ``dtype`` if given (a bfloat16 draft for :func:`speculate`)."""
    def cast(weight: Tensor) -> Tensor:
        return weight if dtype is None else weight.to(dtype)

    blocks = []
    for block in model.blocks:
        attn, mlp = block.attn, block.mlp
        blocks.append(FusedBlock(
            cast(block.attn_norm.weight),
            cast(torch.cat((attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight))),
            cast(attn.o_proj.weight),
            cast(block.mlp_norm.weight),
            cast(torch.cat((mlp.gate_proj.weight, mlp.up_proj.weight))),
            cast(mlp.down_proj.weight),
        ))
    return Weights(blocks, cast(model.embed.weight), cast(model.norm.weight))


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """RoPE, as :func:`companion.attention.apply_rotary`, without its shape checks."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


class Decoder:
    """A DecoderLM's weights laid out for decoding, with a static KV cache for ``max_len`` tokens.

    :meth:`step` feeds ``(batch, T)`` new tokens (the prompt first, then one at a time) and
    returns the logits of the last one, ``(batch, vocab)``, or of all of them with
    ``every=True``, ``(batch, T, vocab)``. Setting :attr:`length` back forgets the cache's last
    tokens (their keys and values are overwritten by the next step).
    """

    def __init__(self, model: nn.Module, weights: Weights, batch: int, max_len: int):
        config = model.config
        self.n_heads, self.n_kv = config.n_heads, config.n_kv_heads or config.n_heads
        self.head_dim = model.blocks[0].attn.head_dim
        self.eps, self.fused = config.norm_eps, weights.blocks
        self.embed, self.norm = weights.embed, weights.norm
        weight = self.embed
        # The whole generation's keys and values, (layers, batch, kv_heads, max_len, d_k) each:
        # allocated once, written in place, read through a slice of the filled length.
        shape = (len(self.fused), batch, self.n_kv, max_len, self.head_dim)
        self.keys = torch.empty(shape, dtype=weight.dtype, device=weight.device)
        self.values = torch.empty_like(self.keys)
        positions = torch.arange(max_len, device=weight.device)
        self.cos, self.sin = rope_cos_sin(positions, self.head_dim, config.rope_theta,
                                          dtype=weight.dtype)
        self.length = 0  # tokens in the cache so far

    def step(self, ids: Tensor, every: bool = False) -> Tensor:
        b, t = ids.shape
        start, end = self.length, self.length + t
        h, kv, d = self.n_heads, self.n_kv, self.head_dim
        cos, sin = self.cos[start:end], self.sin[start:end]  # (t, d), broadcast over heads
        # New token i (position start + i) sees every key up to its own position. For one new
        # token that is every key (no mask); for a prompt in an empty cache, plain causal.
        mask = None
        if t > 1 and start > 0:
            mask = torch.ones(t, end, dtype=torch.bool, device=ids.device).tril(start)
        x = F.embedding(ids, self.embed)
        for i, w in enumerate(self.fused):
            # (b, t, (h + 2 kv) d) -> (b, h + 2 kv, t, d): query heads, key heads, value heads
            qkv = F.linear(F.rms_norm(x, (x.shape[-1],), w.attn_norm, self.eps), w.qkv)
            qkv = qkv.view(b, t, h + 2 * kv, d).transpose(1, 2)
            qk = _rotate(qkv[:, : h + kv], cos, sin)  # queries and keys rotate together
            self.keys[i, :, :, start:end] = qk[:, h:]
            self.values[i, :, :, start:end] = qkv[:, h + kv :]
            attended = F.scaled_dot_product_attention(
                qk[:, :h], self.keys[i, :, :, :end], self.values[i, :, :, :end],
                attn_mask=mask, is_causal=t > 1 and mask is None, enable_gqa=h > kv,
            )
            x = x + F.linear(attended.transpose(1, 2).reshape(b, t, h * d), w.o)
            gate, up = F.linear(F.rms_norm(x, (x.shape[-1],), w.mlp_norm, self.eps),
                                w.gate_up).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, w.down)
        self.length = end
        last = F.rms_norm(x if every else x[:, -1], (x.shape[-1],), self.norm, self.eps)
        return F.linear(last, self.embed)  # the tied head, on the last position only by default


@torch.no_grad()  # not inference_mode: its tensors could never enter a later backward pass
def decode(
    model: nn.Module, weights: Weights, input_ids: Tensor, max_new_tokens: int,
    choose: Callable[[Tensor], Tensor], eos: int | None,
) -> Tensor:
    """Extend ``input_ids`` by up to ``max_new_tokens`` tokens picked by ``choose(logits)``.

    The same contract as the readable loop: rows that reach ``eos`` are padded with it, and the
    loop stops when every row has. Returns ``(batch, T + n)`` (``n <= max_new_tokens``).
    """
    b, t = input_ids.shape
    decoder = Decoder(model, weights, b, t + max_new_tokens)
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


@torch.no_grad()
def speculate(
    model: nn.Module, weights: Weights, draft: Weights, input_ids: Tensor, max_new_tokens: int,
    eos: int | None, k: int = 8, on_round: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Greedy decoding of one sequence with ``weights``, ``k`` tokens at a time guessed by
    ``draft`` (the same model, cheaper to read) and checked in one pass.

    Each round the draft greedily extends the sequence by up to ``k`` guesses; one pass of the
    real weights over the last token and the guesses gives, at every position, the token greedy
    decoding would choose there. Guesses are kept while they equal it; the first disagreement is
    replaced by the real choice (when all agree, the pass yields one more token for free). So a
    round adds between 1 and ``k + 1`` tokens, always the ones plain greedy decoding would have
    added, and both caches forget what came after the first wrong guess. ``on_round(guessed,
    kept)``, if given, hears how each round went. Returns ``(1, T + n)``, as :func:`decode`.
    """
    if input_ids.shape[0] != 1:
        raise ValueError(f"speculate decodes one sequence; got a batch of {input_ids.shape[0]}")
    if k < 1:
        raise ValueError(f"k (tokens guessed per round) must be >= 1, got {k}")
    t = input_ids.shape[1]
    room = t + max_new_tokens + k  # a round may check k guesses past the last kept token
    target, drafter = Decoder(model, weights, 1, room), Decoder(model, draft, 1, room)
    drafter.step(input_ids)
    seq = input_ids[0].tolist()  # the prompt and every token made so far
    seq.append(int(target.step(input_ids).argmax(dim=-1)))
    while seq[-1] != eos and len(seq) < t + max_new_tokens:
        guesses: list[int] = []
        pending = seq[drafter.length:]  # what the draft has not read yet: one or two tokens
        for _ in range(min(k, t + max_new_tokens - len(seq) - 1)):
            guesses.append(int(drafter.step(input_ids.new_tensor([pending])).argmax(dim=-1)))
            pending = guesses[-1:]
            if guesses[-1] == eos:
                break
        start = target.length  # the target has read all of seq but its last token
        best = target.step(input_ids.new_tensor([seq[start:] + guesses]), every=True)[0]
        best = best.argmax(dim=-1).tolist()  # best[i]: greedy's choice after the first i guesses
        kept = 0
        while kept < len(guesses) and guesses[kept] == best[kept]:
            kept += 1
        target.length = start + 1 + kept  # forget the keys and values of wrong guesses
        if on_round is not None:
            on_round(len(guesses), kept)
        drafter.length = min(drafter.length, len(seq) + kept)
        for token in best[: kept + 1]:
            seq.append(token)
            if token == eos:
                break
    return input_ids.new_tensor([seq])
