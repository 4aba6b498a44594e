"""Fine-tuning SmolLM2 into the agent's brain (chapter 5), one module per step of the recipe.

The chapter follows the six steps of the usual Hugging Face recipe (load model and tokenizer,
prepare data, training arguments, ``Trainer``, evaluate, save) and fixes the one that most often
goes wrong for a causal language model, the data preparation.

- :mod:`~companion.finetune.labels`: one chat -> one token sequence with aligned labels (only the
  assistant turns and their closing ``<|im_end|>`` are learned), and the collator that pads it;
- :mod:`~companion.finetune.data`: loading the tool-use conversations;
- :mod:`~companion.finetune.train`: LoRA, ``TrainingArguments``, the ``Trainer`` with the shared-
  prefix loss, saving the adapter, and what a training step costs;
- :mod:`~companion.finetune.evaluate`: tool-call accuracy and assistant-token perplexity.

The shipped adapters and :func:`~companion.models.load_finetuned` live in :mod:`companion.models`
(re-exported here). Imports point down only: nothing here imports :mod:`companion.agent` or the
data set's generator (:mod:`companion.tooluse`); it reads the generator's files.
"""

from companion.finetune.data import (
    DATA_DIR,
    SPLITS,
    load_tooluse,
    tool_calls,
)
from companion.finetune.evaluate import (
    assistant_perplexity,
    common_prefix_length,
    first_call_prompt,
    generate_replies,
    same_call,
    same_value,
    toolcall_accuracy,
)
from companion.finetune.labels import (
    END_OF_TURN,
    IGNORE_INDEX,
    ChatCollator,
    assistant_spans,
    clean_messages,
    decision_weights,
    replies_to_last_user,
    tokenize_conversation,
    tokenize_dataset,
)
from companion.finetune.train import (
    LORA_TARGETS,
    FinetuneConfig,
    ProgressLog,
    SharedPrefixTrainer,
    build_trainer,
    count_parameters,
    labelled_token_loss,
    lora_config,
    loss_curves,
    measure_training,
    peak_rss_mb,
    prepare_model,
    save_adapter,
    shared_prefix_length,
    shared_prefix_loss,
    tiny_causal_lm,
    train_adapter,
    training_arguments,
)
from companion.models import (
    ADAPTER_DIR,
    AGENT_ADAPTERS,
    BASE_MODEL_ID,
    CHAIN_ADAPTER_DIR,
    FOCUS_ADAPTER_DIR,
    REST_ADAPTER_DIR,
    load_finetuned,
    missing_adapters,
)
from companion.paths import REPO_ROOT

__all__ = [
    "ADAPTER_DIR", "AGENT_ADAPTERS", "BASE_MODEL_ID", "CHAIN_ADAPTER_DIR", "DATA_DIR",
    "FOCUS_ADAPTER_DIR", "REST_ADAPTER_DIR",
    "END_OF_TURN", "IGNORE_INDEX", "LORA_TARGETS", "REPO_ROOT", "SPLITS",
    "ChatCollator", "FinetuneConfig", "ProgressLog", "SharedPrefixTrainer",
    "assistant_perplexity", "assistant_spans", "build_trainer", "clean_messages",
    "common_prefix_length", "count_parameters", "decision_weights", "first_call_prompt",
    "generate_replies", "labelled_token_loss", "load_finetuned", "load_tooluse", "lora_config",
    "loss_curves", "measure_training", "missing_adapters", "peak_rss_mb", "prepare_model",
    "replies_to_last_user", "same_call", "same_value", "save_adapter", "shared_prefix_length",
    "shared_prefix_loss", "tiny_causal_lm", "tokenize_conversation", "tokenize_dataset",
    "tool_calls", "toolcall_accuracy", "train_adapter", "training_arguments",
]
