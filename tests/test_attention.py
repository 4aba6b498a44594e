"""companion.attention against torch's SDPA, transformers' Llama RoPE and a real SmolLM2 layer."""

from __future__ import annotations

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.nn import functional as F
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

from companion.attention import (
    MultiHeadAttention,
    apply_rotary,
    attention_maps,
    causal_mask,
    padding_mask,
    rope_cos_sin,
    scaled_dot_product_attention,
)

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5, torch.bfloat16: 3e-2}


@st.composite
def attention_inputs(draw):
    """Random q, k, v with 0-2 leading dims (some broadcast), a random mask and a dtype."""
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.bfloat16]))
    batch = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    tq, tk = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    d, dv = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)
    # k/v may drop a leading dim to size 1, to exercise broadcasting.
    kv_batch = [b if draw(st.booleans()) else 1 for b in batch]
    q = torch.randn(*batch, tq, d, generator=gen).to(dtype)
    k = torch.randn(*kv_batch, tk, d, generator=gen).to(dtype)
    v = torch.randn(*kv_batch, tk, dv, generator=gen).to(dtype)
    kind = draw(st.sampled_from(["none", "full", "broadcast", "sparse"]))
    mask = None
    if kind == "full":
        mask = torch.rand(*batch, tq, tk, generator=gen) < 0.7
    elif kind == "broadcast":
        mask = torch.rand(1, tk, generator=gen) < 0.7
    elif kind == "sparse":  # many rows with nothing to attend to
        mask = torch.rand(tq, tk, generator=gen) < 0.2
    causal = draw(st.booleans())
    return q, k, v, mask, causal


def torch_reference(q, k, v, mask, causal):
    """torch's SDPA (it cannot take is_causal and a mask together, so combine them by hand)."""
    if causal and mask is not None:
        mask = mask & torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        causal = False
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


@settings(max_examples=150, deadline=None)
@given(attention_inputs())
def test_sdpa_matches_torch_for_any_shape_mask_and_dtype(inputs):
    q, k, v, mask, causal = inputs
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    expected = torch_reference(q, k, v, mask, causal)
    tol = TOLERANCE[q.dtype]
    assert out.dtype == q.dtype and out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=tol, rtol=tol)
    # The weights are what torch's SDPA returns when the values are the identity matrix.
    eye = torch.eye(k.shape[-2], dtype=q.dtype)
    expected_weights = torch_reference(q, k, eye, mask, causal)
    torch.testing.assert_close(weights, expected_weights.expand_as(weights), atol=tol, rtol=tol)


@settings(max_examples=50, deadline=None)
@given(attention_inputs())
def test_weights_rows_sum_to_one_or_are_all_zero(inputs):
    q, k, v, mask, causal = inputs
    q, k, v = q.double(), k.double(), v.double()
    _, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    sums = weights.sum(-1)
    assert torch.all(((sums - 1).abs() < 1e-9) | (sums == 0))
    assert not weights.isnan().any()


def test_fully_masked_rows_give_zeros_and_finite_gradients():
    q = torch.randn(2, 4, 8, requires_grad=True)
    k = torch.randn(2, 5, 8, requires_grad=True)
    v = torch.randn(2, 5, 3)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.equal(out[:, 2], torch.zeros(2, 3))
    assert torch.equal(weights[:, 2], torch.zeros(2, 5))
    out.sum().backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()


def test_scale_by_sqrt_d_matches_hand_computation():
    q = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    k = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    v = torch.tensor([[1.0], [0.0]])
    out, weights = scaled_dot_product_attention(q, k, v)
    # scores: 2/sqrt(4) = 1 and 0, so the weights are e/(e+1) and 1/(e+1).
    e = torch.e
    torch.testing.assert_close(weights, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))
    torch.testing.assert_close(out, torch.tensor([[e / (e + 1)]]))


@pytest.mark.parametrize(
    ("q", "k", "v", "fragment"),
    [
        ((4,), (5, 8), (5, 8), "at least 2 dimensions"),
        ((4, 8), (5, 7), (5, 8), "disagree on d"),
        ((4, 8), (5, 8), (6, 8), "disagree on Tk"),
        ((2, 4, 8), (3, 5, 8), (3, 5, 8), "do not broadcast"),
    ],
)
def test_sdpa_rejects_mismatched_shapes_naming_them(q, k, v, fragment):
    with pytest.raises(ValueError, match=fragment) as err:
        scaled_dot_product_attention(torch.randn(q), torch.randn(k), torch.randn(v))
    assert str(tuple(q)) in str(err.value) and str(tuple(k)) in str(err.value)


