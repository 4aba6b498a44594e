"""Next-tool probabilities (chapter 7): checked against full forward passes without a cache."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.agent.diagnostics import NAME_CLOSING, NAME_OPENING, next_tool_probabilities
from companion.finetune import tiny_causal_lm
from companion.toolcall import format_call

NAMES = ["calculator", "convert_units", "search", "final_answer"]
CHAT = [
    {"role": "system", "content": "You call tools."},
    {"role": "user", "content": "What is 31 liters times 25, in milliliters?"},
    {"role": "assistant", "content": format_call("calculator", {"expression": "31 * 25"})},
    {"role": "tool", "content": "775"},
]


def name_rows(tokenizer, messages, names):
    """Each name's whole text as tokens, and where the rows first differ (found independently)."""
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    rows = [tokenizer(prompt + NAME_OPENING + n + NAME_CLOSING,
                      add_special_tokens=False)["input_ids"] for n in names]
    shared = next(i for i in range(min(map(len, rows))) if len({r[i] for r in rows}) > 1)
    return rows, shared


def reference(model, tokenizer, messages, names):
    """Each name's log-probability from one uncached forward pass over the whole text."""
    rows, shared = name_rows(tokenizer, messages, names)
    scores = []
    for row in rows:
        with torch.no_grad():
            log_p = model(torch.tensor([row])).logits[0].log_softmax(-1)
        scores.append(sum(log_p[t - 1, row[t]] for t in range(shared, len(row))))
    return dict(zip(names, torch.stack(scores).softmax(0).tolist(), strict=True))


@pytest.fixture(scope="module")
def tiny(smollm2):
    _, tokenizer = smollm2
    return tiny_causal_lm(len(tokenizer)).eval(), tokenizer


def test_cached_scores_equal_uncached_forward_passes_on_the_real_model(smollm2):
    model, tokenizer = smollm2
    got = next_tool_probabilities(model, tokenizer, CHAT, NAMES)
    want = reference(model, tokenizer, CHAT, NAMES)
    assert got == pytest.approx(want, abs=1e-4)
    assert sum(got.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("name", NAMES)
def test_each_name_is_scored_with_the_tokens_of_a_real_call(smollm2, name):
    """The scored tokens are a prefix of the tokens of a whole call: the name and what follows it
    are split as in the training data (a bare closing quote would not be: '",' is one token)."""
    _, tokenizer = smollm2
    prompt = tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    scored = tokenizer(prompt + NAME_OPENING + name + NAME_CLOSING,
                       add_special_tokens=False)["input_ids"]
    call = tokenizer(prompt + format_call(name, {"answer": "1"}),
                     add_special_tokens=False)["input_ids"]
    assert call[: len(scored)] == scored


@settings(max_examples=10, deadline=None)
@given(order=st.permutations(NAMES), size=st.integers(1, 4))
def test_probabilities_do_not_depend_on_the_order_or_set_of_other_names(tiny, order, size):
    model, tokenizer = tiny
    names = order[:size]
    got = next_tool_probabilities(model, tokenizer, CHAT, names)
    full = next_tool_probabilities(model, tokenizer, CHAT, NAMES)
    kept = sum(full[n] for n in names)
    assert got == pytest.approx({n: full[n] / kept for n in names}, abs=1e-5)


def test_a_uniform_model_prefers_the_name_with_fewer_tokens_by_the_vocabulary_size(smollm2):
    _, tokenizer = smollm2
    model = tiny_causal_lm(len(tokenizer)).eval()
    with torch.no_grad():
        model.lm_head.weight.zero_()  # every logit 0: each token costs log V
    got = next_tool_probabilities(model, tokenizer, CHAT, NAMES)
    rows, shared = name_rows(tokenizer, CHAT, NAMES)
    weights = {n: float(len(tokenizer)) ** -(len(r) - shared)
               for n, r in zip(NAMES, rows, strict=True)}
    total = sum(weights.values())
    assert got == pytest.approx({n: w / total for n, w in weights.items()}, rel=1e-4)


@pytest.mark.parametrize(("messages", "names", "error"), [
    (CHAT, [], "distinct tool names"),
    (CHAT, ["search", "search"], "distinct tool names"),
    (CHAT[:3], NAMES, "must end before the assistant"),
    ([], NAMES, "must end before the assistant"),
])
def test_bad_input_is_named(tiny, messages, names, error):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match=error):
        next_tool_probabilities(model, tokenizer, messages, names)
