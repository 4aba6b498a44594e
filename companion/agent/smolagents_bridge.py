"""The same model and tools inside smolagents' ``ToolCallingAgent`` (chapter 7).

Two thin adapters let the book's pieces run in smolagents, so the comparison measures the loop and
the prompt, not a different model:

- :class:`LocalModel` subclasses :class:`smolagents.Model`; its ``generate`` renders the messages
  smolagents builds and asks one of our LLMs (:class:`~companion.agent.llm.TransformersLLM` or
  :class:`~companion.agent.llm.ScriptedLLM`) for the reply. smolagents then parses the
  ``{"name": ..., "arguments": ...}`` blob itself, the format our tool calls already use.
- :func:`export_tool` turns a :class:`~companion.agent.tools.Tool` into a ``smolagents.Tool``
  subclass with the same name, description, argument schema and function.
"""

from __future__ import annotations

import time
from typing import Any

import smolagents
from smolagents.memory import ActionStep
from smolagents.models import ChatMessage, MessageRole, TokenUsage

from companion.agent.llm import LLM, as_reply
from companion.agent.loop import AgentResult, Step, StepError, StopReason
from companion.agent.tools import Tool, ToolArgumentError
from companion.toolcall import ToolCall

# smolagents' input types that our JSON-schema tools (and the call grammar) also know
_OUR_TYPES = {"string", "integer", "number", "boolean"}


def export_tool(tool: Tool) -> smolagents.Tool:
    """A ``smolagents.Tool`` that validates with our schema and runs our function (chapter 7)."""
    props = tool.parameters["properties"]
    required = set(tool.parameters.get("required", []))
    inputs = {
        name: {
            "type": prop["type"],
            "description": prop.get("description", name),
            **({} if name in required else {"nullable": True}),
        }
        for name, prop in props.items()
    }

    class Exported(smolagents.Tool):
        skip_forward_signature_validation = True  # forward takes **kwargs, checked by our schema

        def forward(self, **kwargs: Any) -> str:
            arguments = {k: v for k, v in kwargs.items() if v is not None or k in required}
            try:
                return tool(arguments)
            except ToolArgumentError as err:
                return f"Error: {err}"

    Exported.name = tool.name
    Exported.description = tool.description
    Exported.inputs = inputs
    Exported.output_type = "string"
    Exported.__name__ = f"{tool.name.title().replace('_', '')}Tool"
    return Exported()


def tool_spec(tool: smolagents.Tool) -> dict[str, Any]:
    """Our ``{"name", "description", "parameters"}`` spec of a smolagents tool.

    Inputs of a type the call grammar does not know (smolagents' ``any``, ``object``...) are
    offered as strings.
    """
    props = {
        name: {
            "type": schema["type"] if schema["type"] in _OUR_TYPES else "string",
            "description": schema.get("description", name),
        }
        for name, schema in tool.inputs.items()
    }
    required = [n for n, s in tool.inputs.items() if not s.get("nullable", False)]
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": {"type": "object", "properties": props, "required": required},
    }


class LocalModel(smolagents.Model):
    """A ``smolagents.Model`` backed by one of the book's LLMs, all local (chapter 7).

    smolagents hands ``generate`` its own chat (a long system prompt with its tool list and
    examples, then the task and earlier steps); roles ``tool-call``/``tool-response`` are mapped to
    ``assistant``/``user`` and message parts flattened to text. The tools offered in the call are
    passed on, so a constrained :class:`~companion.agent.llm.TransformersLLM` can only write calls
    to them.
    """

    def __init__(self, llm: LLM, model_id: str = "local/smollm2-135m-instruct") -> None:
        super().__init__(flatten_messages_as_text=True, model_id=model_id)
        self.llm = llm

    def generate(
        self,
        messages: list[ChatMessage | dict],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[smolagents.Tool] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        """One assistant reply as a ``ChatMessage`` (smolagents parses the tool call from it)."""
        if response_format is not None:
            raise ValueError(f"response_format={response_format!r} is not supported; pass None")
        prepared = self._prepare_completion_kwargs(
            messages=messages, stop_sequences=stop_sequences, tool_choice=None
        )
        chat = [
            {"role": getattr(m["role"], "value", m["role"]), "content": m["content"]}
            for m in prepared["messages"]
        ]
        specs = [tool_spec(t) for t in tools_to_call_from or [] if t.name != "final_answer"]
        reply = as_reply(self.llm(chat, specs))
        text, stats = reply.text, reply.stats
        for stop in stop_sequences or []:
            text = text.split(stop)[0]
        usage = TokenUsage(
            input_tokens=stats.prompt_tokens if stats else 0,
            output_tokens=stats.new_tokens if stats else 0,
        )
        return ChatMessage(role=MessageRole.ASSISTANT, content=text, token_usage=usage)


def _error_kind(error: Exception) -> StepError:
    """Our :class:`~companion.agent.loop.StepError` for a smolagents error."""
    from smolagents.utils import AgentParsingError, AgentToolCallError, AgentToolExecutionError

    if isinstance(error, AgentToolExecutionError):
        return StepError.EXECUTION
    if isinstance(error, AgentToolCallError):
        return StepError.ARGUMENTS
    if isinstance(error, AgentParsingError):
        return StepError.PARSE
    return StepError.UNKNOWN_TOOL if "unknown tool" in str(error).lower() else StepError.PARSE


class SmolagentsRunner:
    """``run(task) -> AgentResult`` for a smolagents agent, so :func:`evaluate_agent` can score it.

    Each smolagents ``ActionStep`` becomes one of our :class:`~companion.agent.loop.Step` records
    (its model output, its first tool call, its observation or error).
    """

    def __init__(self, agent: smolagents.MultiStepAgent) -> None:
        self.agent = agent

    def run(self, task: str) -> AgentResult:
        start = time.perf_counter()
        answer = self.agent.run(task)
        steps = []
        action_steps = [s for s in self.agent.memory.steps if isinstance(s, ActionStep)]
        for s in action_steps:
            call = None
            if s.tool_calls:
                args = s.tool_calls[0].arguments
                call = ToolCall(s.tool_calls[0].name, args if isinstance(args, dict) else {})
            error = s.error
            steps.append(
                Step(
                    index=s.step_number,
                    raw=str(s.model_output or ""),
                    call=call,
                    observation=str(s.observations or ""),
                    duration_s=s.timing.duration or 0.0,
                    error=str(error) if error else None,
                    error_kind=_error_kind(error) if error else None,
                )
            )
        final = bool(action_steps) and action_steps[-1].is_final_answer
        return AgentResult(
            task,
            str(answer) if final else "",
            steps,
            StopReason.FINAL_ANSWER if final else StopReason.MAX_STEPS,
            time.perf_counter() - start,
        )
