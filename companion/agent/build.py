"""The book's agents, assembled: the default agent and the configurations chapter 7 compares.

Every agent of chapter 7 is the same loop (:class:`~companion.agent.loop.Agent`) with a different
model, decoding and set of checks. A configuration names that choice (:class:`AgentConfig`);
:data:`CONFIGURATIONS` holds the ones the chapter and ``benchmarks/bench_agent.py`` evaluate, and
:func:`build_agent` turns a name into a runnable agent. :func:`build_default_agent` is the one a
reader gets from ``python -m companion.agent``: the notation reader
(:func:`~companion.agent.notation.read_question`) for questions that are only arithmetic or a
unit conversion, the fine-tuned model with constrained calls for the rest, and no loop checks.
The two checks (every stated number used, every stated knowledge-base name searched) stay
available as options: they are true of the generated training tasks by construction and false of
many real questions, so they are not part of the default.

Merging the LoRA adapters into the weights takes seconds at every start, so the merged model is
kept in the model cache (:func:`companion.models.cache_dir`), in a folder named by a hash of the
adapters' files: new adapters get a new folder, and a folder is written to a temporary name and
renamed only when complete, so an interrupted write is never loaded.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from companion.agent.loop import Agent
from companion.agent.memory import Memory

MERGED_PREFIX = "smollm2-agent-merged-"
_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass(frozen=True)
class AgentConfig:
    """One way to assemble the agent: which model, which decoding, which loop checks.

    ``finetuned=None`` uses the agent's adapters when installed, else the base model.
    ``notation`` lets the notation reader answer what it reads wholly before the model runs, and
    has the model read every other question with its numbers in digits.
    ``smolagents`` runs the same model and tools inside smolagents' ``ToolCallingAgent``.
    """

    finetuned: bool | None = True
    constrained: bool = True
    quantity_check: bool = False
    lookup_check: bool = False
    memory: bool = False
    smolagents: bool = False
    notation: bool = True


#: the configurations chapter 7 compares, by name (``"default"`` is :func:`build_default_agent`)
#: (the first three and ``model_only`` compare models, so every question goes to the model)
CONFIGURATIONS: dict[str, AgentConfig] = {
    "base_unconstrained": AgentConfig(finetuned=False, constrained=False, notation=False),
    "base": AgentConfig(finetuned=False, notation=False),
    "finetuned_unconstrained": AgentConfig(constrained=False, notation=False),
    "model_only": AgentConfig(notation=False),
    "default": AgentConfig(),
    "quantity_check": AgentConfig(quantity_check=True),
    "with_checks": AgentConfig(quantity_check=True, lookup_check=True),
    "memory": AgentConfig(memory=True),
    "smolagents": AgentConfig(finetuned=None, smolagents=True, notation=False),
}


def adapters_hash(folders: Sequence[Path]) -> str:
    """SHA-256 of the adapters' configuration and weight files, in stack order (hex)."""
    digest = hashlib.sha256()
    for folder in folders:
        for name in _ADAPTER_FILES:
            digest.update(name.encode())
            with open(Path(folder) / name, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def merged_model_dir(folders: Sequence[Path]) -> Path:
    """Where the base model with ``folders`` merged in is cached."""
    from companion.models import cache_dir

    return cache_dir() / f"{MERGED_PREFIX}{adapters_hash(folders)[:16]}"


def load_merged(folders: Sequence[Path]):
    """SmolLM2 with the adapter stack ``folders`` merged in, as ``(model, tokenizer)``, eval mode.

    Loaded from :func:`merged_model_dir` when a complete copy is there; otherwise merged with
    :func:`companion.finetune.load_finetuned` and written there atomically for the next start.
    """
    from companion.models import cache_is_valid, load_model_folder, save_model_folder

    target = merged_model_dir(folders)
    source = {"adapters_sha256": adapters_hash(folders)}
    if cache_is_valid(target, source):
        return load_model_folder(target)
    from companion import finetune  # merges with peft: only on a cache miss

    model, tokenizer = finetune.load_finetuned(list(folders))
    try:
        save_model_folder(model, tokenizer, target, source)
    except OSError as err:  # a read-only or full cache costs the next start time, not this answer
        warnings.warn(f"the merged model was not cached ({err.strerror}); the next start merges "
                      "the adapters again", stacklevel=2)
    return model, tokenizer


def load_agent_model(finetuned: bool | None = None):
    """The agent's model, ``(model, tokenizer)``: SmolLM2-135M-Instruct with the tool-call
    adapters (``finetune.AGENT_ADAPTERS``) merged in, or the base model.

    ``finetuned=None`` uses the adapters when they are installed in ``data/adapters``, else the
    base model; True requires them (ValueError naming the missing folders), False skips them.
    """
    from companion import finetune
    from companion.models import load_smollm2

    missing = [d.name for d in finetune.missing_adapters(finetune.AGENT_ADAPTERS)]
    if finetuned and missing:
        raise ValueError(
            f"finetuned=True but no adapter in data/adapters/{', '.join(missing)}; "
            "train them with scripts/train_adapter.py (see the data cards) or pass finetuned=None"
        )
    use_adapter = not missing if finetuned is None else finetuned
    return load_merged(finetune.AGENT_ADAPTERS) if use_adapter else load_smollm2()


def assemble_agent(config: AgentConfig, model, tokenizer, memory: Memory | None = None,
                   max_steps: int = 4, time_budget_s: float = 60.0):
    """The agent ``config`` describes around a loaded ``model`` (its ``finetuned`` field is the
    caller's business): an :class:`~companion.agent.loop.Agent`, or a smolagents runner."""
    from companion.agent.llm import TransformersLLM

    llm = TransformersLLM(model, tokenizer, constrained=config.constrained)
    return agent_around(config, llm, memory, max_steps, time_budget_s)


def agent_around(config: AgentConfig, llm, memory: Memory | None = None, max_steps: int = 4,
                 time_budget_s: float = 60.0):
    """The agent ``config`` describes around the model core ``llm``: an
    :class:`~companion.agent.loop.Agent`, or a smolagents runner."""
    from companion.agent.lookups import knowledge_base_names
    from companion.agent.notation import NotationReader
    from companion.agent.tools import default_tools

    if config.smolagents:
        import smolagents

        from companion.agent.smolagents_bridge import LocalModel, SmolagentsRunner, export_tool

        return SmolagentsRunner(smolagents.ToolCallingAgent(
            tools=[export_tool(t) for t in default_tools()], model=LocalModel(llm),
            max_steps=max_steps, verbosity_level=0,
        ))
    names = knowledge_base_names() if config.lookup_check else ()
    notation = NotationReader() if config.notation else None
    return Agent(llm, default_tools(), memory, max_steps=max_steps, time_budget_s=time_budget_s,
                 quantity_check=config.quantity_check, lookup_names=names, notation=notation)


def build_default_agent(
    finetuned: bool | None = None,
    constrained: bool = True,
    max_steps: int = 4,
    time_budget_s: float = 60.0,
    memory: Memory | None = None,
    quantity_check: bool = False,
    lookup_check: bool = False,
    notation: bool = True,
    lazy: bool = False,
) -> Agent:
    """The book's offline agent: the notation reader, then SmolLM2-135M-Instruct fine-tuned for
    tool calls (:func:`load_agent_model`), the default tools, constrained calls, no loop checks.

    ``quantity_check`` and ``lookup_check`` turn on the loop's optional checks
    (:class:`~companion.agent.loop.Agent`; the lookup check's names are the knowledge base's
    subjects); ``notation=False`` sends every question to the model. ``lazy=True`` loads the
    model only when a question first needs it (:class:`~companion.agent.llm.LazyLLM`); the
    agent's ``llm`` is then the lazy wrapper.
    """
    from companion.agent.llm import LazyLLM, TransformersLLM

    def load():
        return TransformersLLM(*load_agent_model(finetuned), constrained=constrained)

    config = AgentConfig(finetuned, constrained, quantity_check, lookup_check, notation=notation)
    llm = LazyLLM(load) if lazy else load()
    return agent_around(config, llm, memory, max_steps, time_budget_s)


def build_agent(name: str, max_steps: int = 4, time_budget_s: float = 60.0):
    """The agent of the named configuration (:data:`CONFIGURATIONS`): an
    :class:`~companion.agent.loop.Agent`, or for ``"smolagents"`` a runner with the same
    ``run(task) -> AgentResult``."""
    if name not in CONFIGURATIONS:
        raise ValueError(f"unknown configuration {name!r}; expected one of {list(CONFIGURATIONS)}")
    config = CONFIGURATIONS[name]
    model, tokenizer = load_agent_model(config.finetuned)
    memory = Memory() if config.memory else None
    return assemble_agent(config, model, tokenizer, memory, max_steps, time_budget_s)
