"""Which knowledge-base names a task states, and which of them a search has looked up (chapter 7).

"Count the years between layer normalization and AdamW" needs two facts, one per name, and the
knowledge base holds each in its own passage. An agent that searches for one name and then goes
straight to the calculator is computing with a year it never read. The loop's lookup check
(:class:`~companion.agent.loop.Agent`, ``lookup_names``) uses the two functions here to hold such a
call back.

A *name* is the subject of a passage (``Passage.subject``, without a leading "the"). A task
*states* a name when the name occurs in it as a whole word, case aside; names are matched longest
first and a matched span is used up, so "Llama 3.1" does not also state "LLaMA", and a name glued
to a hyphen ("BERT" in "Sentence-BERT") is not stated. A name is *looked up* when a search query
states it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from companion.toolcall import ToolCall

SEARCH = "search"


def _key(name: str) -> str:
    """The form a name is matched in: lower case, without a leading "the "."""
    return re.sub(r"^the\s+", "", name.strip().lower())


def knowledge_base_names(passages: Iterable | None = None) -> tuple[str, ...]:
    """The subjects of the knowledge base's passages (the shipped one when ``None``), as names.

    Passages marked ``adversarial`` (planted instructions, not facts) and empty subjects are left
    out.
    """
    if passages is None:
        from companion.agent.retrieval import load_knowledge_base

        passages = load_knowledge_base()
    names = [_key(p.subject) for p in passages if p.subject.strip() and not p.adversarial]
    return tuple(dict.fromkeys(names))


def stated_names(text: str, names: Iterable[str]) -> list[str]:
    """The ``names`` that ``text`` states, in matching form, longest first, without repeats."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if isinstance(names, str):
        raise TypeError(f"names must be a collection of strings, got the string {names!r}")
    rest = text.lower()
    found: list[str] = []
    for key in sorted({_key(n) for n in names if n.strip()}, key=lambda k: (-len(k), k)):
        match = re.search(r"(?<![\w-])" + re.escape(key) + r"(?![\w-])", rest)
        if match:
            found.append(key)
            rest = rest[: match.start()] + " " * len(key) + rest[match.end() :]
    return found


def unsearched_names(task: str, calls: Iterable[ToolCall], names: Iterable[str]) -> list[str]:
    """The names ``task`` states that no ``search`` call among ``calls`` has looked up."""
    names = list(names) if not isinstance(names, str) else names
    queries = " | ".join(
        str(c.arguments.get("query", "")) for c in calls if c.name == SEARCH
    )
    looked_up = set(stated_names(queries, names))
    return [n for n in stated_names(task, names) if n not in looked_up]