def test_sdpa_rejects_bad_masks():
    q, k, v = torch.randn(4, 8), torch.randn(5, 8), torch.randn(5, 8)
    with pytest.raises(ValueError, match="bool"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 5))
    with pytest.raises(ValueError, match=r"\(3, 5\) does not broadcast"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(3, 5, dtype=torch.bool))


def test_causal_mask_by_hand_and_with_offset():
    assert causal_mask(3).int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert causal_mask(2, 4).int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0]]
    # Two new queries after two cached keys: bottom-right aligned.
    assert causal_mask(2, 4, offset=2).int().tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    with pytest.raises(ValueError, match="tq=-1"):
        causal_mask(-1)


def test_padding_mask_hides_padded_keys_from_every_query():
    attention_mask = torch.tensor([[0, 1, 1], [1, 1, 1]])
    mask = padding_mask(attention_mask)
    assert mask.shape == (2, 1, 1, 3) and mask.dtype == torch.bool
    assert mask[0, 0, 0].tolist() == [False, True, True]
    with pytest.raises(ValueError, match="only 0 and 1, found 2"):
        padding_mask(torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match=r"\(batch, T\)"):
        padding_mask(torch.ones(3))


@pytest.mark.parametrize("theta", [10_000.0, 100_000.0])
def test_rope_matches_transformers_llama(theta):
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, rope_theta=theta)
    config.rope_parameters = {"rope_type": "default", "rope_theta": theta}
    rotary = LlamaRotaryEmbedding(config)
    q, k = torch.randn(2, 4, 7, 16), torch.randn(2, 4, 7, 16)
    positions = torch.tensor([[3, 4, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6]])
    cos_ref, sin_ref = rotary(q, positions)
    q_ref, k_ref = apply_rotary_pos_emb(q, k, cos_ref, sin_ref)
    cos, sin = rope_cos_sin(positions, 16, theta)
    torch.testing.assert_close(cos, cos_ref)
    torch.testing.assert_close(apply_rotary(q, cos[:, None], sin[:, None]), q_ref)
    torch.testing.assert_close(apply_rotary(k, cos[:, None], sin[:, None]), k_ref)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
@example(484, 220, 1)  # float32 angles broke the identity here by 1.2e-4 (CI, stop 11)
def test_rope_scores_depend_only_on_relative_position(i, j, shift):
    gen = torch.Generator().manual_seed(i + 7 * j)
    q, k = torch.randn(1, 32, generator=gen).double(), torch.randn(1, 32, generator=gen).double()

    def score(pq: int, pk: int) -> float:
        cq, sq = rope_cos_sin(torch.tensor([pq]), 32, dtype=torch.float64)
        ck, sk = rope_cos_sin(torch.tensor([pk]), 32, dtype=torch.float64)
        return (apply_rotary(q, cq, sq) @ apply_rotary(k, ck, sk).T).item()

    assert score(i, j) == pytest.approx(score(i + shift, j + shift), abs=1e-9)


def test_rope_rejects_odd_head_dim():
    with pytest.raises(ValueError, match="even number, got 7"):
        rope_cos_sin(torch.arange(3), 7)


