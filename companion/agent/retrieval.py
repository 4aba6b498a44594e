r"""Dense retrieval over the book's knowledge base with all-MiniLM-L6-v2 (chapter 7).

The ``search`` tool answers from a small knowledge base the project ships
(``data/knowledge_base/passages.jsonl``, described in ``data/knowledge_base.md``): short factual
passages about the models, papers, people and libraries of this book, each with a title and a
source. Passages and queries are embedded the way sentence-transformers does for this model:

.. math:: e(x) = \frac{\sum_t m_t h_t}{\sum_t m_t}, \qquad
          \mathrm{score}(q, p) = \frac{e(q)^\top e(p)}{\lVert e(q)\rVert\,\lVert e(p)\rVert}

(mean of the last hidden states ``h_t`` over the real tokens, ``m_t`` = attention mask, then cosine
similarity). The passage embeddings are computed once and kept in memory; a query costs one
forward pass of a 22.7M-parameter encoder and a matrix-vector product.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from companion.paths import DATA

KNOWLEDGE_BASE = DATA / "knowledge_base" / "passages.jsonl"
_FIELDS = ("id", "title", "text", "source")


@dataclass(frozen=True)
class Passage:
    """One knowledge-base passage; ``facts`` maps a relation (year, author...) to its answer."""

    id: str
    title: str
    text: str
    source: str
    subject: str = ""
    facts: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    adversarial: bool = False


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its cosine score."""

    passage: Passage
    score: float

    @property
    def title(self) -> str:
        return self.passage.title

    @property
    def text(self) -> str:
        return self.passage.text

    @property
    def source(self) -> str:
        return self.passage.source


def load_knowledge_base(path: Path | None = None) -> list[Passage]:
    """Read the knowledge base JSONL (one passage per line); ``ValueError`` names a bad line."""
    path = KNOWLEDGE_BASE if path is None else Path(path)
    passages: list[Passage] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record: dict[str, Any] = json.loads(line)
        missing = [k for k in _FIELDS if not isinstance(record.get(k), str) or not record[k]]
        if missing:
            raise ValueError(f"{path.name} line {number}: missing or empty fields {missing}")
        facts = record.get("facts", {})
        absent = {rel: ans for rel, ans in facts.items() if ans not in record["text"]}
        if absent:
            raise ValueError(
                f"{path.name} line {number} ({record['id']}): facts {absent} are not in its text"
            )
        passages.append(
            Passage(
                id=record["id"],
                title=record["title"],
                text=record["text"],
                source=record["source"],
                subject=record.get("subject", ""),
                facts=dict(facts),
                adversarial=bool(record.get("adversarial", False)),
            )
        )
    ids = [p.id for p in passages]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path.name}: passage ids must be unique")
    return passages


@torch.no_grad()
def embed(texts: list[str], model, tokenizer, batch_size: int = 32) -> torch.Tensor:
    """Unit-length sentence embeddings: masked mean of the last hidden states, L2-normalised.

    Returns a ``(len(texts), hidden)`` float tensor (384 columns for all-MiniLM-L6-v2).
    """
    if isinstance(texts, str) or not texts:
        raise ValueError(f"expected a non-empty list of strings, got {texts!r}")
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[start : start + batch_size],
            padding=True,
            truncation=True,
            max_length=256,
            return_tensors="pt",
        )
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        chunks.append(torch.nn.functional.normalize(mean, dim=-1))
    return torch.cat(chunks)


class RetrievalIndex:
    """Passages embedded once; ``search`` ranks them by cosine similarity to the query."""

    def __init__(self, passages: list[Passage], model=None, tokenizer=None) -> None:
        if not passages:
            raise ValueError("a retrieval index needs at least one passage")
        if model is None or tokenizer is None:
            from companion.models import load_minilm

            model, tokenizer = load_minilm()
        self.passages = list(passages)
        self.model, self.tokenizer = model, tokenizer
        self.embeddings = embed([f"{p.title}. {p.text}" for p in self.passages], model, tokenizer)

    def scores(self, query: str) -> torch.Tensor:
        """Cosine similarity of ``query`` with every passage, in passage order."""
        return self.embeddings @ embed([query], self.model, self.tokenizer)[0]

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The ``k`` passages most similar to ``query``, best first (ties keep passage order)."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"expected a non-empty query string, got {query!r}")
        if k < 1:
            raise ValueError(f"k must be a positive number of passages, got {k!r}")
        scores = self.scores(query)
        order = torch.argsort(scores, descending=True, stable=True)[:k]
        return [Hit(self.passages[i], round(float(scores[i]), 6)) for i in order.tolist()]


@lru_cache(maxsize=1)
def default_index() -> RetrievalIndex:
    """The shipped knowledge base embedded with all-MiniLM-L6-v2 (built once per process)."""
    return RetrievalIndex(load_knowledge_base())
