# Assignment source for chapter 4 (the decoder). Generate the notebooks with
# `python -m companion.teaching.notebooks student` (format: companion/teaching/source.py).
# ruff: noqa: E402, F811

# %% [markdown]
# # Assignment 4: Decoding, one token at a time
#
# Chapter 4 builds a decoder that generates with a KV cache and greedy, top-k, top-p and beam
# search. Here you write three of the parts that turn logits into text: a nucleus (top-p) filter,
# a repetition penalty, and a greedy loop that reuses the KV cache, each held to what
# `transformers` does. A tiny random Llama stands in for SmolLM2, so every cell runs in a second.
# Run each `%%check` cell after your answer: it prints `[passed]` or what went wrong. The grader
# runs these checks and hidden ones.
#
# Expected time on a laptop CPU: every cell runs in about a second.

# %%
import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
tiny = LlamaForCausalLM(LlamaConfig(
    vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, eos_token_id=None, pad_token_id=0)).eval()

# %% [markdown] question=top_p_filter points=4
# ## Exercise 1: the nucleus (top-p) filter (4 points)
#
# Top-p sampling {cite:p}`holtzman2020nucleus` keeps the smallest set of most probable tokens whose
# probabilities add up to at least `p`, and sets every other logit to $-\infty$ (the most probable
# token always stays). Write `top_p_filter(logits, p)` for `logits` of shape `(batch, vocab)` and
# `0 < p <= 1` (`p = 1` keeps every token: do not let rounding in a cumulative sum drop one).

# %% solution
def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest most-probable set with probability >= p; other logits become -inf."""
    # BEGIN SOLUTION
    if p >= 1:
        return logits.clone()
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    drop_sorted = (probs.cumsum(dim=-1) - probs) >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
    # END SOLUTION

# %% public
logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
kept = top_p_filter(logits, 0.75).isfinite()
assert kept.tolist() == [[True, True, False, False]], "0.5 + 0.3 reaches 0.75"

# %% hidden
from companion.decoder import filter_logits

for p in (0.1, 0.5, 0.9, 0.99, 1.0):
    logits = torch.randn(6, 50) * 3
    assert torch.equal(top_p_filter(logits, p), filter_logits(logits, top_p=p)), p

# %% hidden
from transformers.generation.logits_process import TopPLogitsWarper

for p in (0.3, 0.8, 0.95):
    logits = torch.randn(4, 50) * 2
    expected = TopPLogitsWarper(top_p=p)(None, logits.clone())
    assert torch.equal(top_p_filter(logits, p).isfinite(), expected.isfinite()), p

# %% [markdown] question=repetition_penalty points=3
# ## Exercise 2: the repetition penalty (3 points)
#
# To discourage loops, a token that already appears in a row's `input_ids` gets its logit divided
# by `penalty` if positive, multiplied by it if negative (the CTRL penalty). Write
# `repetition_penalty(logits, input_ids, penalty)` for `logits` `(batch, vocab)` and `input_ids`
# `(batch, T)`, returning a new tensor (leave `logits` unchanged).

# %% solution
def repetition_penalty(logits: torch.Tensor, input_ids: torch.Tensor, penalty: float):
    """Divide (if > 0) or multiply (if < 0) the logits of already-seen tokens by ``penalty``."""
    # BEGIN SOLUTION
    seen = torch.gather(logits, 1, input_ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(1, input_ids, seen)
    # END SOLUTION

# %% public
logits = torch.tensor([[2.0, -2.0, 1.0]])
out = repetition_penalty(logits, torch.tensor([[0, 1]]), 2.0)
assert out.tolist() == [[1.0, -4.0, 1.0]]
assert logits.tolist() == [[2.0, -2.0, 1.0]], "the input logits must not change"

# %% hidden
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

for penalty in (1.2, 2.0, 0.8):
    logits = torch.randn(3, 50)
    ids = torch.randint(0, 50, (3, 9))  # with repeated ids
    expected = RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone())
    torch.testing.assert_close(repetition_penalty(logits, ids, penalty), expected)

# %% [markdown] question=greedy_decode points=4
# ## Exercise 3: greedy decoding with a KV cache (4 points)
#
# Write `greedy_decode(model, input_ids, max_new_tokens)`: feed the prompt once with
# `use_cache=True`, then repeatedly pick the most probable next token and feed **only that token**
# with the returned cache (`out.cache` in transformers 5; `past_key_values` in version 4).
# Return the prompt followed by the new tokens, shape `(batch, T + max_new_tokens)`. The checks
# compare with `model.generate` and count how many tokens each forward pass receives.

# %% solution
@torch.no_grad()
def greedy_decode(model, input_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Prompt plus ``max_new_tokens`` greedy tokens, one cached forward pass per new token."""
    # BEGIN SOLUTION
    out = model(input_ids=input_ids, use_cache=True)
    ids = input_ids
    for _ in range(max_new_tokens):
        token = out.logits[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, token], dim=1)
        out = model(input_ids=token, cache=out.cache, use_cache=True)
    return ids
    # END SOLUTION

# %% public
prompt = torch.tensor([[1, 5, 7, 9]])
expected = tiny.generate(prompt, max_new_tokens=6, do_sample=False)
assert torch.equal(greedy_decode(tiny, prompt, 6), expected)

# %% hidden
prompt = torch.randint(1, 50, (3, 5))
expected = tiny.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=10,
                         do_sample=False)
assert torch.equal(greedy_decode(tiny, prompt, 10), expected)

# %% hidden
lengths = []
handle = tiny.model.embed_tokens.register_forward_hook(
    lambda module, args, output: lengths.append(args[0].shape[1]))
try:
    greedy_decode(tiny, torch.tensor([[3, 4, 5, 6, 7]]), 4)
finally:
    handle.remove()
assert lengths[0] == 5 and all(n == 1 for n in lengths[1:]), f"tokens per forward: {lengths}"
