"""companion.decoder against transformers: the same logits, the same greedy and beam-search text."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import tiny_llama
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from companion.decoder import (
    STRATEGIES,
    DecoderConfig,
    DecoderLM,
    cache_bytes,
    filter_logits,
    train_lm,
)
from companion.seq2seq import CharTokenizer


@pytest.fixture(scope="module")
def smol_lm(smollm2):
    """The companion DecoderLM holding SmolLM2's weights (built once for this file)."""
    return DecoderLM.from_hf(smollm2[0])


@pytest.mark.parametrize("n_kv_heads", [1, 2, 4])
def test_logits_equal_transformers_on_a_tiny_llama(n_kv_heads):
    hf = tiny_llama(n_kv_heads=n_kv_heads)
    ours = DecoderLM.from_hf(hf)
    ids = torch.randint(0, 64, (3, 9))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), hf(ids).logits, atol=1e-5, rtol=1e-5)


def test_left_padding_gives_the_logits_of_the_unpadded_prompt():
    hf = tiny_llama()
    ours = DecoderLM.from_hf(hf)
    ids = torch.randint(3, 64, (1, 6))
    padded = torch.cat((torch.full((1, 3), 2), ids), dim=1)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        alone = hf(ids).logits
        got = ours(padded, attention_mask=mask)[:, 3:]
        reference = hf(padded, attention_mask=mask).logits[:, 3:]
    torch.testing.assert_close(got, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got, alone, atol=1e-5, rtol=1e-5)  # RoPE sees only distances


def test_cached_and_uncached_logits_are_equal():
    ours = DecoderLM.from_hf(tiny_llama())
    ids = torch.randint(0, 64, (2, 12))
    with torch.no_grad():
        full = ours(ids)
        logits, past = ours(ids[:, :5], use_cache=True)
        pieces = [logits]
        for t in range(5, 12):
            logits, past = ours(ids[:, t : t + 1], past=past, use_cache=True)
            pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache_bytes(past) == 2 * 2 * 2 * 2 * 12 * 8 * 4  # K,V x layers x batch x heads x T x d


def test_greedy_with_and_without_cache_equals_transformers_and_stops_at_eos():
    hf = tiny_llama(seed=3, eos=5)
    ours = DecoderLM.from_hf(hf)
    ids = torch.randint(6, 64, (2, 4))
    expected = hf.generate(ids, max_new_tokens=30, do_sample=False)
    assert torch.equal(ours.generate(ids, 30), expected)
    assert torch.equal(ours.generate(ids, 30, use_cache=False), expected)


@pytest.mark.parametrize(("seed", "num_beams", "length_penalty"),
                         [(1, 3, 1.0), (2, 4, 0.5), (3, 2, 2.0)])
@pytest.mark.parametrize("eos_step", [None, 3])
def test_beam_search_equals_transformers_on_tiny_models(seed, num_beams, length_penalty, eos_step):
    hf = tiny_llama(seed=seed)
    ours = DecoderLM.from_hf(hf)
    for prompt in range(2):
        ids = torch.randint(0, 64, (1, 3 + prompt), generator=torch.Generator().manual_seed(prompt))
        eos = -1  # never produced; or a token greedy emits at eos_step, so that beams end early
        if eos_step is not None:
            eos = int(hf.generate(ids, max_new_tokens=eos_step, do_sample=False)[0, -1])
        expected = hf.generate(ids, max_new_tokens=12, num_beams=num_beams, do_sample=False,
                               length_penalty=length_penalty, eos_token_id=eos, pad_token_id=0)
        got = ours.generate(ids, 12, strategy="beam", num_beams=num_beams,
                            length_penalty=length_penalty, eos_token_id=eos)
        assert torch.equal(got, expected), (prompt, got, expected)


def test_sampling_with_a_seed_is_reproducible_and_seeds_differ():
    ours = DecoderLM.from_hf(tiny_llama())
    ids = torch.randint(6, 64, (1, 4))

    def sample(seed: int, strategy: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return ours.generate(ids, 20, strategy, temperature=1.5, generator=gen, eos_token_id=-1)

    for strategy in ("sample", "top_k", "top_p"):
        assert torch.equal(sample(0, strategy), sample(0, strategy))
    assert not torch.equal(sample(0, "sample"), sample(1, "sample"))


def test_top_k_1_sampling_is_greedy():
    ours = DecoderLM.from_hf(tiny_llama())
    ids = torch.randint(6, 64, (2, 4))
    assert torch.equal(ours.generate(ids, 10, "top_k", top_k=1), ours.generate(ids, 10))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.2, 3.0), st.integers(1, 40), st.floats(0.05, 1.0))
