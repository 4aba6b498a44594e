"""companion.fastdecode: the readable decoder's logits and transformers' tokens, only faster."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import tiny_llama

from companion.decoder import DecoderLM
from companion.fastdecode import Decoder, fuse


@pytest.mark.parametrize("n_kv_heads", [1, 2, 4])
def test_fast_greedy_equals_transformers_and_stops_at_eos(n_kv_heads):
    hf = tiny_llama(seed=3, n_kv_heads=n_kv_heads, eos=5)
    ours = DecoderLM.from_hf(hf)
    ids = torch.randint(6, 64, (2, 4), generator=torch.Generator().manual_seed(n_kv_heads))
    expected = hf.generate(ids, max_new_tokens=30, do_sample=False)
    assert torch.equal(ours.generate(ids, 30, fast=True), expected)


def test_fast_step_logits_equal_the_readable_forward():
    ours = DecoderLM.from_hf(tiny_llama())
    ids = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(0))
    decoder = Decoder(ours, fuse(ours), batch=2, max_len=12)
    with torch.no_grad():
        full = ours(ids)
        steps = [decoder.step(ids[:, :5])] + [decoder.step(ids[:, t : t + 1]) for t in range(5, 12)]
    torch.testing.assert_close(torch.stack(steps, dim=1), full[:, 4:], atol=1e-5, rtol=1e-5)
    assert decoder.length == 12


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3), st.integers(1, 10), st.integers(1, 20))
def test_fast_and_readable_greedy_agree_on_any_prompt(seed, batch, prompt_len, new):
    ours = DecoderLM.from_hf(tiny_llama(seed=seed % 5, eos=7))
    ids = torch.randint(0, 64, (batch, prompt_len), generator=torch.Generator().manual_seed(seed))
    assert torch.equal(ours.generate(ids, new, fast=True), ours.generate(ids, new))


@pytest.mark.parametrize("strategy", ["sample", "top_k", "top_p"])
def test_fast_sampling_draws_the_same_tokens_from_the_same_seed(strategy):
    ours = DecoderLM.from_hf(tiny_llama())
    ids = torch.randint(6, 64, (2, 4), generator=torch.Generator().manual_seed(1))

    def sample(fast: bool) -> torch.Tensor:
        gen = torch.Generator().manual_seed(0)
        return ours.generate(ids, 20, strategy, temperature=1.3, generator=gen,
                             eos_token_id=-1, fast=fast)

    assert torch.equal(sample(True), sample(False))


def test_fast_path_follows_weights_changed_by_training():
    ours = DecoderLM.from_hf(tiny_llama())
    ids = torch.randint(6, 64, (1, 4), generator=torch.Generator().manual_seed(2))
    before = ours.generate(ids, 12, eos_token_id=-1, fast=True)
    optimizer = torch.optim.SGD(ours.parameters(), lr=5.0)
    loss = torch.nn.functional.cross_entropy(ours(before[:, :-1])[0], before[0, 1:])
    loss.backward()
    optimizer.step()  # in place: the stacked copies must be rebuilt
    readable = ours.generate(ids, 12, eos_token_id=-1)
    assert not torch.equal(readable, before)
    assert torch.equal(ours.generate(ids, 12, eos_token_id=-1, fast=True), readable)


def test_fast_path_returns_only_the_tokens_made_before_every_row_ended():
    hf = tiny_llama(seed=3, eos=5)
    ours = DecoderLM.from_hf(hf)
    ids = torch.randint(6, 64, (1, 4), generator=torch.Generator().manual_seed(0))
    greedy = ours.generate(ids, 3, eos_token_id=-1)[0, 4:].tolist()
    eos = greedy[2]  # the third greedy token: the run ends at its first occurrence
    got = ours.generate(ids, 20, eos_token_id=eos, fast=True)
    assert got.shape == (1, 4 + greedy.index(eos) + 1) and int(got[0, -1]) == eos
    assert torch.equal(got, ours.generate(ids, 20, eos_token_id=eos))


def test_fast_path_refuses_beam_search_and_no_cache():
    ours = DecoderLM.from_hf(tiny_llama())
    ids = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"fast=True .* got strategy='beam', use_cache=True"):
        ours.generate(ids, 5, strategy="beam", fast=True)
    with pytest.raises(ValueError, match=r"got strategy='greedy', use_cache=False"):
        ours.generate(ids, 5, use_cache=False, fast=True)


@pytest.mark.slow
def test_smollm2_fast_greedy_64_tokens_are_identical_to_transformers(smollm2):
    model, tokenizer = smollm2
    ours = DecoderLM.from_hf(model)
    messages = [{"role": "user", "content": "Name three uses of a paperclip."}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True).input_ids
    expected = model.generate(ids, max_new_tokens=64, do_sample=False)
    got = ours.generate(ids, 64, fast=True)
    assert got.shape[1] > ids.shape[1] + 10
    assert torch.equal(got, expected)
    with torch.no_grad():  # the step's logits are the model's, to transformers' 1e-4
        logits = Decoder(ours, ours._fused(), 1, ids.shape[1]).step(ids)
        torch.testing.assert_close(logits, model(ids).logits[:, -1], atol=1e-4, rtol=1e-4)
