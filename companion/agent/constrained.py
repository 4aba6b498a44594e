"""Constrained decoding of tool calls: only well-formed calls can be generated (chapter 7).

The tool-call format (:mod:`companion.toolcall`) is a tiny language. For a set of tool specs it is::

    {"name": "<tool>", "arguments": {"<key>": <value>, ...}}

with a known tool name, that tool's argument keys in schema order (optional ones may be left out)
and values of the schema's JSON type (string, integer, number, boolean, or one of an ``enum``).
:class:`~companion.agent.grammar.ToolCallGrammar` recognises the *prefixes* of that language one
character at a time, and :class:`ToolCallLogitsProcessor` uses it at every decoding step: a token is
allowed exactly when the text generated so far plus the token's text is still a prefix of some call;
the end-of-turn token is allowed only after the closing brace. The model still chooses its own
tokens among the allowed ones, so a ``{"`` it learned as one token is not split into ``{`` + ``"``,
which would push it off the token sequences it was trained on.

Speed comes from three pieces of preparation: every token's text is decoded once per tokenizer
(:class:`TokenTable`); outside a string value only tokens whose first character can come next are
examined; inside a free string value all tokens without a quote, backslash or control character
pass in one vectorised step, and only the few hundred that contain one are walked.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

from companion.agent.grammar import State, ToolCallGrammar

__all__ = ["TokenTable", "ToolCallGrammar", "ToolCallLogitsProcessor", "token_table"]

@dataclass
class TokenTable:
    """Every token's text, decoded once per tokenizer, and indexes over it (chapter 7).

    ``texts[i]`` is token i's text; tokens that decode to an incomplete UTF-8 sequence or are
    special get ``None`` and are never allowed inside a call. ``singles`` maps a character to its
    one-character tokens; ``by_first`` and ``by_first2`` map the first one and two characters of
    the longer tokens to their ids; ``plain`` marks tokens that may continue any free string.
    """

    texts: list[str | None]
    by_first: dict[str, list[int]]
    by_first2: dict[str, list[int]]
    singles: dict[str, list[int]]
    plain: torch.Tensor  # bool (V,)
    lengths: torch.Tensor  # long (V,)
    special: list[int]  # ids of tokens inside a free string that need a full walk
    vocab_size: int

    @classmethod
    def build(cls, tokenizer, vocab_size: int | None = None) -> TokenTable:
        """Decode each id once; ``vocab_size`` may exceed the tokenizer's (padded embeddings)."""
        size = max(vocab_size or 0, len(tokenizer))
        specials = set(tokenizer.all_special_ids)
        texts: list[str | None] = [None] * size
        for i in range(len(tokenizer)):
            if i in specials:
                continue
            text = tokenizer.decode([i], clean_up_tokenization_spaces=False)
            if text and "\ufffd" not in text:
                texts[i] = text
        by_first: dict[str, list[int]] = {}
        by_first2: dict[str, list[int]] = {}
        singles: dict[str, list[int]] = {}
        plain = torch.zeros(size, dtype=torch.bool)
        lengths = torch.zeros(size, dtype=torch.long)
        walk: list[int] = []
        for i, text in enumerate(texts):
            if text is None:
                continue
            if len(text) == 1:
                singles.setdefault(text, []).append(i)
            else:
                by_first.setdefault(text[0], []).append(i)
                by_first2.setdefault(text[:2], []).append(i)
            lengths[i] = len(text)
            if any(c in '"\\' for c in text):
                walk.append(i)
            elif all(ord(c) >= 0x20 for c in text):
                plain[i] = True
        return cls(texts, by_first, by_first2, singles, plain, lengths, walk, size)


_TABLES: dict[int, tuple[object, TokenTable]] = {}


def token_table(tokenizer, vocab_size: int | None = None) -> TokenTable:
    """The :class:`TokenTable` of a tokenizer, built on first use and then cached."""
    key = id(tokenizer)
    hit = _TABLES.get(key)
    if hit is None or hit[0] is not tokenizer or hit[1].vocab_size < (vocab_size or 0):
        hit = (tokenizer, TokenTable.build(tokenizer, vocab_size))
        _TABLES[key] = hit
    return hit[1]


