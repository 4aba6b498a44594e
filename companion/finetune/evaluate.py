"""Step 5, evaluate: tool-call accuracy and the perplexity of the assistant turns (chapter 5).

:func:`toolcall_accuracy` asks the model for the first tool call of each conversation (greedy,
batched by :func:`generate_replies`) and compares it with the gold call; :func:`same_value`
says when two argument values count as equal. :func:`assistant_perplexity` is ``exp`` of the
mean loss over the labelled (assistant) tokens, computed with the training loss itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from companion.finetune.labels import (
    END_OF_TURN,
    IGNORE_INDEX,
    ChatCollator,
    clean_messages,
    render,
    tokenize_conversation,
)
from companion.finetune.train import shared_prefix_loss
from companion.toolcall import ToolCallParseError, parse_call


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def same_value(predicted: Any, gold: Any) -> bool:
    """Argument equality: numbers numerically (``isclose``, rel. 1e-9), text ignoring case and
    white space, anything else with ``==`` (ch. 5)."""
    a, b = _number(predicted), _number(gold)
    if a is not None and b is not None:
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(predicted, str) and isinstance(gold, str):
        return "".join(predicted.split()).casefold() == "".join(gold.split()).casefold()
    return predicted == gold


def same_call(predicted, gold) -> bool:
    """True when two :class:`~companion.toolcall.ToolCall` name the same tool with the same
    argument names and :func:`same_value` values (ch. 5)."""
    return (predicted.name == gold.name
            and set(predicted.arguments) == set(gold.arguments)
            and all(same_value(predicted.arguments[k], gold.arguments[k]) for k in gold.arguments))


def first_call_prompt(messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, str]], str]:
    """The messages before the first assistant turn, and that turn's text (the gold call, ch. 5)."""
    messages = clean_messages(messages)
    for i, m in enumerate(messages):
        if m["role"] == "assistant":
            return messages[:i], m["content"]
    roles = [m["role"] for m in messages]
    raise ValueError(f"no assistant turn in a conversation with roles {roles}")


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token lists, leaving one token to each."""
    n = min(len(r) for r in rows) - 1
    for i in range(max(n, 0)):
        if any(r[i] != rows[0][i] for r in rows):
            return i
    return max(n, 0)


@torch.no_grad()
def generate_replies(
    model, tokenizer, prompts: Sequence[Sequence[dict[str, str]]],
    max_new_tokens: int = 64, batch_size: int = 16, min_prefix: int = 16,
    progress: str | None = None,
) -> list[str]:
    """Greedy assistant replies to chat prompts, batched (ch. 5).

    The prompt prefix that a batch shares (the system prompt) is run once and its KV cache
    repeated across rows; each row's own tokens follow, left-padded to a common length (the
    padding sits between the shared prefix and the row, masked out). Replies end at
    ``<|im_end|>`` or after ``max_new_tokens`` tokens. ``progress``, if given, labels a tqdm
    bar over the batches.
    """
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size and max_new_tokens must be >= 1, got {batch_size!r}, "
                         f"{max_new_tokens!r}")
    device = next(model.parameters()).device
    eot = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    encoded = [render(tokenizer, p, generation_prompt=True) for p in prompts]
    replies: list[str] = []
    starts = range(0, len(encoded), batch_size)
    for i in tqdm(starts, desc=progress, disable=progress is None):
        rows = encoded[i : i + batch_size]
        p = common_prefix_length(rows) if len(rows) > 1 else 0
        p = p if p >= min_prefix else 0
        width = max(len(r) - p for r in rows)
        ids = [r[:p] + [tokenizer.pad_token_id] * (width - len(r) + p) + r[p:] for r in rows]
        mask = [[1] * p + [0] * (width - len(r) + p) + [1] * (len(r) - p) for r in rows]
        ids_t = torch.tensor(ids, device=device)
        mask_t = torch.tensor(mask, device=device)
        kwargs: dict[str, Any] = {}
        if p:
            cache = model(input_ids=ids_t[:1, :p], use_cache=True).cache
            cache.batch_repeat_interleave(len(rows))
            kwargs["cache"] = cache
        out = model.generate(input_ids=ids_t, attention_mask=mask_t, max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=eot, **kwargs)
        replies += tokenizer.batch_decode(out[:, ids_t.shape[1]:], skip_special_tokens=True)
    return replies


def toolcall_accuracy(
    model, tokenizer, records: Sequence[dict[str, Any]],
    max_new_tokens: int = 64, batch_size: int = 16, return_replies: bool = False,
) -> dict[str, Any]:
    """Greedy first assistant turn against the gold first call, over ``records`` (ch. 5).

    Returns ``n`` and three rates: ``valid`` (the reply parses as one tool call), ``right_tool``
    (and names the gold tool) and ``right_call`` (and its arguments match, see :func:`same_value`).
    """
    if not records:
        raise ValueError("records is empty; expected at least one conversation")
    prompts, golds = zip(*(first_call_prompt(r["messages"]) for r in records), strict=True)
    replies = generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size)
    valid = tool = call = 0
    for reply, gold_text in zip(replies, golds, strict=True):
        gold = parse_call(gold_text)
        try:
            predicted = parse_call(reply)
        except ToolCallParseError:
            continue
        valid += 1
        tool += predicted.name == gold.name
        call += same_call(predicted, gold)
    n = len(records)
    result: dict[str, Any] = {"n": n, "valid": valid / n, "right_tool": tool / n,
                              "right_call": call / n}
    if return_replies:
        result["replies"] = replies
    return result


@torch.no_grad()
def assistant_perplexity(
    model, tokenizer, records: Sequence[dict[str, Any]], batch_size: int = 8,
    max_length: int | None = 512,
) -> dict[str, float]:
    """``exp(sum NLL / n)`` over the labelled (assistant) tokens of ``records`` (ch. 5).

    Token-weighted: every assistant token counts once, whatever the batch it falls in. Returns
    ``{"nll": mean NLL in nats, "perplexity": ..., "tokens": n}``.
    """
    if not records:
        raise ValueError("records is empty; expected at least one conversation")
    features = [tokenize_conversation(clean_messages(r["messages"]), tokenizer, max_length)
                for r in records]
    collate = ChatCollator(tokenizer.pad_token_id)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(features), batch_size):
        batch = {k: v.to(device) for k, v in collate(features[i : i + batch_size]).items()}
        n = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        total += shared_prefix_loss(model, batch).loss.float().item() * n  # mean -> sum
        count += n
    mean = total / count
    return {"nll": mean, "perplexity": math.exp(mean), "tokens": count}
