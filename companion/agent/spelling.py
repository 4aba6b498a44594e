r"""Spelling correction of search queries against the knowledge base's own words (chapter 7).

A dense encoder reads word pieces, so a misspelt name ("Dartmoth") is cut into pieces it rarely
saw together and lands near the wrong passage. Before a query is embedded, each word that is
neither a word of the knowledge base nor a whole word of the encoder's vocabulary is replaced by
the knowledge-base word nearest to it in edit distance, if one is near enough:

- the distance is the optimal-string-alignment Damerau-Levenshtein distance: the fewest
  insertions, deletions, substitutions and swaps of two neighbouring letters that turn one word
  into the other, with :math:`d(i, j)` over the prefixes :math:`a_{1..i}`, :math:`b_{1..j}`

  .. math:: d(i, j) = \min\big(d(i{-}1, j) + 1,\; d(i, j{-}1) + 1,\;
            d(i{-}1, j{-}1) + [a_i \ne b_j],\; d(i{-}2, j{-}2) + 1 \text{ if } a_i a_{i-1}
            = b_{j-1} b_j\big);

- near enough is one edit for a word of up to four characters, two for a longer one; of the
  nearest candidates the one most frequent in the knowledge base wins;
- a candidate contained in the word is not a correction but a derivation ("resampling" holds
  "sampling"), and one with other digits is another name ("GPT-1" is not a typo of "GPT-3"), so
  neither is used.

A word spelt right never changes, so a correct query scores exactly as before.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9]|[A-Za-z0-9]")


def edit_distance(a: str, b: str) -> int:
    """The optimal-string-alignment distance between ``a`` and ``b`` (module docstring)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased: letters and digits, inner hyphens kept ("gpt-2")."""
    return [w.lower() for w in _WORD.findall(text)]


class SpellingCorrector:
    """Corrects the words of a query towards ``vocabulary`` (a text's words and their counts);
    ``known`` words (e.g. an encoder's whole-word vocabulary) are left as they are."""

    def __init__(self, vocabulary: Counter[str], known: Iterable[str] = ()) -> None:
        if not vocabulary:
            raise ValueError("a spelling corrector needs a non-empty vocabulary")
        self.vocabulary = vocabulary
        self.known = {w.lower() for w in known} | set(vocabulary)

    @classmethod
    def from_texts(cls, texts: Iterable[str], known: Iterable[str] = ()) -> SpellingCorrector:
        return cls(Counter(w for t in texts for w in words(t)), known)

    def correct_word(self, word: str) -> str:
        """``word`` itself if it is known or nothing is near enough, else the nearest vocabulary
        word (lower-cased)."""
        lower = word.lower()
        if lower in self.known or not any(c.isalpha() for c in lower):
            return word
        limit = 1 if len(lower) <= 4 else 2
        digits = [c for c in lower if c.isdigit()]
        best: tuple[int, int, str] | None = None
        for candidate, count in self.vocabulary.items():
            if (abs(len(candidate) - len(lower)) > limit or candidate in lower
                    or [c for c in candidate if c.isdigit()] != digits):
                continue
            distance = edit_distance(lower, candidate)
            if distance <= limit and (best is None or (distance, -count, candidate) < best):
                best = (distance, -count, candidate)
        return word if best is None else best[2]

    def correct(self, query: str) -> str:
        """``query`` with each word replaced by :meth:`correct_word`; the rest kept as typed."""
        return _WORD.sub(lambda m: self.correct_word(m.group(0)), query)
