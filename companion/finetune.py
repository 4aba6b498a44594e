"""Fine-tuning SmolLM2 into the agent's brain: data, labels, LoRA, Trainer, evaluation (chapter 5).

The chapter follows the six steps of the usual Hugging Face recipe (load model and tokenizer,
prepare data, training arguments, ``Trainer``, evaluate, save) and fixes the one that most often
goes wrong for a causal language model, the data preparation:

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

The data are the tool-use conversations of ``data/tooluse/*.jsonl`` (written by
``companion.agent.tasks``), each a list of chat ``messages`` in the format of
:mod:`companion.toolcall`. :func:`train_adapter` trains a LoRA adapter on them with ``Trainer``;
:func:`toolcall_accuracy` and :func:`assistant_perplexity` measure the result;
:func:`load_finetuned` gives later chapters the shipped adapter merged into SmolLM2.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import Trainer, TrainerCallback

from companion.agent.tasks import DATA_DIR, EXTRA_SPLIT, FILES, SPLITS  # the data set's files
from companion.toolcall import NAME_OPENING, ToolCallParseError, parse_call

IGNORE_INDEX = -100
END_OF_TURN = "<|im_end|>"
REPO_ROOT = Path(__file__).resolve().parent.parent
ADAPTER_DIR = REPO_ROOT / "data" / "adapters" / "smollm2-toolcall"
CHAIN_ADAPTER_DIR = REPO_ROOT / "data" / "adapters" / "smollm2-toolcall-chains"
AGENT_ADAPTERS: tuple[Path, ...] = (ADAPTER_DIR, CHAIN_ADAPTER_DIR)  # the agent's model (ch. 7)
LORA_TARGETS: tuple[str, ...] = (
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
)
BASE_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


# --------------------------------------------------------------------------------------------
# Step 2: data -> one sequence with aligned labels
# --------------------------------------------------------------------------------------------


def _check_messages(messages: Sequence[dict[str, Any]]) -> None:
    if not messages or not all(isinstance(m, dict) and "role" in m for m in messages):
        raise ValueError(f"messages must be a non-empty list of {{'role', 'content'}} dicts, "
                         f"got {messages!r:.200}")
    if not any(m["role"] == "assistant" for m in messages):
        raise ValueError("the conversation has no assistant turn, so there is nothing to learn; "
                         f"roles were {[m['role'] for m in messages]}")


def _render(tokenizer, messages: Sequence[dict[str, Any]], generation_prompt: bool) -> list[int]:
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
    ids = _render(tokenizer, messages, generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:i], generation_prompt=True)
        through = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        if ids[: len(prompt)] != prompt or ids[: len(through)] != through:
            raise ValueError(f"rendering messages[:{i}] is not a prefix of the whole chat; the "
                             "chat template does not compose, so spans cannot be found by prefix")
        closing = [j for j in range(len(prompt), len(through)) if ids[j] == eot]
        if not closing:
            raise ValueError(f"assistant turn {i} has no {end_of_turn!r} token after it")
        spans.append((len(prompt), closing[-1] + 1))
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
    With ``max_length`` the lists are cut on the right.

    With ``decision_weight`` there is a fourth list, ``weights`` (ch. 7): 1 at labelled tokens,
    ``decision_weight`` at each reply's *decision*, the first token of its tool name (which tool,
    or ``final_answer`` to stop; every name starts with a different token), and 0 elsewhere, for
    :func:`labelled_token_loss`. A reply that does not open with ``{"name": "`` raises.
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
    if decision_weight is not None and not decision_weight > 0:
        raise ValueError(f"decision_weight must be a positive number or None, got "
                         f"{decision_weight!r}")
    ids, spans = assistant_spans(messages, tokenizer)
    answering = len(replies_to_last_user(messages))
    if answering == 0:
        raise ValueError("no assistant turn after the last user turn, so there is nothing to "
                         f"learn; roles were {[m['role'] for m in messages]}")
    labels = [IGNORE_INDEX] * len(ids)
    weights = [0.0] * len(ids)
    opening = tokenizer.encode(NAME_OPENING, add_special_tokens=False)
    for start, end in spans[len(spans) - answering :]:
        labels[start:end] = ids[start:end]
        weights[start:end] = [1.0] * (end - start)
        if decision_weight is not None:
            if ids[start : start + len(opening)] != opening or start + len(opening) >= end:
                raise ValueError(f"a reply does not open with {NAME_OPENING!r} as the tokens "
                                 f"{opening}: {tokenizer.decode(ids[start:end])!r}")
            weights[start + len(opening)] = float(decision_weight)
    if max_length is not None:
        ids, labels, weights = ids[:max_length], labels[:max_length], weights[:max_length]
    row: dict[str, list] = {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}
    if decision_weight is not None:
        row["weights"] = weights
    return row


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
        if not features:
            raise ValueError("cannot collate an empty list of features")
        for f in features:
            if not len(f["input_ids"]) == len(f["labels"]) == len(f["attention_mask"]):
                raise ValueError("input_ids, attention_mask and labels must have the same length, "
                                 f"got {len(f['input_ids'])}, {len(f['attention_mask'])}, "
                                 f"{len(f['labels'])}")
        width = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        weighted = ["weights" in f for f in features]
        mixed = any(weighted) and not all(weighted)
        if mixed or any(len(f["weights"]) != len(f["input_ids"])
                        for f in features if "weights" in f):
            raise ValueError("either every row has weights as long as its input_ids or none has")
        batch = {"input_ids": [], "attention_mask": [], "labels": []}
        for f in features:
            pad = width - len(f["input_ids"])
            batch["input_ids"].append(list(f["input_ids"]) + [self.pad_token_id] * pad)
            batch["attention_mask"].append(list(f["attention_mask"]) + [0] * pad)
            batch["labels"].append(list(f["labels"]) + [IGNORE_INDEX] * pad)
        tensors = {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}
        if all(weighted):
            tensors["weights"] = torch.tensor(
                [list(f["weights"]) + [0.0] * (width - len(f["weights"])) for f in features])
        return tensors


def load_tooluse(
    data_dir: str | Path = DATA_DIR, splits: Sequence[str] = SPLITS, limit: int | None = None
):
    """The tool-use conversations as a ``datasets.DatasetDict``, one split per JSONL file (ch. 5).

    Loaded with ``load_dataset("json", data_files={split: f"{data_dir}/{split}.jsonl"})``; with
    ``limit`` each split keeps its first ``limit`` records. ``splits`` may also name
    ``EXTRA_SPLIT``, the extra train file of chapter 7's second stage.
    """
    from datasets import load_dataset

    folder = Path(data_dir)
    unknown = [s for s in splits if s not in FILES]
    if unknown or not splits:
        raise ValueError(f"splits must be a non-empty subset of {FILES}, got {tuple(splits)!r}")
    files = {s: str(folder / f"{s}.jsonl") for s in splits}
    missing = [f for f in files.values() if not Path(f).is_file()]
    if missing:
        raise ValueError(f"no data file for splits {[Path(m).stem for m in missing]} in "
                         f"{folder.name}/; expected {', '.join(s + '.jsonl' for s in splits)}")
    data = load_dataset("json", data_files=files)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be a positive int or None, got {limit!r}")
        for s in splits:
            data[s] = data[s].select(range(min(limit, len(data[s]))))
    return data


def add_extra_train(data, n: int):
    """``data`` (a ``DatasetDict`` with an ``EXTRA_SPLIT``) with the first ``n`` extra records
    appended to ``train`` and the extra split removed: the pool of chapter 7's second stage
    (``scripts/train_adapter.py --extra-records``)."""
    from datasets import concatenate_datasets

    if EXTRA_SPLIT not in data or "train" not in data:
        raise ValueError(f"data must hold 'train' and {EXTRA_SPLIT!r}, got {list(data)}")
    available = len(data[EXTRA_SPLIT])
    if not 0 < n <= available:
        raise ValueError(f"n must be between 1 and {available} (the {EXTRA_SPLIT} records), "
                         f"got {n!r}")
    extra = data.pop(EXTRA_SPLIT)
    data["train"] = concatenate_datasets([data["train"], extra.select(range(n))])
    return data


def tool_calls(messages: Sequence[dict[str, Any]]) -> int:
    """How many tools the replies to the last user turn call, ``final_answer`` not counted.

    A chain (search, then calculator) counts 2; an earlier exchange replayed from memory counts 0.
    """
    count = 0
    for reply in replies_to_last_user(messages):
        try:
            count += parse_call(reply["content"]).name != "final_answer"
        except ToolCallParseError:
            continue
    return count


def chain_mix(dataset, per_kind: int, seed: int = 0, others: int | None = None):
    """``per_kind`` conversations with two or more tool calls and ``others`` of the rest
    (default: ``per_kind`` too), drawn without replacement and shuffled with
    ``random.Random(seed)``: the data of a second training stage aimed at two-tool chains
    (``scripts/train_adapter.py --chain-mix``). The chains drawn for a seed do not depend on
    ``others``.

    Returns ``dataset.select(...)`` of those rows, so it works on any ``Dataset`` of ``messages``.
    """
    others = per_kind if others is None else others
    kinds: dict[bool, list[int]] = {True: [], False: []}
    for i, messages in enumerate(dataset["messages"]):
        kinds[tool_calls(_clean(messages)) >= 2].append(i)
    chains, rest = kinds[True], kinds[False]
    if not 0 < per_kind <= len(chains) or not 0 <= others <= len(rest):
        raise ValueError(f"per_kind must be between 1 and {len(chains)} and others between 0 and "
                         f"{len(rest)} (the data hold {len(chains)} chains and {len(rest)} "
                         f"others), got {per_kind!r} and {others!r}")
    rng = random.Random(seed)
    pick = rng.sample(chains, per_kind) + rng.sample(rest, others)
    rng.shuffle(pick)
    return dataset.select(pick)


def with_other_order(dataset, fraction: float, seed: int = 0):
    """``dataset`` with ``fraction`` of its reorderable chains (``tasks.REORDERABLE``) solved the
    other way round (:func:`companion.agent.tasks.other_order`), picked with
    ``random.Random(seed)``: chapter 7's stage sees both orders of a chain
    (``scripts/train_adapter.py --other-order``)."""
    from companion.agent.tasks import REORDERABLE, family_of, other_order

    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
    candidates = [i for i, t in enumerate(dataset["template"])
                  if family_of({"template": t}) in REORDERABLE]
    pick = set(random.Random(f"other-order:{seed}").sample(
        candidates, round(fraction * len(candidates))))

    def swap(record: dict[str, Any], i: int) -> dict[str, Any]:
        if i not in pick:
            return record
        done = other_order(record)
        return {k: done[k] for k in ("messages", "answer", "calls", "tool")}

    return dataset.map(swap, with_indices=True)


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
        lambda row: tokenize_conversation(_clean(row["messages"]), tokenizer, max_length,
                                          decision_weight),
        remove_columns=columns,
    )


def _clean(messages: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Role and content only (Arrow fills keys that other rows have with None)."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]


# --------------------------------------------------------------------------------------------
# Steps 1, 3 and 4: model, LoRA, training arguments, Trainer
# --------------------------------------------------------------------------------------------


def lora_config(
    r: int = 16, alpha: int = 32, dropout: float = 0.0,
    target_modules: Sequence[str] = LORA_TARGETS,
):
    """The book's LoRA recipe: ``W x + (alpha / r) B A x`` on every projection (ch. 5).

    ``A`` is ``r x d_in`` (random), ``B`` is ``d_out x r`` (zeros), so training starts from the base
    model exactly.
    """
    from peft import LoraConfig

    if r < 1 or alpha <= 0 or not 0 <= dropout < 1:
        raise ValueError(f"need r >= 1, alpha > 0 and 0 <= dropout < 1, got r={r!r}, "
                         f"alpha={alpha!r}, dropout={dropout!r}")
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                      target_modules=list(target_modules), bias="none", task_type="CAUSAL_LM")


def count_parameters(model) -> dict[str, int]:
    """``{"trainable": n, "total": N}`` parameter counts of a model (ch. 5)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total}


