"""Attention, written out (chapter 3: Attention, the math and the code).

Everything here is a few lines of tensor algebra, proven equal to the library versions in
``tests/test_attention.py``:

- :func:`scaled_dot_product_attention`: ``softmax(Q K^T / sqrt(d_k) + mask) V``, returning the
  weights too, equal to ``torch.nn.functional.scaled_dot_product_attention``.
- :func:`causal_mask` and :func:`padding_mask`: the boolean masks (True = "may attend").
- :func:`rope_cos_sin` and :func:`apply_rotary`: rotary position embeddings, as in Llama/SmolLM2.
- :class:`MultiHeadAttention`: projections, heads, grouped-query attention, RoPE and a KV cache;
  :meth:`MultiHeadAttention.from_hf` copies a SmolLM2 (``LlamaAttention``) layer.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

KVCache = tuple[Tensor, Tensor]
"""One layer's cache: keys and values, each ``(batch, n_kv_heads, T_past, head_dim)``."""


def _shape_error(what: str, q: Tensor, k: Tensor, v: Tensor) -> ValueError:
    return ValueError(
        f"{what}; got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} "
        "(expected q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv))"
    )


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``softmax(q k^T / sqrt(d) masked) v`` and the weights (chapter 3).

    ``q`` is ``(..., Tq, d)``, ``k`` is ``(..., Tk, d)``, ``v`` is ``(..., Tk, dv)``; leading
    dimensions broadcast. ``mask`` is boolean, broadcastable to ``(..., Tq, Tk)``, True where a
    query may attend to a key; ``causal=True`` adds :func:`causal_mask` (top-left, as torch).
    A query row that may attend to nothing gets zero weights and a zero output, never NaN.
    Returns ``(output (..., Tq, dv), weights (..., Tq, Tk))``.
    """
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise _shape_error("q, k and v need at least 2 dimensions", q, k, v)
    if q.shape[-1] != k.shape[-1]:
        raise _shape_error(f"q and k disagree on d ({q.shape[-1]} != {k.shape[-1]})", q, k, v)
    if k.shape[-2] != v.shape[-2]:
        raise _shape_error(f"k and v disagree on Tk ({k.shape[-2]} != {v.shape[-2]})", q, k, v)
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise _shape_error("leading (batch, head) dimensions do not broadcast", q, k, v) from None
    tq, tk = q.shape[-2], k.shape[-2]
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor (True = may attend), got {mask.dtype}")
        try:
            torch.broadcast_shapes(mask.shape, (*batch, tq, tk))
        except RuntimeError:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to the scores "
                f"{(*batch, tq, tk)}"
            ) from None
    if causal:
        tril = causal_mask(tq, tk, device=q.device)
        mask = tril if mask is None else mask & tril

    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., Tq, Tk): every query against every key
    if mask is None:
        weights = scores.softmax(dim=-1)
    else:
        # -inf makes exp() exactly 0 for masked keys. A row with no allowed key would be
        # softmax(-inf, ..., -inf) = 0/0 = NaN, so such rows are scored 0 and zeroed after.
        anything = mask.any(dim=-1, keepdim=True)
        scores = scores.masked_fill(~mask, float("-inf")).masked_fill(~anything, 0.0)
        weights = scores.softmax(dim=-1).masked_fill(~anything, 0.0)
    return weights @ v, weights


def causal_mask(
    tq: int, tk: int | None = None, *, offset: int = 0, device: torch.device | str | None = None
) -> Tensor:
    """Boolean ``(tq, tk)`` mask, True where key ``j <= i + offset`` (chapter 3).

    ``offset=0`` is torch's ``is_causal`` (top-left aligned). When the ``tq`` queries are the last
    tokens after ``tk - tq`` cached ones, pass ``offset=tk - tq`` (bottom-right aligned).
    """
    tk = tq if tk is None else tk
    if tq < 0 or tk < 0:
        raise ValueError(f"sequence lengths must be >= 0, got tq={tq}, tk={tk}")
    return torch.ones(tq, tk, dtype=torch.bool, device=device).tril(diagonal=offset)


def padding_mask(attention_mask: Tensor) -> Tensor:
    """From a ``(batch, T)`` 0/1 tensor to a bool ``(batch, 1, 1, T)`` key mask (chapter 3).

    Broadcasts over heads and queries: no query may attend to a padding key.
    """
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must be (batch, T), got shape {tuple(attention_mask.shape)}"
        )
    if attention_mask.dtype != torch.bool:
        bad = (attention_mask != 0) & (attention_mask != 1)
        if bad.any():
            raise ValueError(
                f"attention_mask must hold only 0 and 1, found {attention_mask[bad][0].item()}"
            )
    return attention_mask.bool()[:, None, None, :]


def rope_cos_sin(
    positions: Tensor, head_dim: int, theta: float = 10_000.0, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """Rotary angles ``p * theta^(-2i/d)``, duplicated to width ``d``, as ``(cos, sin)`` (ch. 3).

    ``positions`` is ``(T,)`` or ``(batch, T)``; the outputs are ``positions.shape + (head_dim,)``.
    The angles are computed in float32, as transformers does, or in ``dtype`` when it is wider
    (float64 keeps the relative-position identity exact to ~1e-12 even at large positions).
    """
    if head_dim <= 0 or head_dim % 2:
        raise ValueError(f"head_dim must be a positive even number, got {head_dim}")
    work = torch.promote_types(torch.float32, dtype)
    inv_freq = 1.0 / theta ** (
        torch.arange(0, head_dim, 2, dtype=work, device=positions.device) / head_dim
    )
    angles = positions[..., None].to(work) * inv_freq  # (..., T, d/2): one angle per pair
    angles = torch.cat((angles, angles), dim=-1)  # pair i is (x_i, x_{i+d/2}): same angle twice
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each pair ``(x_i, x_{i+d/2})`` by its angle: ``x cos + rotate_half(x) sin`` (ch. 3).

    ``x`` is ``(..., T, d)``; ``cos``/``sin`` from :func:`rope_cos_sin` broadcast to it (for
    ``(batch, heads, T, d)`` queries, give them shape ``(batch, 1, T, d)`` or ``(T, d)``).
    """
    if x.shape[-1] != cos.shape[-1] or cos.shape != sin.shape:
        raise ValueError(
            f"x {tuple(x.shape)}, cos {tuple(cos.shape)} and sin {tuple(sin.shape)} must share "
            "the last (head_dim) dimension"
        )
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)  # (-x_{i+d/2}, x_i): "rotate_half"
    return x * cos + rotated * sin  # (x_i cos - x_{i+d/2} sin, x_{i+d/2} cos + x_i sin)


