r"""The agent's memory: what it keeps between tasks, and how it recalls it (chapter 7).

*Conversation memory* replays the last few finished exchanges as earlier chat turns, so a
follow-up ("and in miles?") can refer to them. *Retrieval memory* keeps every finished task and,
for a new one, recalls the past results whose words are most like the new task's: the cosine of
the two word-count vectors,

.. math:: \mathrm{sim}(a, b) = \frac{\sum_w n_a(w)\, n_b(w)}
          {\sqrt{\sum_w n_a(w)^2}\,\sqrt{\sum_w n_b(w)^2}}

where :math:`n_x(w)` counts the word :math:`w` in :math:`x`. Both are plain data
(:class:`Memory` holds :class:`MemoryRecord` rows), so a reader can print what the agent remembers.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from companion.toolcall import Message, format_final

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