def tiny_causal_lm(vocab_size: int, seed: int = 0, layers: int = 2, hidden: int = 32):
    """A random ``LlamaForCausalLM`` with SmolLM2's shape ratios, small enough for tests (ch. 5)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if vocab_size < 2:
        raise ValueError(f"vocab_size must be at least 2, got {vocab_size!r}")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 8 // 3,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


@dataclass
class FinetuneConfig:
    """Everything one training run depends on; :func:`train_adapter` reads nothing else (ch. 5)."""

    output_dir: str = "runs/smollm2-toolcall"
    data_dir: str = str(DATA_DIR)
    method: str = "lora"  # "lora" or "full"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # dropout's random masks doubled a CPU step; one epoch needs none
    learning_rate: float = 1e-3
    lr_scheduler_type: str = "cosine"
    warmup_steps: float = 0.05
    weight_decay: float = 0.0
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    train_limit: int | None = None
    eval_limit: int | None = 64
    eval_steps: int = 50
    save_steps: int = 50
    logging_steps: int = 5
    save_total_limit: int | None = 2
    bf16: bool = False  # autocast to bf16 was 2.5x slower on this book's CPU (no AVX512-BF16)
    seed: int = 0
    group_by_length: bool = True
    shared_prefix: bool = True
    decision_weight: float | None = None  # ch. 7: weight of each reply's tool-name token
    progress_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in ("lora", "full"):
            raise ValueError(f"method must be 'lora' or 'full', got {self.method!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if self.decision_weight is not None and not self.shared_prefix:
            raise ValueError("decision_weight needs shared_prefix=True: the weighted loss is "
                             "computed by SharedPrefixTrainer, not by the model")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            raise ValueError("set max_steps > 0 or num_train_epochs > 0, got "
                             f"max_steps={self.max_steps!r}, epochs={self.num_train_epochs!r}")


def training_arguments(config: FinetuneConfig, **overrides: Any):
    """The ``TrainingArguments`` of a :class:`FinetuneConfig` (step 3 of the recipe, ch. 5)."""
    from transformers import TrainingArguments

    on_gpu = torch.cuda.is_available()
    kwargs: dict[str, Any] = dict(
        output_dir=config.output_dir,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        bf16=config.bf16,
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not on_gpu,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        include_num_input_tokens_seen="non_padding",
        prediction_loss_only=True,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        remove_unused_columns=config.decision_weight is None,  # keep "weights" for the loss
    )
    kwargs.update(config.extra)
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


class ProgressLog(TrainerCallback):
    """A ``TrainerCallback`` appending one JSON line per log event to a file (ch. 5).

    Each line holds the Trainer's logged values plus ``step``, ``max_steps`` and ``elapsed_s``, so
    a long run in the background can be followed with ``tail -f``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.start = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero:
            line = {"step": state.global_step, "max_steps": state.max_steps,
                    "elapsed_s": round(time.perf_counter() - self.start, 1), **(logs or {})}
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")


