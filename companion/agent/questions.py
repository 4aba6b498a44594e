"""Which questions the agent takes, checked before any model runs (chapter 7).

A 135M-parameter model read English during its training and sees at most a couple of thousand
tokens at once. Given a question it cannot read it still writes *something*: a Chinese "three
plus five" came back as 5, and a question of 20,000 characters ran the step budget out after
half a minute. So the agent refuses, with a message a person can act on, a question that is

- empty (nothing but white space);
- longer than :data:`MAX_QUESTION_CHARS` characters (a question, not a document);
- written mostly in a script other than the Latin alphabet (its letters counted by the first
  word of their Unicode name: ``LATIN``, ``CJK``, ``CYRILLIC``, ``ARABIC`` ...). Digits,
  operators and punctuation count for nothing, so ``12 * 7`` is a question; a Greek ``π`` or a
  ``µ`` in an English sentence is a minority and passes.

The check does not tell English from another language in the Latin alphabet (French passes);
that would need a language identifier, which the book does not ship.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

#: the longest question the agent takes, in characters (the reader questions of chapter 7 are
#: all under 300; the model's window holds about 2,000 tokens, a fifth of them the system prompt)
MAX_QUESTION_CHARS = 1000
#: the least share of a question's letters that must be Latin
MIN_LATIN_SHARE = 0.5


class QuestionError(ValueError):
    """A question the agent will not run its model on; the message says why and what to do."""


def script_of(char: str) -> str:
    """The script of a letter, as the first word of its Unicode name (``"中"`` -> ``"CJK"``,
    ``"é"`` -> ``"LATIN"``); ``"UNKNOWN"`` for an unnamed character."""
    return unicodedata.name(char, "UNKNOWN UNKNOWN").split()[0]


def check_question(question: str) -> str:
    """``question`` without surrounding white space, or :class:`QuestionError` when the agent
    should not try it (empty, too long, not in the Latin alphabet: see the module docstring)."""
    if not isinstance(question, str):
        raise TypeError(f"a question is a string, got {type(question).__name__}")
    text = question.strip()
    if not text:
        raise QuestionError("the question is empty: type a question, e.g. What is 12 * 7?")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(text):,} characters long; the agent reads at most "
            f"{MAX_QUESTION_CHARS:,}: ask one short question at a time"
        )
    scripts = Counter(script_of(c) for c in text if c.isalpha())
    letters = sum(scripts.values())
    if letters and scripts["LATIN"] / letters < MIN_LATIN_SHARE:
        other = max((s for s in scripts if s != "LATIN"), key=lambda s: (scripts[s], s))
        name = other if len(other) <= 3 else other.title()  # CJK, Cyrillic, Arabic...
        raise QuestionError(
            f"the question is written in {name} script ({scripts[other]} of its "
            f"{letters} letters); the agent's model reads English only: ask in English"
        )
    return text
