r"""Search over the book's knowledge base: meaning from all-MiniLM-L6-v2, after the query's
spelling is corrected against the knowledge base's words (chapter 7).

The ``search`` tool answers from a small knowledge base the project ships
(``data/sets/knowledge_base/passages.jsonl``, described in ``data/sets/knowledge_base.md``): short
factual passages about the models, papers, people and libraries of this book, each with a title and
a source. A passage's score for a query is the cosine similarity of their embeddings,

.. math:: \mathrm{score}(q, p) = \cos\big(e(s(q)), e(p)\big),

embedded the way sentence-transformers does for MiniLM, :math:`e(x) = \sum_t m_t h_t / \sum_t
m_t` normalised to unit length, the mean of the last hidden states :math:`h_t` over the real
tokens (:math:`m_t` is the attention mask). It finds "the company named after an emoji", but a
name it has never seen spelt that way is cut into unfamiliar word pieces: a misspelt "Dartmoth
workshop" lands nearer other passages than the Dartmouth workshop's. :math:`s(q)` is the query
with such words corrected to the nearest word of the knowledge base
(:mod:`companion.agent.spelling`); a query spelt right is left as it is.

On the knowledge base's 65 subject names, dense retrieval alone finds the right passage first for
nearly every name spelt right and for about two in three misspelt ones (one or two random letter
edits); with the spelling corrected, for about nineteen in twenty (``tests/test_retrieval.py``
and ``benchmarks/bench_agent.py`` keep the measurement). An earlier version mixed in a character
n-gram score instead; it found misspelt names as well but lost paraphrased questions that name no
passage, because the n-gram score of every passage is noise for them. The passage embeddings are
computed once; a query costs one forward pass of a 22.7M-parameter encoder and one matrix-vector
product.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from companion.agent.spelling import SpellingCorrector
from companion.paths import SETS

KNOWLEDGE_BASE = SETS / "knowledge_base" / "passages.jsonl"
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
    """Passages embedded once; ``search`` ranks them by the score of the module docstring
    (``spelling=False`` embeds the query as typed: dense retrieval alone)."""

    def __init__(self, passages: list[Passage], model=None, tokenizer=None,
                 spelling: bool = True) -> None:
        if not passages:
            raise ValueError("a retrieval index needs at least one passage")
        if model is None or tokenizer is None:
            from companion.models import load_minilm

            model, tokenizer = load_minilm()
        self.passages = list(passages)
        self.model, self.tokenizer = model, tokenizer
        self.spelling = spelling
        self.embeddings = embed([f"{p.title}. {p.text}" for p in self.passages], model, tokenizer)
        whole_words = (w for w in tokenizer.get_vocab() if w.isalpha() and len(w) > 1)
        self.speller = SpellingCorrector.from_texts(
            (f"{p.subject} {p.title} {p.text}" for p in self.passages), known=whole_words)

    def dense_scores(self, query: str | list[str]) -> torch.Tensor:
        """Cosine similarity of the query's and every passage's MiniLM embedding, the query
        embedded as given (for a list of queries, one row each)."""
        queries = [query] if isinstance(query, str) else list(query)
        scores = embed(queries, self.model, self.tokenizer) @ self.embeddings.T
        return scores[0] if isinstance(query, str) else scores

    def correct(self, query: str) -> str:
        """The query as it is embedded: spelling corrected, unless ``spelling`` is off."""
        return self.speller.correct(query) if self.spelling else query

    def scores(self, query: str | list[str]) -> torch.Tensor:
        """The score of the module docstring for every passage, in passage order (for a list of
        queries, one row each)."""
        if isinstance(query, str):
            return self.dense_scores(self.correct(query))
        return self.dense_scores([self.correct(q) for q in query])

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The ``k`` passages scoring highest for ``query``, best first (ties keep passage
        order)."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"expected a non-empty query string, got {query!r}")
        if k < 1:
            raise ValueError(f"k must be a positive number of passages, got {k!r}")
        scores = self.scores(query)
        order = torch.argsort(scores, descending=True, stable=True)[:k]
        return [Hit(self.passages[i], round(float(scores[i]), 6)) for i in order.tolist()]


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def misspell(name: str, rng: random.Random) -> str:
    """``name`` with one random letter edit (substitution, deletion, insertion or swap of two
    neighbours) in one of its words of four or more letters, two edits if that word is longer
    than five letters: the kind of typo a reader, or a small model copying a name, makes."""
    words = name.split()
    long = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 4]
    some = long or [i for i, w in enumerate(words) if any(c.isalpha() for c in w)]
    if not some:
        raise ValueError(f"{name!r} has no letters to misspell")
    i = rng.choice(some)
    word = list(words[i])
    for _ in range(1 if len(word) <= 5 else 2):
        k = rng.choice([j for j, c in enumerate(word) if c.isalpha()])
        edit = rng.choice("sdit")
        if edit == "d" and sum(c.isalpha() for c in word) > 2:
            del word[k]
        elif edit == "i":
            word.insert(k, rng.choice(_LETTERS))
        elif edit == "t" and k + 1 < len(word) and word[k + 1].isalpha() and word[k + 1] != word[k]:
            word[k], word[k + 1] = word[k + 1], word[k]
        else:
            word[k] = rng.choice(_LETTERS.replace(word[k].lower(), ""))
    words[i] = "".join(word)
    return " ".join(words)


def name_queries(passages: list[Passage], misspellings: int = 0, seed: int = 0
                 ) -> list[tuple[str, str]]:
    """(query, passage id) pairs: each non-adversarial passage's subject as it is spelt
    (``misspellings=0``) or ``misspellings`` seeded :func:`misspell` variants of it."""
    rng = random.Random(seed)
    subjects = [(p.subject, p.id) for p in passages if p.subject.strip() and not p.adversarial]
    if misspellings == 0:
        return subjects
    return [(misspell(s, rng), i) for s, i in subjects for _ in range(misspellings)]


def top1_accuracy(index: RetrievalIndex, queries: list[tuple[str, str]]) -> float:
    """The share of (query, passage id) pairs whose passage ``index`` ranks first."""
    if not queries:
        raise ValueError("no queries to score")
    best = index.scores([q for q, _ in queries]).argmax(dim=1).tolist()  # first of equals
    return sum(index.passages[b].id == want for b, (_, want) in zip(best, queries, strict=True)
               ) / len(queries)


@lru_cache(maxsize=1)
def default_index() -> RetrievalIndex:
    """The shipped knowledge base, indexed with all-MiniLM-L6-v2 and its spelling corrector
    (built once per process)."""
    return RetrievalIndex(load_knowledge_base())
