"""The agent loop: propose a call, check it, run it, observe, repeat (chapter 7).

One run of :class:`Agent` is a ReAct-style loop (Yao et al., 2023) over the tool-call format of
:mod:`companion.toolcall`::

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
the step and time budgets always end the run. Only the tools given to the agent can run; text in
an observation (a retrieved passage, say) is data, never a way to add a tool.

With ``quantity_check=True`` the loop also holds back a final answer while a number the task
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

import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from companion.agent.llm import LLM, Message
from companion.agent.lookups import SEARCH, stated_names, unsearched_names
from companion.agent.quantities import unused_quantities
from companion.agent.tools import Tool, ToolArgumentError, ToolExecutionError
from companion.toolcall import (
    FINAL_ANSWER,
    TOOL_ROLE,
    ToolCall,
    ToolCallParseError,
    format_final,
    parse_call,
    system_prompt,
)

STOP_REASONS = ("final_answer", "max_steps", "time_budget")
#: kinds of step errors; the first three mean the model's call itself was not valid;
#: "early_answer" is a final answer the quantity check held back, "lookup" a call other than
#: search that the lookup check held back
ERROR_KINDS = ("parse", "unknown_tool", "arguments", "execution", "early_answer", "lookup")


@dataclass
class Step:
    """One turn of the loop, as plain data.

    ``raw`` is the model's text; ``call`` the parsed call (None if it did not parse); ``error``
    and ``error_kind`` say what went wrong (kinds in :data:`ERROR_KINDS`); ``observation`` is what
    the model was shown next (empty after the final answer); ``duration_s`` covers the model and
    the tool; ``confidence`` is the probability of the reply's least likely token when the model
    reports it (:attr:`~companion.agent.llm.GenerationStats.confidence`), else None.
    """

    index: int
    raw: str
    call: ToolCall | None
    observation: str
    duration_s: float
    error: str | None = None
    error_kind: str | None = None
    confidence: float | None = None

    @property
    def valid_call(self) -> bool:
        """True when the reply was a well-formed call to a known tool with valid arguments."""
        return self.error_kind not in ("parse", "unknown_tool", "arguments")


@dataclass
class AgentResult:
    """The outcome of :meth:`Agent.run`: the answer ("" if none), every step, and why it stopped."""

    task: str
    answer: str
    steps: list[Step]
    stopped_because: str
    duration_s: float

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


_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> Counter:
    return Counter(_WORD.findall(text.lower()))


def keyword_similarity(a: str, b: str) -> float:
    """Cosine similarity of the two texts' word-count vectors, in [0, 1] (chapter 7)."""
    wa, wb = _words(a), _words(b)
    dot = sum(wa[w] * wb[w] for w in wa)
    if dot == 0:
        return 0.0
    norm = (sum(v * v for v in wa.values()) * sum(v * v for v in wb.values())) ** 0.5
    return dot / norm


@dataclass
class MemoryRecord:
    """One finished task: what was asked, what was answered, how many steps it took."""

    task: str
    answer: str
    steps: int


@dataclass
class Memory:
    """The agent's memory, as plain data (chapter 7).

    *Conversation memory* keeps the last ``window`` finished (task, answer) exchanges and replays
    them as earlier user/assistant turns, so a follow-up question can refer to them. *Retrieval
    memory* keeps every finished task and, for a new one, recalls the past results whose words
    are most similar (cosine of word counts at least ``min_similarity``); they are offered to the
    model as a note after the task. Both can be turned off.
    """

    records: list[MemoryRecord] = field(default_factory=list)
    window: int = 2
    recall_k: int = 2
    min_similarity: float = 0.5
    conversation: bool = True
    retrieval: bool = True

    def remember(self, task: str, answer: str, steps: int) -> None:
        """Store a finished task (only tasks that ended with an answer are worth recalling)."""
        self.records.append(MemoryRecord(task, answer, steps))

    def recall(self, task: str) -> list[tuple[float, MemoryRecord]]:
        """The past results most similar to ``task``: up to ``recall_k`` (similarity, record)."""
        scored = [(keyword_similarity(task, r.task), r) for r in self.records]
        scored = [(s, r) for s, r in scored if s >= self.min_similarity]
        scored.sort(key=lambda sr: -sr[0])
        return scored[: self.recall_k]

    def history(self) -> list[Message]:
        """The last ``window`` exchanges as chat turns (user task, assistant final answer)."""
        if not self.conversation or self.window == 0:
            return []
        turns: list[Message] = []
        for r in self.records[-self.window :]:
            turns += [
                {"role": "user", "content": r.task},
                {"role": "assistant", "content": format_final(r.answer)},
            ]
        return turns

    def note(self, task: str) -> str:
        """The text appended to the task: recalled results, or "" when nothing is similar."""
        if not self.retrieval:
            return ""
        hits = self.recall(task)
        if not hits:
            return ""
        lines = [f"- {r.task} -> {r.answer}" for _, r in hits]
        return "\n\nEarlier results that may help:\n" + "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Everything the memory holds, as JSON-ready data."""
        return asdict(self)


