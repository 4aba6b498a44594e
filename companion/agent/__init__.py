"""The single agent: an LLM with tools, memory and a loop (chapter 7).

One idea per module, each importing only those above it in this list:

- :mod:`~companion.agent.tools`: :class:`Tool` and the default tools (calculator, unit converter,
  knowledge-base search);
- :mod:`~companion.agent.retrieval`: the knowledge base and the search behind the search tool;
- :mod:`~companion.agent.constrained`: a logits processor that admits only well-formed calls;
- :mod:`~companion.agent.llm`: the model core, :class:`ScriptedLLM` and :class:`TransformersLLM`,
  whose every :class:`Reply` carries its statistics;
- :mod:`~companion.agent.questions`: which questions the agent takes (checked before any model
  runs);
- :mod:`~companion.agent.lexicon`, :mod:`~companion.agent.expressions` and
  :mod:`~companion.agent.notation`: the notation reader, which answers a question that is only
  arithmetic or a unit conversion before any model runs;
- :mod:`~companion.agent.memory`: :class:`Memory`, conversation and retrieval memory;
- :mod:`~companion.agent.quantities` and :mod:`~companion.agent.lookups`: the loop's two optional
  checks (every stated number used, every stated knowledge-base name searched);
- :mod:`~companion.agent.loop`: :class:`Agent`, one run as a list of :class:`Step`;
- :mod:`~companion.agent.build`: :func:`build_default_agent` and the configurations chapter 7
  compares;
- :mod:`~companion.agent.evaluation`: :func:`evaluate_agent` and :func:`answer_matches`;
- :mod:`~companion.agent.diagnostics`: :func:`next_tool_probabilities`, how sure the model is of
  its next tool;
- :mod:`~companion.agent.smolagents_bridge`: the same model and tools inside smolagents;
- :mod:`~companion.agent.cli`: the agent from a terminal, ``python -m companion.agent``.

``from companion.agent import Agent`` works for every name below, but a name's module is imported
only when the name is first used, so importing one module (the tools, say) does not import the
others.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it
_HOME = {
    "Agent": "loop",
    "AgentResult": "loop",
    "Step": "loop",
    "StepError": "loop",
    "StopReason": "loop",
    "Memory": "memory",
    "MemoryRecord": "memory",
    "LLM": "llm",
    "Reply": "llm",
    "GenerationStats": "llm",
    "ScriptedLLM": "llm",
    "LazyLLM": "llm",
    "TransformersLLM": "llm",
    "ToolCallGrammar": "constrained",
    "ToolCallLogitsProcessor": "constrained",
    "token_table": "constrained",
    "Tool": "tools",
    "ToolArgumentError": "tools",
    "ToolExecutionError": "tools",
    "calculator_tool": "tools",
    "default_tools": "tools",
    "search_tool": "tools",
    "unit_converter_tool": "tools",
    "QuestionError": "questions",
    "check_question": "questions",
    "read_question": "notation",
    "AgentConfig": "build",
    "CONFIGURATIONS": "build",
    "build_agent": "build",
    "build_default_agent": "build",
    "EvaluationReport": "evaluation",
    "answer_matches": "evaluation",
    "evaluate_agent": "evaluation",
    "next_tool_probabilities": "diagnostics",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    if name not in _HOME:
        raise AttributeError(f"module 'companion.agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"companion.agent.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
