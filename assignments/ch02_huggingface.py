# Assignment source for chapter 2 (the Hugging Face toolkit). Generate the notebooks with
# `python -m companion.teaching.notebooks student` (format: companion/teaching/source.py).
# ruff: noqa: E402, F811

# %% [markdown]
# # Assignment 2: Inside a Hugging Face model
#
# Chapter 2 opens SmolLM2 and MiniLM with `transformers` and reads them: where the parameters are,
# how an encoder turns token vectors into one sentence vector, and how to tell a causal decoder
# from a bidirectional encoder by experiment. You do the same on tiny random models built from a
# config, so nothing is downloaded and every cell runs in a second. Run each `%%check` cell after
# your answer: it prints `[passed]` or what went wrong. The grader runs these checks and hidden
# ones.
#
# Expected time on a laptop CPU: every cell runs in about a second.

# %%
import torch
from transformers import BertConfig, BertModel, LlamaConfig, LlamaForCausalLM, LlamaModel

tiny = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
print(LlamaForCausalLM(tiny))

# %% [markdown] question=parameter_count points=4
# ## Exercise 1: a parameter budget from the config alone (4 points)
#
# A Llama-style decoder (SmolLM2 is one) has, per layer: the query and output projections
# ($d \times d$ each), key and value projections ($d \times d_{kv}$ each, with
# $d_{kv} = n_{kv} \cdot d / n_{heads}$), a SwiGLU MLP (three $d \times d_{ff}$ matrices) and two
# RMSNorm weight vectors of size $d$; none of its linear layers has a bias. Add the token
# embedding ($V \times d$), a final norm ($d$) and the output head ($V \times d$, unless it is
# tied to the embedding). Write `llama_parameter_count(config)` from the config fields
# `vocab_size`, `hidden_size`, `intermediate_size`, `num_hidden_layers`, `num_attention_heads`,
# `num_key_value_heads` and `tie_word_embeddings`, without building a model.

# %% solution
def llama_parameter_count(config) -> int:
    """Number of parameters of ``LlamaForCausalLM(config)``, from the config alone."""
    # BEGIN SOLUTION
    d, f, v = config.hidden_size, config.intermediate_size, config.vocab_size
    d_kv = config.num_key_value_heads * d // config.num_attention_heads
    per_layer = 2 * d * d + 2 * d * d_kv + 3 * d * f + 2 * d
    head = 0 if config.tie_word_embeddings else v * d
    return v * d + config.num_hidden_layers * per_layer + d + head
    # END SOLUTION

# %% public
assert llama_parameter_count(tiny) == LlamaForCausalLM(tiny).num_parameters()

# %% hidden
# SmolLM2-135M's shape, built on the meta device (no memory, no download).
smol = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                   num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                   tie_word_embeddings=True)
with torch.device("meta"):
    expected = LlamaForCausalLM(smol).num_parameters()
assert llama_parameter_count(smol) == expected == 134_515_008

# %% hidden
untied = LlamaConfig(vocab_size=64, hidden_size=48, intermediate_size=80, num_hidden_layers=3,
                     num_attention_heads=6, num_key_value_heads=6, tie_word_embeddings=False)
assert llama_parameter_count(untied) == LlamaForCausalLM(untied).num_parameters()

# %% [markdown] question=mean_pool points=3
# ## Exercise 2: sentence vectors by mean pooling (3 points)
#
# MiniLM gives one vector per token. A sentence vector is their mean over the *real* tokens:
# $e = \sum_t m_t h_t / \sum_t m_t$, with $m_t$ the attention mask (1 for a token, 0 for padding).
# Write `mean_pool(hidden, attention_mask)` for `hidden` of shape `(batch, seq, dim)` and a 0/1
# mask `(batch, seq)`. Padding must not change the result.

# %% solution
def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``(batch, seq, dim) -> (batch, dim)``: the mean over unpadded tokens."""
    # BEGIN SOLUTION
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    # END SOLUTION

# %% public
hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]

# %% hidden
from companion.anatomy import mean_pool as reference_pool

hidden = torch.randn(4, 7, 5)
mask = (torch.rand(4, 7) < 0.7).long()
mask[:, 0] = 1
torch.testing.assert_close(mean_pool(hidden, mask), reference_pool(hidden, mask))

# %% hidden
# Padding a sentence with any vectors leaves its pooled vector unchanged.
short = torch.randn(1, 3, 6)
padded = torch.cat([short, torch.randn(1, 4, 6)], dim=1)
mask = torch.tensor([[1, 1, 1, 0, 0, 0, 0]])
torch.testing.assert_close(mean_pool(padded, mask), short.mean(1))

# %% [markdown] question=is_causal points=3
# ## Exercise 3: decoder or encoder? Ask the model (3 points)
#
# A causal model computes position $i$ from tokens $0..i$ only. Test it: run random token ids of
# length `length` through `model` (a base model whose output `[0]` is the hidden states), change
# only the last token, run again, and return True if every earlier position's output stayed the
# same (within `atol=1e-5`). Write `is_causal(model, length=8)`.

# %% solution
def is_causal(model, length: int = 8) -> bool:
    """True if changing the last input token leaves every earlier output unchanged."""
    # BEGIN SOLUTION
    ids = torch.randint(0, model.config.vocab_size, (1, length))
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1) % model.config.vocab_size
    with torch.no_grad():
        before, after = model(ids)[0], model(changed)[0]
    return torch.allclose(before[:, :-1], after[:, :-1], atol=1e-5)
    # END SOLUTION

# %% public
assert is_causal(LlamaModel(tiny).eval()) is True

# %% hidden
bert = BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=64)).eval()
assert is_causal(bert) is False
assert is_causal(LlamaModel(tiny).eval(), length=12) is True

# %% hidden
from companion.anatomy import attention_is_causal

for model in (bert, LlamaModel(tiny).eval()):
    assert is_causal(model) == attention_is_causal(model)