def shared_prefix_length(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> int:
    """Length of the longest token prefix that every row of a batch shares (ch. 5).

    Only real tokens count (``attention_mask`` 1); at least one token is left to every row.
    """
    if input_ids.dim() != 2 or input_ids.shape != attention_mask.shape:
        raise ValueError(f"expected 2-d input_ids and attention_mask of one shape, got "
                         f"{tuple(input_ids.shape)} and {tuple(attention_mask.shape)}")
    same = (input_ids == input_ids[:1]) & (attention_mask == 1)
    all_same = same.all(dim=0).long()
    length = int(all_same.cumprod(dim=0).sum())
    shortest = int(attention_mask.sum(dim=1).min())
    return max(0, min(length, shortest - 1))


def labelled_token_loss(model, input_ids, attention_mask, labels, cache=None, weights=None):
    """Mean next-token cross-entropy over the labelled positions, projecting only those (ch. 5).

    ``loss = mean_{t: labels[t+1] != -100} -log softmax(W h_t)[labels[t+1]]``, the same number as
    ``model(..., labels=labels).loss``. With ``weights`` (the shape of ``labels``), the weighted
    mean ``sum_t w[t+1] l_t / sum_t w[t+1]`` over the same positions (ch. 7's decision weight).

    A causal-LM head multiplies *every* hidden state by the ``vocab x d`` output matrix
    (49152 x 576 for SmolLM2, a fifth of the model's FLOPs) and keeps a ``batch x T x vocab``
    float tensor for the softmax; in a chat only the assistant tokens are labelled, so this
    gathers those hidden states first and projects just them.
    Returns a ``CausalLMOutputWithPast`` with ``loss`` set and no logits.
    """
    from transformers.modeling_outputs import CausalLMOutputWithPast

    hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention_mask,
                                 cache=cache, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    scored = targets != IGNORE_INDEX
    logits = model.get_output_embeddings()(hidden[:, :-1][scored])
    if weights is None:
        loss = torch.nn.functional.cross_entropy(logits.float(), targets[scored])
    else:
        w = weights[:, 1:][scored].to(logits.device, torch.float32)
        nll = torch.nn.functional.cross_entropy(logits.float(), targets[scored], reduction="none")
        loss = (w * nll).sum() / w.sum()
    return CausalLMOutputWithPast(loss=loss)


def shared_prefix_loss(model, batch: dict[str, torch.Tensor], min_prefix: int = 16):
    """The causal-LM loss of a batch, with the prefix all rows share computed once (ch. 5).

    Every conversation starts with the same system prompt. Its keys and values are computed for
    one row and repeated across the batch (with gradients flowing back through the repeat), and
    only the rest of each row goes through the model: the same loss and gradients as a plain
    forward (the prefix holds no labels), for far fewer FLOPs when the prompt is long. The loss
    itself is :func:`labelled_token_loss`, which projects only the labelled positions (weighted
    by ``batch["weights"]`` where the batch has them).
    Returns an output whose ``loss`` is the batch loss.
    """
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    weights = batch.get("weights")
    p = shared_prefix_length(ids, mask)
    if p < min_prefix or ids.shape[0] == 1 or (labels[:, : p + 1] != IGNORE_INDEX).any():
        return labelled_token_loss(model, ids, mask, labels, weights=weights)
    prefix = model.get_decoder()(input_ids=ids[:1, :p], use_cache=True)
    cache = prefix.cache
    cache.batch_repeat_interleave(ids.shape[0])
    return labelled_token_loss(model, ids[:, p:], mask, labels[:, p:], cache=cache,
                               weights=None if weights is None else weights[:, p:])


class SharedPrefixTrainer(Trainer):
    """A ``Trainer`` whose loss is :func:`shared_prefix_loss` (ch. 5)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = shared_prefix_loss(model, inputs)
        return (outputs.loss, outputs) if return_outputs else outputs.loss


@contextlib.contextmanager
def _peft_without_deprecation_noise():
    """Silence the one FutureWarning peft 0.21 causes by reading ``is_gradient_checkpointing``
    (transformers 5 renamed it ``is_activation_checkpointing``); it is not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*",
                                category=FutureWarning)
        yield


