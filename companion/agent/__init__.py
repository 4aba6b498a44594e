"""The single agent: an LLM with tools, memory and a loop (chapter 7).

- :mod:`~companion.agent.tools`: :class:`Tool` and the default tools (calculator, unit converter,
  knowledge-base search);
- :mod:`~companion.agent.llm`: the model core, :class:`ScriptedLLM` and :class:`TransformersLLM`;
- :mod:`~companion.agent.constrained`: a logits processor that admits only well-formed calls;
- :mod:`~companion.agent.loop`: :class:`Agent`, its :class:`Memory` and :func:`build_default_agent`;
- :mod:`~companion.agent.quantities`: which numbers a task states and which calls used them (the
  loop's quantity check);
- :mod:`~companion.agent.lookups`: which knowledge-base names a task states and which searches
  looked them up (the loop's lookup check);
- :mod:`~companion.agent.evaluation`: :func:`evaluate_agent`;
- :mod:`~companion.agent.diagnostics`: :func:`next_tool_probabilities`, how sure the model is of
  its next tool;
- :mod:`~companion.agent.smolagents_bridge`: the same model and tools inside smolagents;
- :mod:`~companion.agent.cli`: the agent from a terminal, ``python -m companion.agent``.
"""

from companion.agent.constrained import ToolCallGrammar, ToolCallLogitsProcessor, token_table
from companion.agent.diagnostics import next_tool_probabilities
from companion.agent.evaluation import EvaluationReport, answer_matches, evaluate_agent
from companion.agent.llm import LLM, ScriptedLLM, TransformersLLM
from companion.agent.loop import (
    Agent,
    AgentResult,
    Memory,
    MemoryRecord,
    Step,
    build_default_agent,
)
from companion.agent.tools import (
    Tool,
    ToolArgumentError,
    ToolExecutionError,
    calculator_tool,
    default_tools,
    search_tool,
    unit_converter_tool,
)

__all__ = [
    "LLM",
    "Agent",
    "AgentResult",
    "EvaluationReport",
    "Memory",
    "MemoryRecord",
    "ScriptedLLM",
    "Step",
    "Tool",
    "ToolArgumentError",
    "ToolCallGrammar",
    "ToolCallLogitsProcessor",
    "ToolExecutionError",
    "TransformersLLM",
    "answer_matches",
    "build_default_agent",
    "calculator_tool",
    "default_tools",
    "evaluate_agent",
    "next_tool_probabilities",
    "search_tool",
    "token_table",
    "unit_converter_tool",
]
