"""Base against fine-tuned SmolLM2 on held-out conversations: three measurements each (chapter 6).

For every conversation of a held-out split (``data/sets/tooluse/test.jsonl``: templates and entities
the training never saw), :func:`evaluate_heldout` records, for one model:

- **tool-call exact match** of the first assistant turn, generated greedily from the system prompt
  and the question: 1 when it parses and names the gold tool with the gold arguments
  (:func:`companion.finetune.same_call`), else 0;
- **answer F1** of the last assistant turn, generated greedily after the gold tool observations:
  SQuAD token F1 (0-1, :func:`companion.metrics.token_f1_scores`) between the answer it gives
  (the ``answer`` argument of its ``final_answer`` call, or its raw text when it makes no such
  call) and the gold answer;
- the **negative log-likelihood** of the gold assistant tokens and their number, so that
  perplexity over any subset is ``exp(sum nll / sum tokens)`` (token-weighted, as in chapter 5).

:func:`summarize` turns the per-conversation rows into the three corpus numbers with percentile
bootstrap intervals (:func:`companion.metrics.bootstrap_ci`, resampling conversations).
``python scripts/evaluate_heldout.py`` stores the rows of both models in
``data/results/heldout_eval.json``, which the chapter reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

from companion import finetune as ft
from companion.metrics import ConfidenceInterval, bootstrap_ci, token_f1_scores
from companion.toolcall import FINAL_ANSWER, ToolCallParseError, parse_call

METRICS: tuple[str, ...] = ("exact_match", "answer_f1", "perplexity")


def final_turn_prompt(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The messages before the last assistant turn: the task with the gold observations."""
    clean = ft.clean_messages(messages)
    last = max((i for i, m in enumerate(clean) if m["role"] == "assistant"), default=None)
    if last is None:
        roles = [m["role"] for m in clean]
        raise ValueError(f"no assistant turn in a conversation with roles {roles}")
    return clean[:last]


def answer_of(reply: str) -> str:
    """The ``answer`` of a ``final_answer`` call, or the reply itself when it is not one."""
    try:
        call = parse_call(reply)
    except ToolCallParseError:
        return reply.strip()
    if call.name == FINAL_ANSWER and isinstance(call.arguments.get("answer"), str | int | float):
        return str(call.arguments["answer"])
    return reply.strip()


def _first_call_match(reply: str, gold_text: str) -> bool:
    try:
        predicted = parse_call(reply)
    except ToolCallParseError:
        return False
    return ft.same_call(predicted, parse_call(gold_text))


def _gold_nll(model, tokenizer, record, max_length: int | None) -> tuple[float, int]:
    """Summed NLL (nats) of one conversation's assistant tokens, and how many there are."""
    scored = ft.assistant_perplexity(model, tokenizer, [record], batch_size=1,
                                     max_length=max_length)
    return scored["nll"] * scored["tokens"], scored["tokens"]


def evaluate_heldout(
    model, tokenizer, records: Sequence[dict[str, Any]], max_new_tokens: int = 64,
    batch_size: int = 16, max_length: int | None = 768, progress: bool = False,
) -> list[dict[str, Any]]:
    """One row per conversation: the three measurements of the module docstring (chapter 6).

    Each row holds ``id``, ``tool``, the generated ``call`` and ``exact_match`` (0 or 1), the
    generated ``answer`` with the ``gold_answer`` and ``answer_f1``, and ``nll`` / ``tokens``.
    With ``progress``, tqdm bars follow the two generation passes and the scoring.
    """
    if not records:
        raise ValueError("records is empty; expected at least one held-out conversation")
    for r in records:
        if not isinstance(r, dict) or "messages" not in r or "answer" not in r:
            raise ValueError("each record needs 'messages' and 'answer' (a line of "
                             f"data/sets/tooluse/*.jsonl), got {str(r)[:80]!r}")
    first_prompts, gold_calls = zip(*(ft.first_call_prompt(r["messages"]) for r in records),
                                    strict=True)
    calls = ft.generate_replies(model, tokenizer, first_prompts, max_new_tokens, batch_size,
                                progress="first calls" if progress else None)
    finals = ft.generate_replies(model, tokenizer,
                                 [final_turn_prompt(r["messages"]) for r in records],
                                 max_new_tokens, batch_size,
                                 progress="final answers" if progress else None)
    rows = []
    scored = zip(records, calls, gold_calls, finals, strict=True)
    for r, call, gold_call, final in tqdm(scored, desc="gold NLL", total=len(records),
                                          disable=not progress):
        answer = answer_of(final)
        nll, tokens = _gold_nll(model, tokenizer, r, max_length)
        rows.append({
            "id": r.get("id", len(rows)), "tool": r.get("tool", ""),
            "call": call, "exact_match": int(_first_call_match(call, gold_call)),
            "answer": answer, "gold_answer": str(r["answer"]),
            "answer_f1": token_f1_scores([answer], [str(r["answer"])])[0],
            "nll": nll, "tokens": tokens,
        })
    return rows


def _mean_of(key: str):
    def metric(rows: Sequence[dict[str, Any]], _refs: Sequence[Any]) -> float:
        return sum(r[key] for r in rows) / len(rows)
    return metric


def _perplexity(rows: Sequence[dict[str, Any]], _refs: Sequence[Any]) -> float:
    return math.exp(sum(r["nll"] for r in rows) / sum(r["tokens"] for r in rows))


def summarize(
    rows: Sequence[dict[str, Any]], n: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Each metric over ``rows`` with its bootstrap interval: ``{metric: {value, low, high}}``.

    exact match and answer F1 are means over conversations; perplexity is
    ``exp(sum nll / sum tokens)``. The interval resamples whole conversations.
    """
    if not rows:
        raise ValueError("rows is empty; expected the output of evaluate_heldout")
    missing = {"exact_match", "answer_f1", "nll", "tokens"} - set(rows[0])
    if missing:
        raise ValueError(f"rows lack {sorted(missing)}; expected the output of evaluate_heldout")
    functions = {"exact_match": _mean_of("exact_match"), "answer_f1": _mean_of("answer_f1"),
                 "perplexity": _perplexity}
    out = {}
    for name in METRICS:
        value = functions[name](rows, rows)
        ci: ConfidenceInterval = bootstrap_ci(functions[name], list(rows), list(rows), n=n,
                                              seed=seed, confidence=confidence)
        out[name] = {"value": value, "low": ci.low, "high": ci.high}
    return out