class ToolCallLogitsProcessor(LogitsProcessor):
    """Mask every token that would leave the tool-call language (chapter 7).

    Token t is allowed after generated text y iff ``y + text(t)`` is a prefix of a call (see
    :class:`ToolCallGrammar`); the end-of-turn ids are allowed iff y is a complete call. When few
    of the ``max_new_tokens`` are left, only tokens after which the call can still be closed in
    time pass (the grammar's :meth:`~ToolCallGrammar.min_chars_to_end`), so a reply is never cut
    off mid-call. One processor serves one ``generate`` call of batch size 1 whose prompt has
    ``prompt_length`` tokens.
    """

    def __init__(
        self,
        grammar: ToolCallGrammar,
        table: TokenTable,
        prompt_length: int,
        eos_token_ids: list[int],
        max_new_tokens: int,
    ) -> None:
        if not eos_token_ids:
            raise ValueError("eos_token_ids is empty; expected the end-of-turn token id(s)")
        shortest = grammar.min_chars_to_end(grammar.start)
        if max_new_tokens <= shortest:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} cannot hold a call; the shortest takes "
                f"{shortest} tokens plus end-of-turn"
            )
        self.grammar, self.table = grammar, table
        self.max_new_tokens = max_new_tokens
        self.prompt_length = prompt_length
        self.eos = list(eos_token_ids)
        self.state: State | None = grammar.start
        self.seen = 0
        self.allowed_counts: list[int] = []  # how many tokens each step allowed (for teaching)
        self._cache: dict[State, torch.Tensor] = {}

    def _candidates(self, state: State) -> list[int]:
        """Tokens worth walking in a structural state: pruned by their first two characters."""
        g, tab = self.grammar, self.table
        out: list[int] = []
        for c in g.first_chars(state) or ():
            out.extend(tab.singles.get(c, ()))
            after = g.step(state, c)
            seconds = g.first_chars(after)
            if seconds is None:  # a free string opens: any second character may follow
                out.extend(tab.by_first.get(c, ()))
            else:
                for c2 in seconds:
                    out.extend(tab.by_first2.get(c + c2, ()))
        return out

    def _allowed(self, state: State) -> torch.Tensor:
        """Boolean mask over the vocabulary of the tokens allowed in ``state``."""
        cached = self._cache.get(state)
        if cached is not None:
            return cached
        g, tab = self.grammar, self.table
        mask = torch.zeros(tab.vocab_size, dtype=torch.bool)
        if state == g.end:
            mask[self.eos] = True
        elif g.first_chars(state) is None:  # free string value: vectorised fast path
            mask = tab.plain & (tab.lengths <= g.max_string_chars - state[3])
            walked = [i for i in tab.special if g.advance(state, tab.texts[i]) is not None]
            mask[walked] = True
        else:
            ids = [i for i in self._candidates(state) if g.advance(state, tab.texts[i]) is not None]
            mask[ids] = True
        if state[0] != "str":  # string states carry a counter: too many to be worth keeping
            self._cache[state] = mask
        return mask

    def _within_budget(self, mask: torch.Tensor, remaining: int) -> torch.Tensor:
        """Keep the tokens after which the call can still close within ``remaining - 1`` tokens."""
        g, state = self.grammar, self.state
        if state == g.end or remaining - g.min_chars_to_end(state) > 64:
            return mask  # far from the budget: one token cannot commit to 64 more characters
        if g.first_chars(state) is None:  # free string: plain tokens leave the distance as is
            keep_plain = g.min_chars_to_end(state) <= remaining - 1
            kept = mask & self.table.plain if keep_plain else torch.zeros_like(mask)
            mask = mask & ~self.table.plain
        else:
            kept = torch.zeros_like(mask)
        texts = self.table.texts
        walked = [
            i
            for i in mask.nonzero().flatten().tolist()
            if g.min_chars_to_end(g.advance(state, texts[i])) <= remaining - 1
        ]
        kept[walked] = True
        return kept

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[0] != 1:
            raise ValueError(f"batch size {input_ids.shape[0]}; the processor handles batch size 1")
        generated = input_ids[0, self.prompt_length :].tolist()
        for token in generated[self.seen :]:
            text = self.table.texts[token] if token < len(self.table.texts) else None
            self.state = None if text is None else self.grammar.advance(self.state, text)
            if self.state is None:
                raise ValueError(f"token {token} ({text!r}) was generated outside the grammar")
        self.seen = len(generated)
        allowed = self._within_budget(self._allowed(self.state), self.max_new_tokens - self.seen)
        allowed = allowed[: scores.shape[-1]]
        count = int(allowed.sum())
        if count == 0:
            raise RuntimeError(f"no token can continue the call in state {self.state!r}")
        self.allowed_counts.append(count)
        return scores.masked_fill(~allowed, float("-inf"))

    def forced_end(self) -> None:
        """Record a token chosen without scoring (an end of turn that is all the grammar allows)."""
        self.allowed_counts.append(1)
