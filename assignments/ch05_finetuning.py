# Assignment source for chapter 5 (fine-tuning). Generate the notebooks with
# `python -m companion.teaching.notebooks student` (format: companion/teaching/source.py).
# ruff: noqa: E402, F811

# %% [markdown]
# # Assignment 5: Labels that teach the right thing
#
# Chapter 5 fine-tunes SmolLM2 on tool-use chats, and most of the work is in the data: which tokens
# the loss sees. Here you build one training example with its labels, fix a collator that quietly
# teaches the model never to stop, and compute the causal-LM loss exactly as `transformers`
# does. A tiny random Llama stands in for SmolLM2; nothing here trains for more than a second.
# Run each `%%check` cell after your answer: it prints `[passed]` or what went wrong. The grader
# runs these checks and hidden ones.
#
# Expected time on a laptop CPU: every cell runs in about a second.

# %%
import torch
from torch.nn import functional as F
from transformers import LlamaConfig, LlamaForCausalLM

IGNORE_INDEX = -100  # label value that cross-entropy skips
EOS = 2  # in SmolLM2, <|im_end|> ends a turn AND is the padding token
torch.manual_seed(0)
tiny = LlamaForCausalLM(LlamaConfig(
    vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2)).eval()

# %% [markdown] question=build_example points=3
# ## Exercise 1: one example, one sequence (3 points)
#
# ```{admonition} Correction to the source document
# Its `preprocess` tokenises the input texts and the output texts separately and returns the
# output tokens as the labels: label $t$ then comes from another sequence than position $t$ (the
# two do not even have the same length), and padded label positions are not set to -100, so
# padding would enter the loss.
# ```
#
# A causal LM needs **one** sequence: `input_ids = prompt + answer + [EOS]`, with `labels` equal
# to the ids on the answer and the closing `EOS` (so the model learns to stop) and `-100` on the
# prompt. The model shifts the labels itself. Write `build_example(prompt_ids, answer_ids)`
# returning a dict of three equal-length lists: `input_ids`, `attention_mask` (all 1) and
# `labels`.

# %% solution
def build_example(prompt_ids: list[int], answer_ids: list[int]) -> dict[str, list[int]]:
    """One causal-LM example: labels are the ids on answer + EOS, -100 on the prompt."""
    # BEGIN SOLUTION
    ids = list(prompt_ids) + list(answer_ids) + [EOS]
    labels = [IGNORE_INDEX] * len(prompt_ids) + list(answer_ids) + [EOS]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}
    # END SOLUTION

# %% public
example = build_example([10, 11, 12], [20, 21])
assert example["input_ids"] == [10, 11, 12, 20, 21, EOS]
assert example["labels"] == [-100, -100, -100, 20, 21, EOS]
assert example["attention_mask"] == [1] * 6

# %% hidden
import random

rng = random.Random(5)
for _ in range(20):
    prompt = [rng.randrange(3, 40) for _ in range(rng.randint(1, 8))]
    answer = [rng.randrange(3, 40) for _ in range(rng.randint(0, 8))]
    ex = build_example(prompt, answer)
    assert len(ex["input_ids"]) == len(ex["labels"]) == len(ex["attention_mask"])
    kept = [(i, x) for i, x in enumerate(ex["labels"]) if x != -100]
    assert [x for _, x in kept] == [*answer, EOS]
    assert all(ex["input_ids"][i] == x for i, x in kept), "labels must align with input_ids"

# %% [markdown] question=collate points=4
# ## Exercise 2: fix the collator (4 points)
#
# The collator below pads a batch on the right. It runs, and training with it even looks fine,
# but it has two bugs. Padding is written into the labels as the pad token, and then "every pad
# token" is masked: since SmolLM2's pad token **is** `<|im_end|>`, that masks the real end of
# every answer too, and the model never learns to stop. Fix it: pad `input_ids` with
# `pad_token_id`, `attention_mask` with 0 and `labels` with -100, and leave the labels of real
# tokens exactly as the example gave them.

# %% solution
def collate(features: list[dict[str, list[int]]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of examples into ``input_ids``, ``attention_mask``, ``labels`` tensors."""
    width = max(len(f["input_ids"]) for f in features)
    batch = {"input_ids": [], "attention_mask": [], "labels": []}
    for f in features:
        pad = width - len(f["input_ids"])
        batch["input_ids"].append(list(f["input_ids"]) + [pad_token_id] * pad)
        batch["attention_mask"].append(list(f["attention_mask"]) + [0] * pad)
        # BEGIN SOLUTION
        batch["labels"].append(list(f["labels"]) + [IGNORE_INDEX] * pad)
        # STUB batch["labels"].append(list(f["labels"]) + [pad_token_id] * pad)
    # STUB batch["labels"] = [[IGNORE_INDEX if x == pad_token_id else x for x in row]
    # STUB                    for row in batch["labels"]]
        # END SOLUTION
    return {k: torch.tensor(v) for k, v in batch.items()}

# %% public
batch = collate([build_example([5], [6, 7]), build_example([5, 8], [9])], pad_token_id=EOS)
assert batch["labels"].tolist()[0] == [-100, 6, 7, EOS], "the closing EOS must stay a label"
assert batch["labels"].tolist()[1] == [-100, -100, 9, EOS]

# %% hidden
from companion.finetune import ChatCollator

examples = [build_example([4, 5, 6], [7, EOS, 8]), build_example([9], [10]),
            build_example([11, 12], [])]
got = collate(examples, pad_token_id=EOS)
expected = ChatCollator(pad_token_id=EOS)(examples)
for key in ("input_ids", "attention_mask", "labels"):
    assert torch.equal(got[key], expected[key]), key

# %% hidden
# The loss of a padded batch equals the loss of each example alone (padding is invisible).
examples = [build_example([4, 5, 6], [7, 8]), build_example([9], [10, 11, 12, 13])]
batch = collate(examples, pad_token_id=EOS)
with torch.no_grad():
    loss = tiny(**batch).loss
    total, count = 0.0, 0
    for ex in examples:
        one = {k: torch.tensor([v]) for k, v in ex.items()}
        n = sum(x != -100 for x in ex["labels"][1:])
        total, count = total + tiny(**one).loss * n, count + n
torch.testing.assert_close(loss, total / count)

# %% [markdown] question=causal_lm_loss points=3
# ## Exercise 3: the loss the model computes (3 points)
#
# Given `logits` `(batch, T, vocab)` and `labels` `(batch, T)`, the causal-LM loss predicts label
# $t+1$ from position $t$: shift the logits left by dropping the last position, the labels by
# dropping the first, and take the mean cross-entropy over the labels that are not -100. Write
# `causal_lm_loss(logits, labels)`.

# %% solution
def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits[:, :-1]`` against ``labels[:, 1:]``, skipping -100."""
    # BEGIN SOLUTION
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                           labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)
    # END SOLUTION

# %% public
logits = torch.zeros(1, 3, 4)
labels = torch.tensor([[-100, 1, 2]])
torch.testing.assert_close(causal_lm_loss(logits, labels), torch.log(torch.tensor(4.0)))

# %% hidden
batch = collate([build_example([4, 5, 6], [7, 8]), build_example([9], [10, 11])], EOS)
with torch.no_grad():
    out = tiny(**batch)
torch.testing.assert_close(causal_lm_loss(out.logits, batch["labels"]), out.loss)

# %% hidden
logits = torch.randn(2, 6, 40)
labels = torch.randint(0, 40, (2, 6))
labels[0, :3] = -100
expected = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=-100)
torch.testing.assert_close(causal_lm_loss(logits, labels), expected)
