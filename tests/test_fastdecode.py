"""companion.fastdecode: the readable decoder's logits and transformers' tokens, only faster."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import tiny_llama

from companion.decoder import DecoderLM
from companion.fastdecode import Decoder, fuse, speculate


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


def test_step_with_a_filled_cache_gives_every_new_tokens_logits():
    ours = DecoderLM.from_hf(tiny_llama(n_kv_heads=2))
    ids = torch.randint(0, 64, (1, 11), generator=torch.Generator().manual_seed(4))
    decoder = Decoder(ours, fuse(ours), batch=1, max_len=11)
    with torch.no_grad():
        full = ours(ids)
        decoder.step(ids[:, :6])
        several = decoder.step(ids[:, 6:], every=True)  # five tokens after six cached ones
    torch.testing.assert_close(several, full[:, 6:], atol=1e-5, rtol=1e-5)


def test_setting_the_length_back_forgets_the_last_tokens():
    ours = DecoderLM.from_hf(tiny_llama())
    ids = torch.randint(0, 64, (1, 9), generator=torch.Generator().manual_seed(5))
    other = torch.randint(0, 64, (1, 3), generator=torch.Generator().manual_seed(6))
    decoder = Decoder(ours, fuse(ours), batch=1, max_len=9)
    with torch.no_grad():
        decoder.step(ids[:, :6])
        decoder.step(other)  # three wrong guesses ...
        decoder.length = 6  # ... forgotten
        logits = decoder.step(ids[:, 6:], every=True)
        torch.testing.assert_close(logits, ours(ids)[:, 6:], atol=1e-5, rtol=1e-5)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 10), st.integers(1, 24),
       st.sampled_from(["bfloat16", "same", "other model"]))
def test_speculation_gives_greedy_tokens_whatever_the_draft(seed, k, prompt_len, new, draft):
    ours = DecoderLM.from_hf(tiny_llama(seed=seed % 5, eos=7))
    drafts = {"bfloat16": lambda: fuse(ours, torch.bfloat16), "same": lambda: fuse(ours),
              "other model": lambda: fuse(DecoderLM.from_hf(tiny_llama(seed=seed % 5 + 1)))}
    ids = torch.randint(0, 64, (1, prompt_len), generator=torch.Generator().manual_seed(seed))
    got = speculate(ours, fuse(ours), drafts[draft](), ids, new, eos=7, k=k)
    assert torch.equal(got, ours.generate(ids, new, eos_token_id=7))


def test_a_perfect_draft_makes_k_plus_one_tokens_per_pass(monkeypatch):
    ours = DecoderLM.from_hf(tiny_llama())
    weights = fuse(ours)
    passes = []
    step = Decoder.step

    def counted(self, ids, every=False):
        if self.fused is weights.blocks:
            passes.append(ids.shape[1])
        return step(self, ids, every)

    monkeypatch.setattr(Decoder, "step", counted)
    ids = torch.randint(6, 64, (1, 4), generator=torch.Generator().manual_seed(3))
    got = speculate(ours, weights, fuse(ours), ids, 21, eos=None, k=4)
    assert got.shape == (1, 4 + 21)
    assert passes == [4, 5, 5, 5, 5]  # the prompt gives token 1; each round 4 guesses + 1


def test_speculation_refuses_a_batch_and_bad_counts():
    ours = DecoderLM.from_hf(tiny_llama())
    weights = fuse(ours)
    with pytest.raises(ValueError, match="one sequence; got a batch of 2"):
        speculate(ours, weights, weights, torch.zeros(2, 3, dtype=torch.long), 5, None)
    with pytest.raises(ValueError, match=r"k \(tokens guessed per round\) must be >= 1, got 0"):
        speculate(ours, weights, weights, torch.zeros(1, 3, dtype=torch.long), 5, None, k=0)
    with pytest.raises(ValueError, match=r"draft_tokens must be >= 0 \(0: no drafting\), got -1"):
        ours.generate(torch.zeros(1, 3, dtype=torch.long), 5, fast=True, draft_tokens=-1)