def prepare_model(config: FinetuneConfig, model):
    """Wrap ``model`` for training: a peft LoRA model, or itself for full fine-tuning (ch. 5)."""
    if config.method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import get_peft_model

    with _peft_without_deprecation_noise():
        return get_peft_model(model, lora_config(config.lora_r, config.lora_alpha,
                                                 config.lora_dropout))


def build_trainer(config: FinetuneConfig, model, tokenizer, datasets, callbacks=()):
    """A ``Trainer`` over tokenised ``datasets["train"]`` / ``["validation"]`` (step 4, ch. 5).

    With ``config.shared_prefix`` it is a :class:`SharedPrefixTrainer`.
    """
    callbacks = list(callbacks)
    if config.progress_file:
        callbacks.append(ProgressLog(config.progress_file))
    trainer_class = SharedPrefixTrainer if config.shared_prefix else Trainer
    return trainer_class(
        model=model,
        args=training_arguments(config),
        train_dataset=datasets["train"],
        eval_dataset=datasets["validation"],
        data_collator=ChatCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def train_adapter(
    config: FinetuneConfig,
    model=None,
    tokenizer=None,
    data=None,
    resume_from_checkpoint: str | bool | None = None,
    callbacks: Sequence[Any] = (),
    base_model: str | None = None,
) -> dict[str, Any]:
    """Fine-tune on the tool-use data with ``Trainer`` and save the adapter (ch. 5).

    ``model``/``tokenizer`` default to SmolLM2-135M-Instruct, ``data`` to :func:`load_tooluse` on
    ``config.data_dir`` (a ``DatasetDict`` of chats with ``train`` and ``validation``). Saves the
    adapter (bf16, :func:`save_adapter`) or the full model to ``config.output_dir/final`` and
    returns the metrics: steps, runtime, tokens/s, final train and eval loss, eval perplexity
    ``exp(eval_loss)`` and the log history. The trained ``model`` is left modified in place.
    ``base_model`` is the base that ``adapter_config.json`` names for a ``model`` passed in.
    """
    from transformers import set_seed

    set_seed(config.seed)
    base_id = base_model  # what adapter_config.json records as the base: a Hub id, not a path
    if model is None or tokenizer is None:
        from companion.models import load_smollm2

        model, tokenizer = load_smollm2()
        base_id = BASE_MODEL_ID
    if data is None:
        data = load_tooluse(config.data_dir, splits=("train", "validation"))
    train = data["train"]
    if config.train_limit is not None:
        train = train.select(range(min(config.train_limit, len(train))))
    validation = data["validation"]
    if config.eval_limit is not None:
        validation = validation.select(range(min(config.eval_limit, len(validation))))
    tokenized = {
        "train": tokenize_dataset(train, tokenizer, config.max_length, config.decision_weight),
        "validation": tokenize_dataset(validation, tokenizer, config.max_length),
    }
    model.train()
    wrapped = prepare_model(config, model)
    trainer = build_trainer(config, wrapped, tokenizer, tokenized, callbacks)
    result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    evaluation = trainer.evaluate()
    final_dir = Path(config.output_dir) / "final"
    if config.method == "lora":
        save_adapter(trainer.model, final_dir, base_model=base_id)
    else:
        trainer.save_model(str(final_dir))
    state = trainer.state
    metrics: dict[str, Any] = {
        "config": asdict(config),
        "parameters": count_parameters(wrapped),
        "global_step": state.global_step,
        "train_runtime_s": result.metrics.get("train_runtime"),
        "train_loss": result.metrics.get("train_loss"),
        "tokens_seen": int(state.num_input_tokens_seen),
        "eval_loss": evaluation["eval_loss"],
        "eval_perplexity": math.exp(evaluation["eval_loss"]),
        "log_history": state.log_history,
        "train_examples": len(train),
        "eval_examples": len(validation),
    }
    runtime = metrics["train_runtime_s"] or 0.0
    metrics["train_tokens_per_s"] = metrics["tokens_seen"] / runtime if runtime else None
    metrics["final_dir"] = str(final_dir)
    return metrics


def loss_curves(log_history: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Train and eval loss curves ``{"train": [(step, loss)], "eval": [(step, loss)]}`` (ch. 5)."""
    train = [(int(e["step"]), float(e["loss"])) for e in log_history if "loss" in e]
    evals = [(int(e["step"]), float(e["eval_loss"])) for e in log_history if "eval_loss" in e]
    return {"train": train, "eval": evals}


# --------------------------------------------------------------------------------------------
# Step 6: save and load the adapter
# --------------------------------------------------------------------------------------------


def save_adapter(
    model, directory: str | Path, dtype: torch.dtype = torch.bfloat16,
    base_model: str | None = None,
) -> Path:
    """Save a peft model's adapter weights in ``dtype`` (ch. 5).

    The trainable weights are first rounded to ``dtype`` in place, so the model in memory computes
    exactly what the saved adapter will: a save/load round trip gives identical logits.
    ``base_model`` (e.g. a Hub id) replaces the local folder recorded in ``adapter_config.json``.
    """
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    if not hasattr(model, "peft_config"):
        raise ValueError(f"expected a peft model with an adapter, got {type(model).__name__}")
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(p.to(dtype).to(p.dtype))
    state = {k: v.to(dtype) if v.is_floating_point() else v
             for k, v in model.state_dict().items() if "lora_" in k}
    if base_model is not None:
        for adapter in model.peft_config.values():
            adapter.base_model_name_or_path = base_model
    directory = Path(directory)
    # LoRA never touches the embeddings; saying so stops peft looking the base model up on the Hub
    model.save_pretrained(str(directory), state_dict=state, save_embedding_layers=False)
    return directory


def missing_adapters(folders: Iterable[str | Path]) -> list[Path]:
    """The folders among ``folders`` that hold no adapter (no ``adapter_config.json``)."""
    return [Path(f) for f in folders if not (Path(f) / "adapter_config.json").is_file()]


def load_finetuned(
    adapter_dir: str | Path | Sequence[str | Path] | None = None, merge: bool = True
):
    """SmolLM2-135M-Instruct with the tool-call adapter, as ``(model, tokenizer)`` (ch. 5, 7).

    ``adapter_dir`` defaults to the shipped ``data/adapters/smollm2-toolcall``. With ``merge`` the
    LoRA update ``(alpha/r) B A`` is added into each weight, so inference costs what the base does.
    A sequence of folders is a stack: each adapter was trained on the model with the ones before
    it merged (``scripts/train_adapter.py --on-top-of``), so they are merged in that order (the
    last one only with ``merge``). ``AGENT_ADAPTERS`` is chapter 7's stack.
    """
    from peft import PeftModel

    from companion.models import load_smollm2

    if adapter_dir is None:
        folders = [ADAPTER_DIR]
    elif isinstance(adapter_dir, str | Path):
        folders = [Path(adapter_dir)]
    else:
        folders = [Path(f) for f in adapter_dir]
    if not folders:
        raise ValueError("adapter_dir is an empty sequence; expected at least one adapter folder")
    if missing := missing_adapters(folders):
        raise ValueError(f"no adapter_config.json in {missing[0].name}/; expected a folder "
                         "written by save_adapter or PeftModel.save_pretrained")
    model, tokenizer = load_smollm2()
    for i, folder in enumerate(folders):
        with _peft_without_deprecation_noise():
            model = PeftModel.from_pretrained(model, str(folder))
        if merge or i < len(folders) - 1:
            model = model.merge_and_unload()
    model.eval()
    return model, tokenizer


# --------------------------------------------------------------------------------------------
# Step 5: evaluate
# --------------------------------------------------------------------------------------------


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
    messages = _clean(messages)
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
    encoded = [_render(tokenizer, p, generation_prompt=True) for p in prompts]
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
    features = [tokenize_conversation(_clean(r["messages"]), tokenizer, max_length)
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


# --------------------------------------------------------------------------------------------
# LoRA against full fine-tuning: what a training step costs
# --------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux ``ru_maxrss`` is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_training(
    method: str = "lora", batch_size: int = 4, seq_len: int = 128, steps: int = 2,
    bf16: bool = False, model=None,
) -> dict[str, float]:
    """Cost of AdamW training steps on SmolLM2 (or ``model``): LoRA or full fine-tuning (ch. 5).

    One warm-up step, then ``steps`` timed steps on random token batches of ``batch_size x
    seq_len``. Returns trainable/total parameters, ``tokens_per_s`` and the process's peak memory
    before and after training (``rss_model_mb``, ``rss_peak_mb``); run it in a fresh process per
    method, since the peak never goes down.
    """
    if method not in ("lora", "full"):
        raise ValueError(f"method must be 'lora' or 'full', got {method!r}")
    if min(batch_size, seq_len, steps) < 1:
        raise ValueError(f"batch_size, seq_len and steps must be >= 1, got {batch_size}, "
                         f"{seq_len}, {steps}")
    if model is None:
        from companion.models import load_smollm2

        model = load_smollm2()[0]
    rss_model = peak_rss_mb()
    model = prepare_model(FinetuneConfig(method=method), model)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (batch_size, seq_len), generator=generator)
    device_type = "cuda" if next(model.parameters()).is_cuda else "cpu"
    ids = ids.to(next(model.parameters()).device)

    def step() -> None:
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up: allocates gradients and optimizer state
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    counts = count_parameters(model)
    return {"method": method, "trainable": counts["trainable"], "total": counts["total"],
            "tokens_per_s": batch_size * seq_len * steps / elapsed,
            "seconds_per_step": elapsed / steps,
            "rss_model_mb": rss_model, "rss_peak_mb": peak_rss_mb()}
