"""Training: LoRA, the ``Trainer`` and its arguments, the loss, saving the adapter (chapter 5).

Steps 1, 3, 4 and 6 of the Hugging Face recipe. :func:`lora_config` is the book's LoRA set-up,
:class:`FinetuneConfig` everything one run depends on, :func:`train_adapter` the run itself.
The loss, :func:`shared_prefix_loss`, computes the same number and gradients as
``model(**batch).loss`` for far fewer FLOPs: the system prompt every row shares goes through the
model once per batch, and only the labelled positions are projected onto the vocabulary
(:func:`labelled_token_loss`). :func:`measure_training` times LoRA against full fine-tuning.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from companion.finetune.data import DATA_DIR, load_tooluse
from companion.finetune.labels import IGNORE_INDEX, ChatCollator, tokenize_dataset
from companion.models import BASE_MODEL_ID, load_smollm2, peft_without_deprecation_noise

LORA_TARGETS: tuple[str, ...] = (
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
)


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


def prepare_model(config: FinetuneConfig, model):
    """Wrap ``model`` for training: a peft LoRA model, or itself for full fine-tuning (ch. 5)."""
    if config.method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import get_peft_model

    with peft_without_deprecation_noise():
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