def test_gqa_equals_repeating_kv_heads_by_hand():
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_model=24, n_heads=6, n_kv_heads=2)
    x = torch.randn(2, 5, 24)
    q = mha.q_proj(x).view(2, 5, 6, 4).transpose(1, 2)
    k = mha.k_proj(x).view(2, 5, 2, 4).transpose(1, 2).repeat_interleave(3, dim=1)
    v = mha.v_proj(x).view(2, 5, 2, 4).transpose(1, 2).repeat_interleave(3, dim=1)
    heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    expected = mha.o_proj(heads.transpose(1, 2).reshape(2, 5, 24))
    for need_weights in (False, True):
        got = mha(x, causal=True, need_weights=need_weights).output
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_from_scratch_and_fused_paths_agree_with_masks_and_rope():
    torch.manual_seed(1)
    mha = MultiHeadAttention(d_model=32, n_heads=4, n_kv_heads=2, rope_theta=10_000.0)
    x = torch.randn(2, 6, 32)
    mask = padding_mask(torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]))
    slow = mha(x, mask=mask, causal=True, need_weights=True)
    fast = mha(x, mask=mask, causal=True)
    assert slow.weights.shape == (2, 4, 6, 6) and fast.weights is None
    torch.testing.assert_close(slow.output, fast.output, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("need_weights", [False, True])
def test_kv_cache_token_by_token_equals_full_sequence(need_weights):
    torch.manual_seed(2)
    mha = MultiHeadAttention(d_model=32, n_heads=4, n_kv_heads=1, rope_theta=10_000.0)
    x = torch.randn(1, 7, 32)
    full = mha(x, causal=True).output
    first = mha(x[:, :4], causal=True, use_cache=True, need_weights=need_weights)
    outputs, cache = [first.output], first.cache
    for t in range(4, 7):
        step = mha(x[:, t : t + 1], causal=True, cache=cache, use_cache=True,
                   need_weights=need_weights)
        outputs.append(step.output)
        cache = step.cache
    assert cache[0].shape == (1, 1, 7, 8)
    torch.testing.assert_close(torch.cat(outputs, dim=1), full, atol=1e-5, rtol=1e-5)


def test_cross_attention_reads_keys_and_values_from_the_context():
    torch.manual_seed(3)
    mha = MultiHeadAttention(d_model=16, n_heads=2)
    x, memory = torch.randn(1, 3, 16), torch.randn(1, 9, 16)
    result = mha(x, context=memory, need_weights=True)
    assert result.output.shape == (1, 3, 16) and result.weights.shape == (1, 2, 3, 9)
    reference = torch.nn.MultiheadAttention(16, 2, bias=False, batch_first=True)
    reference.in_proj_weight.data = torch.cat(
        [mha.q_proj.weight, mha.k_proj.weight, mha.v_proj.weight]
    )
    reference.out_proj.weight.data = mha.o_proj.weight.data
    expected, weights = reference(x, memory, memory, average_attn_weights=False)
    torch.testing.assert_close(result.output, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(result.weights, weights, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"d_model": 24, "n_heads": 6, "n_kv_heads": 4}, "multiple of n_kv_heads=4"),
        ({"d_model": 25, "n_heads": 6}, "d_model=25 is not divisible by n_heads=6"),
        ({"d_model": 24, "n_heads": 0}, "must be positive"),
    ],
)
def test_mha_rejects_impossible_head_layouts(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        MultiHeadAttention(**kwargs)


def test_mha_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"d_model=8\), got shape \(1, 3, 5\)"):
        MultiHeadAttention(8, 2)(torch.randn(1, 3, 5))


def test_attention_maps_equal_transformers_output_attentions():
    torch.manual_seed(4)
    config = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, rope_theta=500.0,
                         attn_implementation="eager")
    model = LlamaForCausalLM(config).eval()
    ids = torch.randint(0, 50, (1, 6))
    with torch.no_grad():
        expected = model(ids, output_attentions=True).attentions
    maps = attention_maps(model, ids, [0, 1])
    for layer in (0, 1):
        torch.testing.assert_close(maps[layer], expected[layer][0], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"layers \[2\] out of range"):
        attention_maps(model, ids, [2])


@pytest.mark.slow
@pytest.mark.parametrize("layer", [0, 14, 29])
def test_smollm2_attention_layer_is_reproduced(smollm2, layer):
    model, tokenizer = smollm2
    ids = tokenizer("Attention lets every token look at every earlier token.",
                    return_tensors="pt").input_ids
    block = model.model.layers[layer]
    with torch.no_grad():
        hidden = block.input_layernorm(model(ids, output_hidden_states=True).hidden_states[layer])
        positions = torch.arange(ids.shape[1])[None]
        expected, _ = block.self_attn(hidden, model.model.rotary_emb(hidden, positions), None)
        mha = MultiHeadAttention.from_hf(block.self_attn)
        assert (mha.n_heads, mha.n_kv_heads, mha.head_dim, mha.rope_theta) == (9, 3, 64, 1e5)
        for need_weights in (False, True):
            got = mha(hidden, causal=True, need_weights=need_weights).output
            torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
