"""Perplexity: ``exp`` of the mean negative log-likelihood per token, with sliding windows for
texts longer than the context (chapter 6)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from companion.metrics.inputs import check_texts

WINDOW_BATCH_TOKENS = 1024  # tokens per forward pass when a long text is cut into windows


def sliding_windows(n_tokens: int, max_length: int, stride: int) -> list[tuple[int, int, int]]:
    """Sliding windows ``(begin, end, first_target)`` over ``n_tokens`` tokens.

    Window k reads tokens ``[k * stride, k * stride + max_length)`` and scores those from
    ``first_target`` on: the ones no earlier window scored (the very first token is never scored,
    having no context). The last window ends at the last token.
    """
    windows, prev_end = [], 0
    for begin in range(0, n_tokens, stride):
        end = min(begin + max_length, n_tokens)
        first_target = max(prev_end, begin + 1)  # a target needs one token of context
        if first_target < end:
            windows.append((begin, end, first_target))
        prev_end = end
        if end == n_tokens:
            break
    return windows


def perplexity(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: str | Sequence[str],
    max_length: int | None = None,
    stride: int | None = None,
) -> float:
    """Corpus perplexity ``exp(-(1/N) sum_t log p(x_t | x_<t))`` over all N scored tokens (ch. 6).

    Each text is tokenised on its own (with the tokenizer's default special tokens); every token
    after the first is scored given the tokens before it. Texts longer than ``max_length``
    (default: the model's context length) are read with a sliding window that advances
    ``stride`` tokens (default ``max_length // 2``) and scores only the tokens not scored by an
    earlier window, so each token is predicted with at least ``max_length - stride`` tokens of
    context. When a text fits in one window this is exactly ``exp`` of the causal-LM loss.
    Texts are weighted by their number of scored tokens, not averaged per text.
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = check_texts(texts, "texts")
    if max_length is None:
        max_length = getattr(model.config, "max_position_embeddings", None)
        if max_length is None:
            raise ValueError("the model config has no max_position_embeddings; pass max_length")
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
        raise ValueError(f"max_length must be an integer >= 2, got {max_length!r}")
    if stride is None:
        stride = max(1, max_length // 2)
    if not isinstance(stride, int) or isinstance(stride, bool) or not 1 <= stride <= max_length:
        raise ValueError(
            f"stride must be an integer in [1, max_length={max_length}], got {stride!r}"
        )

    device = next(model.parameters()).device
    nll_sum, n_scored = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")["input_ids"][0].to(device)
            # windows of equal length go through the model together, a batch at a time
            by_length: dict[int, list[tuple[int, int, int]]] = {}
            for window in sliding_windows(len(ids), max_length, stride):
                by_length.setdefault(window[1] - window[0], []).append(window)
            for length, group in by_length.items():
                rows = max(1, WINDOW_BATCH_TOKENS // length)
                for i in range(0, len(group), rows):
                    chunk = group[i : i + rows]
                    batch = torch.stack([ids[begin:end] for begin, end, _ in chunk])
                    logits = model(input_ids=batch).logits
                    for row, (begin, end, first) in enumerate(chunk):
                        # logits at window position j predict token begin + j + 1
                        predicting = logits[row, first - begin - 1 : end - begin - 1].float()
                        logprobs = torch.log_softmax(predicting, dim=-1)
                        nll_sum -= logprobs.gather(1, ids[first:end, None]).sum().item()
                        n_scored += end - first
    if n_scored == 0:
        raise ValueError("no token to score: every text has fewer than two tokens")
    return math.exp(nll_sum / n_scored)