class AttentionOutput(NamedTuple):
    """What :class:`MultiHeadAttention` returns: the output, the weights if asked, the new cache."""

    output: Tensor
    weights: Tensor | None
    cache: KVCache | None


class MultiHeadAttention(nn.Module):
    """Multi-head attention with grouped-query heads, RoPE and a KV cache (chapter 3).

    ``head_i = Attention(X W_i^Q, C W_i^K, C W_i^V)`` with ``W_i^Q, W_i^K, W_i^V`` in
    ``R^{d_model x d_k}`` (``d_k = head_dim``, by default ``d_model / n_heads``), then
    ``concat(head_1..head_h) W^O`` with ``W^O`` in ``R^{h d_k x d_model}``. ``C`` is ``X`` for
    self-attention or an encoder's output for cross-attention. With ``n_kv_heads < n_heads``
    each group of ``n_heads / n_kv_heads`` query heads shares one key/value head (GQA).
    ``rope_theta`` switches on rotary position embeddings for queries and keys.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        head_dim: int | None = None,
        bias: bool = False,
        rope_theta: float | None = None,
    ) -> None:
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if d_model <= 0 or n_heads <= 0 or n_kv_heads <= 0:
            raise ValueError(
                f"d_model, n_heads and n_kv_heads must be positive, got {d_model}, {n_heads}, "
                f"{n_kv_heads}"
            )
        if n_heads % n_kv_heads:
            raise ValueError(
                f"n_heads={n_heads} must be a multiple of n_kv_heads={n_kv_heads} "
                "(each key/value head serves a whole group of query heads)"
            )
        if head_dim is None:
            if d_model % n_heads:
                raise ValueError(
                    f"d_model={d_model} is not divisible by n_heads={n_heads}; pass head_dim"
                )
            head_dim = d_model // n_heads
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.head_dim, self.rope_theta = head_dim, rope_theta
        self.q_proj = nn.Linear(d_model, n_heads * head_dim, bias=bias)
        self.k_proj = nn.Linear(d_model, n_kv_heads * head_dim, bias=bias)
        self.v_proj = nn.Linear(d_model, n_kv_heads * head_dim, bias=bias)
        self.o_proj = nn.Linear(n_heads * head_dim, d_model, bias=bias)

    @classmethod
    def from_hf(cls, layer: nn.Module) -> MultiHeadAttention:
        """Copy a transformers ``LlamaAttention`` layer (e.g. one of SmolLM2's) into this class."""
        config = layer.config
        rope = getattr(config, "rope_parameters", None) or {}
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"only plain RoPE is supported, got rope_type={rope['rope_type']!r}")
        module = cls(
            d_model=config.hidden_size,
            n_heads=config.num_attention_heads,
            n_kv_heads=config.num_key_value_heads,
            head_dim=layer.head_dim,
            bias=layer.q_proj.bias is not None,
            rope_theta=rope.get("rope_theta", getattr(config, "rope_theta", 10_000.0)),
        )
        module.load_state_dict(
            {k: v for k, v in layer.state_dict().items() if k.split(".")[0] in
             {"q_proj", "k_proj", "v_proj", "o_proj"}}
        )
        return module.to(layer.q_proj.weight.dtype)

    def _heads(self, x: Tensor, n: int) -> Tensor:
        """``(B, T, n * d_k)`` -> ``(B, n, T, d_k)``."""
        b, t, _ = x.shape
        return x.view(b, t, n, self.head_dim).transpose(1, 2)

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        mask: Tensor | None = None,
        causal: bool = False,
        positions: Tensor | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCache | None = None,
        use_cache: bool = False,
        need_weights: bool = False,
    ) -> AttentionOutput:
        """Attend from ``x`` (``(B, Tq, d_model)``) to ``context`` (default ``x``).

        ``mask``: bool, broadcastable to ``(B, n_heads, Tq, Tk)``, True = may attend, where ``Tk``
        counts cached keys first. ``causal``: query ``i`` sees keys up to its own position, also
        with a cache. ``positions`` (``(Tq,)`` or ``(B, Tq)``) feed RoPE when ``rope_theta`` is set;
        default ``T_past .. T_past + Tq - 1``; ``rope`` passes precomputed ``(cos, sin)`` instead.
        ``cache`` holds earlier keys/values; ``use_cache=True`` returns the extended cache.
        ``need_weights=True`` returns ``(B, n_heads, Tq, Tk)`` weights (from-scratch path);
        otherwise torch's fused kernel computes the same numbers faster.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"x must be (batch, T, d_model={self.d_model}), got shape {tuple(x.shape)}"
            )
        b, tq, _ = x.shape
        source = x if context is None else context  # cross-attention reads keys from context
        # One matrix product per projection for all heads at once, then a free reshape.
        q = self._heads(self.q_proj(x), self.n_heads)
        k = self._heads(self.k_proj(source), self.n_kv_heads)
        v = self._heads(self.v_proj(source), self.n_kv_heads)
        past = 0 if cache is None else cache[0].shape[-2]  # tokens already in the cache
        if self.rope_theta is not None:
            if rope is None:
                if positions is None:
                    positions = torch.arange(past, past + tq, device=x.device)
                rope = rope_cos_sin(positions, self.head_dim, self.rope_theta, dtype=q.dtype)
            cos, sin = rope
            if cos.dim() == 3:  # (B, T, d): add the head axis
                cos, sin = cos[:, None], sin[:, None]
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:  # cached keys were rotated at their own positions: just append
            k = torch.cat((cache[0], k), dim=-2)
            v = torch.cat((cache[1], v), dim=-2)
        tk = k.shape[-2]
        if causal:  # the tq new queries are the last tq of tk positions: bottom-right aligned
            tril = causal_mask(tq, tk, offset=tk - tq, device=x.device)
            mask = tril if mask is None else mask & tril

        group = self.n_heads // self.n_kv_heads
        if need_weights:
            # GQA without copying: view the query heads as (B, n_kv, group, Tq, d_k) and let each
            # key/value head broadcast over its group.
            if mask is not None:
                mask = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape))
                mask = mask.unflatten(1, (self.n_kv_heads, group) if mask.shape[1] > 1 else (1, 1))
            out, weights = scaled_dot_product_attention(
                q.unflatten(1, (self.n_kv_heads, group)), k[:, :, None], v[:, :, None], mask
            )
            out, weights = out.flatten(1, 2), weights.flatten(1, 2)
        else:  # the same numbers (tested) from torch's kernel, which never stores the weights
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=group > 1)
            weights = None
        # concat(head_1..head_h): back to (B, Tq, h * d_k), then W^O mixes the heads.
        out = self.o_proj(out.transpose(1, 2).reshape(b, tq, self.n_heads * self.head_dim))
        return AttentionOutput(out, weights, (k, v) if use_cache else None)


@torch.no_grad()
def attention_maps(hf_model: nn.Module, input_ids: Tensor, layers: list[int]) -> dict[int, Tensor]:
    """Attention weights ``(n_heads, T, T)`` of chosen layers of a Llama-family model (chapter 3).

    Runs the model once for its hidden states (public ``output_hidden_states``), normalises each
    chosen layer's input with that layer's own ``input_layernorm`` and recomputes the attention
    with :class:`MultiHeadAttention` copied from the layer, asking for the weights.
    """
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(f"input_ids must be (1, T), got shape {tuple(input_ids.shape)}")
    blocks = hf_model.model.layers
    bad = [i for i in layers if not 0 <= i < len(blocks)]
    if bad:
        raise ValueError(f"layers {bad} out of range; the model has layers 0..{len(blocks) - 1}")
    hidden = hf_model(input_ids, output_hidden_states=True).hidden_states
    maps = {}
    for i in layers:
        x = blocks[i].input_layernorm(hidden[i])
        attn = MultiHeadAttention.from_hf(blocks[i].self_attn)
        maps[i] = attn(x, causal=True, need_weights=True).weights[0]
    return maps
