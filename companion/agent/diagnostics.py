"""What the model would do next: its probability for each tool at the next turn (chapter 7).

A success rate says *that* an agent failed; reading a trace says *where*. This module says how
sure the model was at the moment of decision. Every reply opens with ``{"name": "``, and under
constrained decoding the tool name that follows is the agent's whole plan for the step. So we
score each allowed name as a continuation of the conversation:

.. math::

    P(n \\mid x) \\propto \\prod_{t=c}^{|s_n|-1} p_\\theta(s_{n,t} \\mid s_{n,<t}),
    \\qquad s_n = \\operatorname{tok}(x \\mathbin\\Vert n \\mathbin\\Vert \\texttt{", "}),

where ``x`` is the chat-template prompt plus ``{"name": "``, ``c`` is the number of leading
tokens that every ``s_n`` shares (so every name is scored after the same context; tokens
they share cancel in the normalisation, so the set of names does not change the ratios), and
``", "`` is what follows the name in every call, ``{"name": n, "arguments": ...}``: it ends the
name (``calculator`` is not a prefix of a longer name) and is tokenised as in the calls the model
was trained on. A bare closing quote would not be: the tokenizer merges the quote and the comma
into one token, and the model, which never saw a lone quote there, gives it a probability that
differs from name to name. The products are normalised over the candidate names, as the call
grammar admits no others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache

from companion.toolcall import NAME_OPENING

NAME_CLOSING = '", "'


@torch.no_grad()
def next_tool_probabilities(
    model, tokenizer, messages: Sequence[dict[str, Any]], names: Sequence[str]
) -> dict[str, float]:
    """``{name: P(name | messages)}`` for the assistant's next call, normalised over ``names``.

    ``messages`` ends before the reply to score (typically with a tool observation or the user's
    task). The prompt is computed once; each name's tokens are then scored on top of its cached
    keys and values, which are cropped back after every name.
    """
    from companion.finetune import common_prefix_length  # imports Trainer: only when called

    if not names or len(set(names)) != len(names):
        raise ValueError(f"names must be distinct tool names, at least one; got {list(names)!r}")
    if not messages or messages[-1].get("role") == "assistant":
        raise ValueError("messages must end before the assistant's next turn (with a user or tool "
                         f"message); got roles {[m.get('role') for m in messages]}")
    prompt = tokenizer.apply_chat_template(list(messages), tokenize=False,
                                           add_generation_prompt=True) + NAME_OPENING
    rows = [tokenizer(prompt + name + NAME_CLOSING, add_special_tokens=False)["input_ids"]
            for name in names]
    shared = common_prefix_length(rows)  # leaves at least one token to each name
    if shared == 0:
        raise ValueError("the candidates share no prompt tokens; is the chat template empty?")
    device = next(model.parameters()).device
    cache = DynamicCache(config=model.config)  # filled in place by every forward pass
    context = model(torch.tensor([rows[0][:shared]], device=device), cache=cache, use_cache=True)
    first = context.logits[0, -1].float().log_softmax(-1)
    log_p = []
    for row in rows:
        suffix = row[shared:]
        total = first[suffix[0]]
        if len(suffix) > 1:
            logits = model(torch.tensor([suffix[:-1]], device=device), cache=cache,
                           use_cache=True).logits[0].float().log_softmax(-1)
            total = total + logits.gather(1, torch.tensor(suffix[1:], device=device)[:, None]).sum()
            cache.crop(shared - cache.get_seq_length())  # back to the shared prompt
        log_p.append(total)
    probabilities = torch.stack(log_p).softmax(0).tolist()
    return dict(zip(names, probabilities, strict=True))
