"""The agent loop: propose a call, check it, run it, observe, repeat (chapter 7).

One run of :class:`Agent` is a tool-calling loop over the format of :mod:`companion.toolcall`
(ReAct, Yao et al., 2023, also has the model write a thought before each call; this loop has only
the calls)::

    check the question                               -> refused, before any model call
    notation.read(task)?        -> its one call runs; the observation is the answer
    messages = [system: tools and the rule, user: task]
    repeat at most max_steps times, while the time budget lasts:
        reply = llm(messages)                        # one JSON object, or something malformed
        call  = parse(reply)        -> error observation if it is not a call
        final_answer?               -> stop with the answer
        tool  = tools[call.name]    -> error observation if the tool is unknown
        obs   = tool(call.arguments)  (validated first) -> error observation if it fails
        messages += [assistant: reply, tool: obs]

Whatever the model writes, ``run`` returns an :class:`AgentResult`: malformed replies, unknown
tools, bad arguments and tool failures become observations the model can read and correct, and
the step and time budgets always end the run. A question the model cannot handle (empty, too
long, not in the Latin alphabet: :mod:`companion.agent.questions`) is refused with a message
before any model call. Only the tools given to the agent can run; text in
an observation (a retrieved passage, say) is data, never a way to add a tool.

Before the model, a *notation reader* may answer (``notation``, on in the book's default agent:
:class:`companion.agent.notation.NotationReader`): a question that is only arithmetic or a unit
conversion is read by a grammar into its one tool call, which runs as step 1, and its observation
is the final answer of step 2. A question the reader does not take wholly, or whose call fails,
goes to the model, which reads it with its numbers in digits ("twenty-nine" as 29).

Two optional checks (off in the book's default agent, :mod:`companion.agent.build`, because they
are true of the generated training tasks by construction, not of questions in general):
with ``quantity_check=True`` the loop also holds back a final answer while a number the task
states has not gone into any tool call (:mod:`companion.agent.quantities`): the model is asked
for a tool call instead (a constrained model cannot even start ``final_answer``), except on the
last step.

With ``lookup_names`` (the knowledge base's subjects, :mod:`companion.agent.lookups`) the loop
also makes the model look up what the task names: while some stated name is in no search query
yet, and fewer searches have been made than the task states names, the model may only call
``search`` (again except on the last step). The allowance ends the check, so one misspelt query
cannot hold a run back for good.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from companion.agent.llm import LLM, GenerationStats, as_reply
from companion.agent.lookups import SEARCH, stated_names, unsearched_names
from companion.agent.memory import Memory
from companion.agent.quantities import unused_quantities
from companion.agent.questions import QuestionError, check_question
from companion.agent.tools import Tool, ToolArgumentError, ToolExecutionError
from companion.toolcall import (
    FINAL_ANSWER,
    TOOL_ROLE,
    Message,
    ToolCall,
    ToolCallParseError,
    format_call,
    format_final,
    parse_call,
    stated_value,
    system_prompt,
)

if TYPE_CHECKING:
    from companion.agent.notation import NotationReader


class StopReason(StrEnum):
    """Why a run ended: an answer, a budget, or a question refused before any model ran
    (:func:`companion.agent.questions.check_question`)."""

    FINAL_ANSWER = "final_answer"
    MAX_STEPS = "max_steps"
    TIME_BUDGET = "time_budget"
    REFUSED = "refused"


class StepError(StrEnum):
    """What went wrong in a step. The first three mean the model's reply was not a valid call;
    ``EARLY_ANSWER`` is a final answer the quantity check held back, ``LOOKUP`` a call other than
    search that the lookup check held back."""

    PARSE = "parse"
    UNKNOWN_TOOL = "unknown_tool"
    ARGUMENTS = "arguments"
    EXECUTION = "execution"
    EARLY_ANSWER = "early_answer"
    LOOKUP = "lookup"

    @property
    def invalid_call(self) -> bool:
        """True when the reply itself was not a well-formed call to a known tool."""
        return self in (StepError.PARSE, StepError.UNKNOWN_TOOL, StepError.ARGUMENTS)


STOP_REASONS = tuple(r.value for r in StopReason)
ERROR_KINDS = tuple(e.value for e in StepError)


@dataclass
class Step:
    """One turn of the loop, as plain data.

    ``raw`` is the model's text (or the notation reader's call, with ``stats`` None); ``call`` the
    parsed call (None if it did not parse); ``error``
    and ``error_kind`` say what went wrong (a :class:`StepError`); ``observation`` is what the
    model was shown next (empty after the final answer); ``duration_s`` covers the model and the
    tool; ``stats`` is what the model measured while writing the reply
    (:class:`~companion.agent.llm.GenerationStats`: tokens, seconds, each token's probability),
    None for a model that measures nothing.
    """

    index: int
    raw: str
    call: ToolCall | None
    observation: str
    duration_s: float
    error: str | None = None
    error_kind: StepError | None = None
    stats: GenerationStats | None = None

    def __post_init__(self) -> None:
        if self.error_kind is not None:
            self.error_kind = StepError(self.error_kind)  # ValueError names an unknown kind

    @property
    def confidence(self) -> float | None:
        """The probability of the reply's least likely token
        (:attr:`~companion.agent.llm.GenerationStats.confidence`), or None when not measured."""
        return self.stats.confidence if self.stats is not None else None

    @property
    def valid_call(self) -> bool:
        """True when the reply was a well-formed call to a known tool with valid arguments."""
        return self.error_kind is None or not self.error_kind.invalid_call


@dataclass
class AgentResult:
    """The outcome of :meth:`Agent.run`: the answer ("" if none), every step, and why it stopped
    (``refusal`` says why a question was refused before any step; ``notation`` is True when the
    notation reader answered and no model ran)."""

    task: str
    answer: str
    steps: list[Step]
    stopped_because: StopReason
    duration_s: float
    refusal: str | None = None
    notation: bool = False

    def __post_init__(self) -> None:
        self.stopped_because = StopReason(self.stopped_because)

    @property
    def confidence(self) -> float | None:
        """The smallest step confidence (a run is as sure as its least sure token), or None when
        no step reports one."""
        known = [s.confidence for s in self.steps if s.confidence is not None]
        return min(known) if known else None

    def trace(self) -> list[dict[str, Any]]:
        """One flat dict per step (for a table): step, tool, arguments, observation, error, s."""
        return [
            {
                "step": s.index,
                "tool": s.call.name if s.call else None,
                "arguments": s.call.arguments if s.call else None,
                "observation": s.observation,
                "error": s.error_kind,
                "seconds": round(s.duration_s, 3),
            }
            for s in self.steps
        ]


class Agent:
    """An LLM, a set of tools, optional memory and the loop that ties them (chapter 7).

    ``max_steps`` bounds the model calls of one run; ``time_budget_s`` bounds its wall-clock time
    (checked before every step and passed to the model as the time it may still take).
    ``quantity_check`` holds back a final answer, on every step but the last, while a number the
    task states has not been used by a tool call. ``lookup_names`` (empty: no check) makes the
    model search, on every step but the last, while a name the task states is in no search query
    and fewer searches have been made than the task states names. ``notation`` (None: the model
    reads every question as typed) answers a question that is only notation, and rewrites the
    numbers of every other question in digits for the model
    (:class:`~companion.agent.notation.NotationReader`).
    """

    def __init__(
        self,
        llm: LLM,
        tools: list[Tool],
        memory: Memory | None = None,
        max_steps: int = 6,
        time_budget_s: float = 60.0,
        quantity_check: bool = False,
        lookup_names: Sequence[str] = (),
        notation: NotationReader | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps={max_steps}; expected at least 1")
        if time_budget_s <= 0:
            raise ValueError(f"time_budget_s={time_budget_s}; expected a positive number")
        names = [t.name for t in tools]
        if len(set(names)) != len(names) or FINAL_ANSWER in names:
            raise ValueError(f"tool names must be unique and not {FINAL_ANSWER!r}, got {names}")
        if isinstance(lookup_names, str):
            raise TypeError(f"lookup_names must be a collection of names, got {lookup_names!r}")
        if lookup_names and SEARCH not in names:
            raise ValueError(f"lookup_names needs a {SEARCH!r} tool among the tools, got {names}")
        self.llm = llm
        self.tools: dict[str, Tool] = {t.name: t for t in tools}
        self.memory = memory
        self.max_steps = max_steps
        self.time_budget_s = time_budget_s
        self.quantity_check = quantity_check
        self.lookup_names = tuple(lookup_names)
        self.notation = notation
        self.specs = [t.spec() for t in tools]
        self.system = system_prompt(self.specs)

    def messages_for(self, task: str) -> list[Message]:
        """The opening chat: system prompt, remembered exchanges, then the task (its numbers in
        digits when the agent has a notation reader) with a note."""
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"task must be a non-empty string, got {task!r}")
        memory = self.memory
        history = memory.history() if memory else []
        note = memory.note(task) if memory else ""
        return [
            {"role": "system", "content": self.system},
            *history,
            {"role": "user", "content": (self.notation.digits(task) if self.notation else task)
             + note},
        ]

    def _act(self, call: ToolCall) -> tuple[str, str | None, StepError | None]:
        """Run one non-final call: (observation, error message, error kind); the observation of
        a failed call is set by the caller from the message."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join([*self.tools, FINAL_ANSWER])
            return "", f"unknown tool {call.name!r}; the tools are: {known}", StepError.UNKNOWN_TOOL
        try:
            return tool(call.arguments), None, None
        except ToolArgumentError as err:
            return "", str(err), StepError.ARGUMENTS
        except ToolExecutionError as err:
            return "", str(err), StepError.EXECUTION

    @staticmethod
    def _final_answer(call: ToolCall) -> str:
        """The answer of a final_answer call; ValueError if its arguments are not {answer: str}."""
        args = call.arguments
        if set(args) != {"answer"} or not isinstance(args["answer"], str):
            raise ValueError(
                f'final_answer takes exactly {{"answer": <string>}}, got {args!r}'
            )
        return args["answer"]

    def _unused(self, task: str, steps: list[Step]) -> list[float]:
        """The task's numbers that no successful tool call has used ([] without the check)."""
        if not self.quantity_check:
            return []
        return unused_quantities(task, [s.call for s in steps if s.call and s.error is None])

    def _unsearched(self, task: str, steps: list[Step]) -> list[str]:
        """The task's names the model must still search for ([] without the check, or once as
        many searches have been made as the task states names)."""
        if not self.lookup_names:
            return []
        calls = [s.call for s in steps if s.call and s.error is None]
        if sum(c.name == SEARCH for c in calls) >= len(stated_names(task, self.lookup_names)):
            return []
        return unsearched_names(task, calls, self.lookup_names)

    def _read(self, task: str) -> list[Step] | None:
        """The notation reader's call for ``task`` and the answer it gives, as two steps; None
        when the reader does not take the question or its call fails (the model then runs)."""
        if self.notation is None or (call := self.notation.read(task)) is None:
            return None
        t0 = time.perf_counter()
        observation, error, _ = self._act(call)
        if error is not None:
            return None
        answer = stated_value(observation)
        return [
            Step(1, format_call(call.name, call.arguments), call, observation,
                 time.perf_counter() - t0),
            Step(2, format_final(answer), ToolCall(FINAL_ANSWER, {"answer": answer}), "", 0.0),
        ]

    def _step(self, index: int, messages: list[Message], left: float, last: bool, task: str,
              steps: list[Step]) -> Step:
        """One reply of the model, checked and (when it is a tool call) run."""
        t0 = time.perf_counter()
        unused = self._unused(task, steps) if not last else []
        unsearched = self._unsearched(task, steps) if not last else []
        specs = [self.tools[SEARCH].spec()] if unsearched else self.specs
        hint = {"final_allowed": False} if unused or unsearched else {}
        reply = as_reply(self.llm(messages, specs, max_time_s=left, **hint))
        step = Step(index, reply.text, None, "", 0.0, stats=reply.stats)
        try:
            step.call = call = parse_call(reply.text)
        except ToolCallParseError as err:
            step.error, step.error_kind = str(err), StepError.PARSE
        else:
            if unsearched and call.name != SEARCH:
                names = ", ".join(repr(n) for n in unsearched)
                step.error = f"not yet: search first for what the task names: {names}"
                step.error_kind = StepError.LOOKUP
            elif call.is_final and unused:
                numbers = ", ".join(f"{q:g}" for q in unused)
                step.error = f"not yet: no tool call has used {numbers} from the task"
                step.error_kind = StepError.EARLY_ANSWER
            elif call.is_final:
                try:
                    self._final_answer(call)
                except ValueError as err:
                    step.error, step.error_kind = str(err), StepError.ARGUMENTS
            else:
                step.observation, step.error, step.error_kind = self._act(call)
        if step.error is not None:
            step.observation = f"Error: {step.error}"
        step.duration_s = time.perf_counter() - t0
        return step

    def run(self, task: str) -> AgentResult:
        """Solve ``task``: loop until final_answer, ``max_steps`` replies, or the time budget.

        A question :func:`~companion.agent.questions.check_question` refuses ends the run at
        once, before any model call, with ``stopped_because == StopReason.REFUSED`` and the
        reason in ``refusal``.
        """
        start = time.perf_counter()
        try:
            check_question(task)
        except QuestionError as err:
            return AgentResult(task, "", [], StopReason.REFUSED, time.perf_counter() - start,
                               refusal=str(err))
        steps = self._read(task)
        read = steps is not None
        if read:
            answer, stopped = steps[-1].call.arguments["answer"], StopReason.FINAL_ANSWER
        else:
            answer, stopped, steps = self._loop(task, start)
        if self.memory is not None and stopped == StopReason.FINAL_ANSWER:
            self.memory.remember(task, answer, len(steps))
        return AgentResult(task, answer, steps, stopped, time.perf_counter() - start,
                           notation=read)

    def _loop(self, task: str, start: float) -> tuple[str, StopReason, list[Step]]:
        """The model's turns: (answer, why the loop stopped, steps)."""
        messages = self.messages_for(task)
        steps: list[Step] = []
        answer, stopped = "", StopReason.MAX_STEPS
        for index in range(1, self.max_steps + 1):
            left = self.time_budget_s - (time.perf_counter() - start)
            if left <= 0:
                stopped = StopReason.TIME_BUDGET
                break
            step = self._step(index, messages, left, index == self.max_steps, task, steps)
            steps.append(step)
            if step.call is not None and step.call.is_final and step.error is None:
                answer, stopped = self._final_answer(step.call), StopReason.FINAL_ANSWER
                break
            messages += [
                {"role": "assistant", "content": step.raw.strip()},
                {"role": TOOL_ROLE, "content": step.observation},
            ]
        return answer, stopped, steps
