"""One conversation -> one token sequence with aligned labels, and batches of them (chapter 5).

- A conversation goes through the chat template as **one** token sequence. The labels are the
  same ids with every position the model should not learn to write set to ``-100`` (system prompt,
  user turn, tool observations, the ``<|im_start|>assistant`` headers, padding). What stays are
  the assistant turns *including* the ``<|im_end|>`` that closes each one, so the model learns to
  stop. The model shifts labels by one position itself: ``labels[t]`` is predicted from ``ids[:t]``.
- The assistant spans are found with the template itself (:func:`assistant_spans`): the prefix up
  to an assistant turn, rendered with the generation prompt, ends exactly where the turn's content
  begins. SmolLM2's template has no ``{% generation %}`` markers, so
  ``return_assistant_tokens_mask`` cannot do this for it.
- :class:`ChatCollator` pads a batch on the right: ids with the pad token, the attention mask with
  0 and the labels with ``-100``. (Masking "every pad token" instead, as
  ``DataCollatorForLanguageModeling`` does, would also mask every ``<|im_end|>``, because SmolLM2's
  pad token *is* ``<|im_end|>``: the model would never learn to stop.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from companion.toolcall import NAME_OPENING

IGNORE_INDEX = -100  # the target index torch's cross-entropy skips
END_OF_TURN = "<|im_end|>"


def _check_messages(messages: Sequence[dict[str, Any]]) -> None:
    if not messages or not all(isinstance(m, dict) and "role" in m for m in messages):
        raise ValueError(f"messages must be a non-empty list of {{'role', 'content'}} dicts, "
                         f"got {messages!r:.200}")
    if not any(m["role"] == "assistant" for m in messages):
        raise ValueError("the conversation has no assistant turn, so there is nothing to learn; "
                         f"roles were {[m['role'] for m in messages]}")


def render(tokenizer, messages: Sequence[dict[str, Any]], generation_prompt: bool) -> list[int]:
    """The token ids of ``messages`` through the chat template (``[]`` for no messages)."""
    if not messages:
        return []
    ids = tokenizer.apply_chat_template(
        list(messages), tokenize=True, add_generation_prompt=generation_prompt, return_dict=True
    )["input_ids"]
    return list(ids)


def assistant_spans(
    messages: Sequence[dict[str, Any]], tokenizer, end_of_turn: str = END_OF_TURN
) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of the whole chat and the ``[start, end)`` span of each assistant turn (ch. 5).

    ``start`` is the length of the prefix rendered with the generation prompt (so the span begins
    at the turn's first content token); ``end`` is one past the turn's ``end_of_turn`` token. Raises
    ``ValueError`` if a rendered prefix is not a prefix of the full rendering (a template or
    tokenizer that does not compose, where the method would silently mislabel).
    """
    _check_messages(messages)
    eot = tokenizer.convert_tokens_to_ids(end_of_turn)
    if eot is None or eot == tokenizer.unk_token_id:
        raise ValueError(f"end_of_turn {end_of_turn!r} is not a single token of this tokenizer")
    ids = render(tokenizer, messages, generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = render(tokenizer, messages[:i], generation_prompt=True)  # ends at the content
        through = render(tokenizer, messages[: i + 1], generation_prompt=False)  # and this turn
        if ids[: len(prompt)] != prompt or ids[: len(through)] != through:
            raise ValueError(f"rendering messages[:{i}] is not a prefix of the whole chat; the "
                             "chat template does not compose, so spans cannot be found by prefix")
        closing = [j for j in range(len(prompt), len(through)) if ids[j] == eot]
        if not closing:
            raise ValueError(f"assistant turn {i} has no {end_of_turn!r} token after it")
        spans.append((len(prompt), closing[-1] + 1))  # keep the <|im_end|>: it teaches stopping
    return ids, spans


def replies_to_last_user(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The assistant turns after the last user turn: the task's own replies, not the earlier
    exchanges an agent's memory replays before it (ch. 5)."""
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    return [m for m in messages[last_user + 1 :] if m["role"] == "assistant"]


def tokenize_conversation(
    messages: Sequence[dict[str, Any]],
    tokenizer,
    max_length: int | None = None,
    decision_weight: float | None = None,
) -> dict[str, list]:
    """``input_ids``, ``attention_mask`` and ``labels`` of one chat, all the same length (ch. 5).

    ``labels[t] = input_ids[t]`` inside an assistant span (content and closing ``<|im_end|>``)
    that answers the *last* user turn, ``-100`` everywhere else: earlier exchanges (an agent's
    conversation memory replayed before the task) are context to read, not replies to imitate.
    With ``max_length`` the lists are cut on the right. With ``decision_weight`` there is a fourth
    list, ``weights`` (ch. 7, :func:`decision_weights`).
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
    if decision_weight is not None and not decision_weight > 0:
        raise ValueError(f"decision_weight must be a positive number or None, got "
                         f"{decision_weight!r}")
    ids, spans = assistant_spans(messages, tokenizer)
    answering = spans[len(spans) - len(replies_to_last_user(messages)) :]
    if not answering:
        raise ValueError("no assistant turn after the last user turn, so there is nothing to "
                         f"learn; roles were {[m['role'] for m in messages]}")

    labels = [IGNORE_INDEX] * len(ids)
    for start, end in answering:
        labels[start:end] = ids[start:end]

    row: dict[str, list] = {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}
    if decision_weight is not None:
        row["weights"] = decision_weights(ids, answering, tokenizer, decision_weight)
    if max_length is not None:
        row = {name: values[:max_length] for name, values in row.items()}
    return row


def decision_weights(
    ids: Sequence[int], spans: Sequence[tuple[int, int]], tokenizer, weight: float
) -> list[float]:
    """Per-token loss weights (ch. 7): 1 inside ``spans``, ``weight`` at each reply's *decision*
    and 0 elsewhere, for :func:`~companion.finetune.train.labelled_token_loss`.

    The decision is the first token of the reply's tool name, right after ``{"name": "``: which
    tool, or ``final_answer`` to stop (every name starts with a different token). A reply that
    does not open with ``{"name": "`` raises.
    """
    opening = tokenizer.encode(NAME_OPENING, add_special_tokens=False)
    weights = [0.0] * len(ids)
    for start, end in spans:
        if list(ids[start : start + len(opening)]) != opening or start + len(opening) >= end:
            raise ValueError(f"a reply does not open with {NAME_OPENING!r} as the tokens "
                             f"{opening}: {tokenizer.decode(ids[start:end])!r}")
        weights[start:end] = [1.0] * (end - start)
        weights[start + len(opening)] = float(weight)
    return weights


@dataclass
class ChatCollator:
    """Pad a list of tokenised chats on the right into a batch of tensors (ch. 5).

    ``input_ids`` are padded with ``pad_token_id``, ``attention_mask`` with 0 and ``labels`` with
    -100, so padding never enters the loss whatever its token id is; ``weights``, where the rows
    have them (:func:`tokenize_conversation`), with 0.
    """

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, features: Sequence[dict[str, Sequence[int]]]) -> dict[str, torch.Tensor]:
        self._check(features)
        width = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        padding = {"input_ids": self.pad_token_id, "attention_mask": 0, "labels": IGNORE_INDEX}
        batch = {
            name: torch.tensor([list(f[name]) + [fill] * (width - len(f[name])) for f in features],
                               dtype=torch.long)
            for name, fill in padding.items()
        }
        if "weights" in features[0]:
            batch["weights"] = torch.tensor(
                [list(f["weights"]) + [0.0] * (width - len(f["weights"])) for f in features])
        return batch

    @staticmethod
    def _check(features: Sequence[dict[str, Sequence[int]]]) -> None:
        if not features:
            raise ValueError("cannot collate an empty list of features")
        for f in features:
            if not len(f["input_ids"]) == len(f["labels"]) == len(f["attention_mask"]):
                raise ValueError("input_ids, attention_mask and labels must have the same length, "
                                 f"got {len(f['input_ids'])}, {len(f['attention_mask'])}, "
                                 f"{len(f['labels'])}")
        weighted = ["weights" in f for f in features]
        mixed = any(weighted) and not all(weighted)
        if mixed or any(len(f["weights"]) != len(f["input_ids"])
                        for f in features if "weights" in f):
            raise ValueError("either every row has weights as long as its input_ids or none has")


def clean_messages(messages: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Role and content only (Arrow fills keys that other rows have with None)."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def tokenize_dataset(
    dataset, tokenizer, max_length: int | None = 512, decision_weight: float | None = None
):
    """Map :func:`tokenize_conversation` over a ``Dataset`` (or ``DatasetDict``) of chats (ch. 5).

    Keeps only ``input_ids``, ``attention_mask`` and ``labels`` (and ``weights`` with a
    ``decision_weight``).
    """
    columns = dataset.column_names
    if isinstance(columns, dict):  # a DatasetDict: the same columns in every split
        columns = next(iter(columns.values()))
    return dataset.map(
        lambda row: tokenize_conversation(clean_messages(row["messages"]), tokenizer, max_length,
                                          decision_weight),
        remove_columns=columns,
    )