def test_filter_logits_matches_transformers_warpers(seed, temperature, top_k, top_p):
    logits = torch.randn(3, 40, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    expected = TemperatureLogitsWarper(temperature)(None, logits)
    expected = TopKLogitsWarper(top_k)(None, expected)
    expected = TopPLogitsWarper(top_p)(None, expected)
    got = filter_logits(logits, temperature, top_k, top_p)
    assert torch.equal(got.isinf(), expected.isinf())
    torch.testing.assert_close(got[~got.isinf()], expected[~expected.isinf()])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"temperature": 0.0}, "temperature must be > 0"), ({"top_k": 0}, "top_k must be >= 1"),
     ({"top_p": 1.5}, r"top_p must be in \(0, 1\]")],
)
def test_filter_logits_rejects_bad_settings(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        filter_logits(torch.randn(5), **kwargs)


def test_generate_rejects_bad_requests_with_clear_messages():
    ours = DecoderLM.from_hf(tiny_llama())  # max_seq_len = 64
    empty = r"the prompt must be \(batch, T\) with T >= 1 token, got shape \(1, 0\)"
    with pytest.raises(ValueError, match=empty):
        ours.generate(torch.zeros(1, 0, dtype=torch.long), 5)
    too_long = r"prompt \(60 tokens\) \+ max_new_tokens \(10\) = 70 exceeds max_seq_len=64"
    with pytest.raises(ValueError, match=too_long):
        ours.generate(torch.zeros(1, 60, dtype=torch.long), 10)
    with pytest.raises(ValueError, match=r"unknown strategy 'nucleus'; expected one of"):
        ours.generate(torch.zeros(1, 3, dtype=torch.long), 5, strategy="nucleus")
    with pytest.raises(ValueError, match="beam search takes one prompt"):
        ours.generate(torch.zeros(2, 3, dtype=torch.long), 5, strategy="beam")
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        ours.generate(torch.zeros(1, 3, dtype=torch.long), 0)
    assert set(STRATEGIES) == {"greedy", "sample", "top_k", "top_p", "beam"}


def test_forward_rejects_bad_inputs():
    ours = DecoderLM.from_hf(tiny_llama())
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 64\), got \[0, 64\]"):
        ours(torch.tensor([[0, 64]]))
    with pytest.raises(ValueError, match="context of 65 tokens"):
        ours(torch.zeros(1, 65, dtype=torch.long))
    with pytest.raises(ValueError, match=r"attention_mask must be \(batch, T_past \+ T\)"):
        ours(torch.zeros(1, 4, dtype=torch.long), attention_mask=torch.ones(1, 3))
    with pytest.raises(ValueError, match="T >= 1"):
        ours(torch.zeros(1, 0, dtype=torch.long))


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="n_layers must be positive, got 0"):
        DecoderConfig(vocab_size=10, d_model=8, n_layers=0, n_heads=2, d_ff=16)


def test_train_lm_learns_a_repeating_text():
    chars = CharTokenizer("abcdefgh")
    data = chars.encode("abcdefgh" * 40)
    torch.manual_seed(0)
    tiny = DecoderLM(DecoderConfig(vocab_size=8, d_model=32, n_layers=1, n_heads=2, d_ff=64))
    losses = train_lm(tiny, data, steps=80, batch_size=8, seq_len=16, lr=1e-2,
                      generator=torch.Generator().manual_seed(0))
    assert losses[0] > 1.5 and losses[-1] < 0.2  # ln 8 = 2.08 at the start
    out = tiny.generate(chars.encode("abc")[None], 8, eos_token_id=-1)
    assert chars.decode(out[0]) == "abcdefghabc"
    with pytest.raises(ValueError, match="longer than seq_len"):
        train_lm(tiny, data[:10], steps=1, seq_len=16)


@pytest.mark.slow
def test_smollm2_config_and_parameter_count_match_transformers(smollm2, smol_lm):
    model, _ = smollm2
    config = smol_lm.config
    assert (config.n_layers, config.d_model, config.n_heads, config.n_kv_heads) == (30, 576, 9, 3)
    assert (config.rope_theta, config.vocab_size, config.eos_token_id) == (1e5, 49152, 2)
    assert sum(p.numel() for p in smol_lm.parameters()) == model.num_parameters() == 134_515_008


@pytest.mark.slow
def test_smollm2_logits_equal_transformers(smollm2, smol_lm):
    model, tokenizer = smollm2
    batch = tokenizer(["Gravity is", "Write a haiku about the sea, please."], padding=True,
                      padding_side="left", return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch).logits
        got = smol_lm(batch.input_ids, attention_mask=batch.attention_mask)
    real = batch.attention_mask.bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_smollm2_greedy_64_tokens_are_identical_to_transformers(smollm2, smol_lm):
    model, tokenizer = smollm2
    messages = [{"role": "user", "content": "Name three uses of a paperclip."}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True).input_ids
    expected = model.generate(ids, max_new_tokens=64, do_sample=False)
    got = smol_lm.generate(ids, 64)
    assert got.shape[1] > ids.shape[1] + 10
    assert torch.equal(got, expected)


@pytest.mark.slow
def test_smollm2_beam_search_equals_transformers(smollm2, smol_lm):
    model, tokenizer = smollm2
    ids = tokenizer("The three primary colours are", return_tensors="pt").input_ids
    expected = model.generate(ids, max_new_tokens=8, num_beams=3, do_sample=False)
    assert torch.equal(smol_lm.generate(ids, 8, strategy="beam", num_beams=3), expected)