class Agent:
    """An LLM, a set of tools, optional memory and the loop that ties them (chapter 7).

    ``max_steps`` bounds the model calls of one run; ``time_budget_s`` bounds its wall-clock time
    (checked before every step and passed to the model as the time it may still take).
    ``quantity_check`` holds back a final answer, on every step but the last, while a number the
    task states has not been used by a tool call. ``lookup_names`` (empty: no check) makes the
    model search, on every step but the last, while a name the task states is in no search query
    and fewer searches have been made than the task states names.
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
        self.specs = [t.spec() for t in tools]
        self.system = system_prompt(self.specs)

    def messages_for(self, task: str) -> list[Message]:
        """The opening chat: system prompt, remembered exchanges, then the task (with a note)."""
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"task must be a non-empty string, got {task!r}")
        memory = self.memory
        history = memory.history() if memory else []
        note = memory.note(task) if memory else ""
        return [
            {"role": "system", "content": self.system},
            *history,
            {"role": "user", "content": task + note},
        ]

    def _act(self, call: ToolCall) -> tuple[str, str | None, str | None]:
        """Run one non-final call: (observation, error message, error kind)."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join([*self.tools, FINAL_ANSWER])
            msg = f"unknown tool {call.name!r}; the tools are: {known}"
            return f"Error: {msg}", msg, "unknown_tool"
        try:
            return tool(call.arguments), None, None
        except ToolArgumentError as err:
            return f"Error: {err}", str(err), "arguments"
        except ToolExecutionError as err:
            return f"Error: {err}", str(err), "execution"

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

    def run(self, task: str) -> AgentResult:
        """Solve ``task``: loop until final_answer, ``max_steps`` replies, or the time budget."""
        start = time.perf_counter()
        messages = self.messages_for(task)
        steps: list[Step] = []
        answer, stopped = "", "max_steps"
        for index in range(1, self.max_steps + 1):
            left = self.time_budget_s - (time.perf_counter() - start)
            if left <= 0:
                stopped = "time_budget"
                break
            t0 = time.perf_counter()
            last = index == self.max_steps
            unused = self._unused(task, steps) if not last else []
            unsearched = self._unsearched(task, steps) if not last else []
            specs = [self.tools[SEARCH].spec()] if unsearched else self.specs
            hint = {"final_allowed": False} if unused or unsearched else {}
            raw = self.llm(messages, specs, max_time_s=left, **hint)
            stats = getattr(self.llm, "last", None)
            confidence = stats.confidence if stats is not None else None
            call: ToolCall | None = None
            error = kind = None
            try:
                call = parse_call(raw)
            except ToolCallParseError as err:
                observation, error, kind = f"Error: {err}", str(err), "parse"
            else:
                if unsearched and call.name != SEARCH:
                    names = ", ".join(repr(n) for n in unsearched)
                    error = f"not yet: search first for what the task names: {names}"
                    observation, kind = f"Error: {error}", "lookup"
                elif call.is_final and unused:
                    numbers = ", ".join(f"{q:g}" for q in unused)
                    error = f"not yet: no tool call has used {numbers} from the task"
                    observation, kind = f"Error: {error}", "early_answer"
                elif call.is_final:
                    try:
                        answer = self._final_answer(call)
                    except ValueError as err:
                        observation, error, kind = f"Error: {err}", str(err), "arguments"
                    else:
                        steps.append(Step(index, raw, call, "", time.perf_counter() - t0,
                                          confidence=confidence))
                        stopped = "final_answer"
                        break
                else:
                    observation, error, kind = self._act(call)
            steps.append(
                Step(index, raw, call, observation, time.perf_counter() - t0, error, kind,
                     confidence)
            )
            messages += [
                {"role": "assistant", "content": raw.strip()},
                {"role": TOOL_ROLE, "content": observation},
            ]
        if self.memory is not None and stopped == "final_answer":
            self.memory.remember(task, answer, len(steps))
        return AgentResult(task, answer, steps, stopped, time.perf_counter() - start)


def build_default_agent(
    finetuned: bool | None = None,
    constrained: bool = True,
    max_steps: int = 4,
    time_budget_s: float = 60.0,
    memory: Memory | None = None,
    quantity_check: bool = True,
    lookup_check: bool = True,
) -> Agent:
    """The book's offline agent: SmolLM2-135M-Instruct, the default tools, constrained calls,
    and the loop's quantity and lookup checks (each chosen on the validation split, chapter 7;
    the lookup check's names are the knowledge base's subjects).

    ``finetuned=None`` uses the tool-call LoRA adapters (chapter 5's, then chapter 7's second
    stage for two-tool chains, ``finetune.AGENT_ADAPTERS``, merged into the weights) when they are
    installed in ``data/adapters``, else the base model; True requires them, False skips them.
    """
    from companion import finetune
    from companion.agent.llm import TransformersLLM
    from companion.agent.lookups import knowledge_base_names
    from companion.agent.tools import default_tools
    from companion.models import load_smollm2

    missing = [d.name for d in finetune.missing_adapters(finetune.AGENT_ADAPTERS)]
    if finetuned and missing:
        raise ValueError(
            f"finetuned=True but no adapter in data/adapters/{', '.join(missing)}; "
            "train them with scripts/train_adapter.py (see the data cards) or pass finetuned=None"
        )
    use_adapter = not missing if finetuned is None else finetuned
    model, tokenizer = (finetune.load_finetuned(finetune.AGENT_ADAPTERS) if use_adapter
                        else load_smollm2())
    llm = TransformersLLM(model, tokenizer, constrained=constrained)
    return Agent(llm, default_tools(), memory, max_steps=max_steps, time_budget_s=time_budget_s,
                 quantity_check=quantity_check,
                 lookup_names=knowledge_base_names() if lookup_check else ())
