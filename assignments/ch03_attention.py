# Assignment source for chapter 3 (attention). Generate the notebooks with
# `python -m companion.teaching.notebooks student` (format: companion/teaching/source.py).
# ruff: noqa: E402, F811

# %% [markdown]
# # Assignment 3: Attention by hand
#
# Chapter 3 writes attention as $\mathrm{softmax}(QK^\top/\sqrt{d} + M)\,V$ and proves
# `companion.attention.scaled_dot_product_attention` equal to PyTorch's. Now you write the pieces
# yourself and hold them to the same standard: masked attention, the causal mask of a model that
# reads from a KV cache, and the head sharing of grouped-query attention (SmolLM2 has 9 query
# heads and 3 key/value heads). Run each `%%check` cell after your answer: it prints `[passed]`
# or what went wrong. The grader runs these checks and hidden ones.
#
# Expected time on a laptop CPU: every cell runs in about a second.

# %%
import math

import torch
from torch.nn import functional as F

torch.manual_seed(0)

# %% [markdown] question=masked_attention points=4
# ## Exercise 1: masked scaled dot-product attention (4 points)
#
# Write `masked_attention(q, k, v, mask)` for `q` of shape `(..., Tq, d)`, `k` `(..., Tk, d)`,
# `v` `(..., Tk, dv)` and a boolean `mask` broadcastable to `(..., Tq, Tk)`, True where a query
# may attend to a key (or `None`). Return `(output, weights)`: the weights are
# $\mathrm{softmax}(QK^\top/\sqrt{d})$ with masked scores set to $-\infty$ before the softmax.
# Every query row of the tests may attend to at least one key.

# %% solution
def masked_attention(q, k, v, mask=None):
    """``softmax(q k^T / sqrt(d), masked) v`` and the attention weights."""
    # BEGIN SOLUTION
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights
    # END SOLUTION

# %% public
q, k, v = torch.randn(2, 5, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 8)
tril = torch.ones(5, 5, dtype=torch.bool).tril()
out, weights = masked_attention(q, k, v, tril)
assert out.shape == (2, 5, 8) and weights.shape == (2, 5, 5)
torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
assert (weights[:, 0, 1:] == 0).all(), "the first query may only attend to the first key"
torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))

# %% hidden
for _ in range(20):
    b, h, tq, tk, d, dv = (int(x) for x in torch.randint(1, 7, (6,)))
    q, k, v = torch.randn(b, h, tq, d), torch.randn(b, h, tk, d), torch.randn(b, h, tk, dv)
    mask = torch.rand(b, 1, tq, tk) < 0.6
    mask[..., 0] = True  # every query may attend to something
    out, weights = masked_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert (weights[~mask.expand_as(weights)] == 0).all()

# %% hidden
from companion.attention import scaled_dot_product_attention

q, k, v = torch.randn(3, 4, 16), torch.randn(3, 6, 16), torch.randn(3, 6, 2)
out, weights = masked_attention(q, k, v)
ref_out, ref_weights = scaled_dot_product_attention(q, k, v)
torch.testing.assert_close(weights, ref_weights)
torch.testing.assert_close(out, ref_out)

# %% [markdown] question=cached_causal_mask points=3
# ## Exercise 2: the causal mask with a KV cache (3 points)
#
# When a decoder has `past` tokens in its KV cache and feeds `new` tokens, the queries are the
# last `new` positions of a sequence of `past + new` keys. Query `i` (0-based among the new ones)
# sits at absolute position `past + i` and may attend to every key `j <= past + i`. Write
# `cached_causal_mask(new, past)` returning the boolean `(new, past + new)` mask.

# %% solution
def cached_causal_mask(new: int, past: int) -> torch.Tensor:
    """Boolean ``(new, past + new)`` mask, True where key ``j <= past + i``."""
    # BEGIN SOLUTION
    return torch.ones(new, past + new, dtype=torch.bool).tril(diagonal=past)
    # END SOLUTION

# %% public
assert cached_causal_mask(1, 4).tolist() == [[True] * 5]
assert cached_causal_mask(3, 0).tolist() == torch.ones(3, 3, dtype=torch.bool).tril().tolist()

# %% hidden
from companion.attention import causal_mask

for new in range(1, 6):
    for past in range(0, 6):
        got = cached_causal_mask(new, past)
        assert got.dtype == torch.bool and got.shape == (new, past + new)
        assert torch.equal(got, causal_mask(new, past + new, offset=past)), (new, past)

# %% hidden
# Attention of the last `new` queries under the cached mask equals the full causal attention rows.
q, k, v = torch.randn(1, 7, 8), torch.randn(1, 7, 8), torch.randn(1, 7, 8)
full = F.scaled_dot_product_attention(q, k, v, is_causal=True)
last = F.scaled_dot_product_attention(q[:, 4:], k, v, attn_mask=cached_causal_mask(3, 4))
torch.testing.assert_close(last, full[:, 4:])

# %% [markdown] question=repeat_kv points=3
# ## Exercise 3: sharing key/value heads (3 points)
#
# In grouped-query attention, `n_heads` query heads share `n_kv_heads` key/value heads: query
# head `h` uses kv head `h // (n_heads // n_kv_heads)`. Write `repeat_kv(x, n_rep)` that turns
# `x` of shape `(batch, n_kv_heads, T, d)` into `(batch, n_kv_heads * n_rep, T, d)`, each kv head
# repeated `n_rep` times in a row, so that plain multi-head attention can run on the result.

# %% solution
def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``(b, kv, T, d) -> (b, kv * n_rep, T, d)``, kv head ``g`` becoming heads ``g*n_rep...``."""
    # BEGIN SOLUTION
    b, kv, t, d = x.shape
    return x[:, :, None].expand(b, kv, n_rep, t, d).reshape(b, kv * n_rep, t, d)
    # END SOLUTION

# %% public
x = torch.arange(2 * 3 * 1 * 1).reshape(2, 3, 1, 1).float()
assert repeat_kv(x, 3)[0, :, 0, 0].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]

# %% hidden
from transformers.models.llama.modeling_llama import repeat_kv as llama_repeat_kv

for n_rep in (1, 2, 3):
    x = torch.randn(2, 3, 5, 4)
    assert torch.equal(repeat_kv(x, n_rep), llama_repeat_kv(x, n_rep))

# %% hidden
# GQA with SmolLM2's head counts (9 query heads, 3 kv heads) equals torch's enable_gqa.
q, k, v = torch.randn(1, 9, 6, 8), torch.randn(1, 3, 6, 8), torch.randn(1, 3, 6, 8)
expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
got = F.scaled_dot_product_attention(q, repeat_kv(k, 3), repeat_kv(v, 3), is_causal=True)
torch.testing.assert_close(got, expected)
