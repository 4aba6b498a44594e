"""The agent's language-model core: a scripted stand-in and a local transformers model (chapter 7).

Both are callables with one contract, ``llm(messages, tools) -> Reply``: given the chat so far (the
tool-call format of :mod:`companion.toolcall`) and the tool specs, return the next assistant turn:
its text and, for a real model, its :class:`GenerationStats` (tokens, seconds, each token's
probability). The agent loop never needs to know which one it drives. Two keywords are hints a model
may use: ``max_time_s``, the time left, and ``final_allowed=False``, "do not answer yet" (a
constrained model obeys it; the loop checks the reply either way).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from transformers import Cache, DynamicCache

from companion.agent.constrained import ToolCallGrammar, ToolCallLogitsProcessor, token_table
from companion.toolcall import Message, format_call


@dataclass
class GenerationStats:
    """One generate call: tokens in and out, the new ids, seconds, tokens allowed at each step,
    how many prompt tokens came from the kept key/value cache, the probability of each new
    token, and how many forward passes of the model it took.

    ``token_probs[t]`` is softmax(z_t)[y_t], where z_t are the logits the decoder chose from
    (after the constraint has masked the forbidden tokens, so it is renormalised over the allowed
    ones) and y_t the chosen token. :attr:`confidence` is the smallest of them: a reply is only as
    sure as its least sure token.
    """

    prompt_tokens: int
    new_tokens: int
    seconds: float
    allowed_per_step: list[int]
    token_ids: list[int]
    cached_tokens: int = 0
    token_probs: list[float] = field(default_factory=list)
    forward_passes: int = 0

    @property
    def confidence(self) -> float | None:
        """min_t token_probs[t], or None for an empty reply."""
        return min(self.token_probs) if self.token_probs else None


@dataclass(frozen=True)
class Reply:
    """One assistant turn: its text, and what the model measured while writing it (None when the
    model measures nothing, as a script does)."""

    text: str
    stats: GenerationStats | None = None


class LLM(Protocol):
    """What the agent needs from a model: the next assistant turn (a :class:`Reply`; a plain
    string is taken as a reply without statistics)."""

    def __call__(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        max_time_s: float | None = None,
        final_allowed: bool = True,
    ) -> Reply | str: ...


class LazyLLM:
    """An :class:`LLM` built by ``build()`` on its first call, so that an agent whose question
    needs no model (one the notation reader answers) never loads one (the terminal uses it)."""

    def __init__(self, build: Callable[[], LLM]) -> None:
        self.build = build
        self.llm: LLM | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Reply | str:
        """The built model's reply; the arguments are :class:`LLM`'s, passed on unchanged."""
        if self.llm is None:
            self.llm = self.build()
        return self.llm(*args, **kwargs)


def as_reply(reply: Reply | str) -> Reply:
    """``reply`` as a :class:`Reply` (a string becomes one without statistics)."""
    if isinstance(reply, Reply):
        return reply
    if isinstance(reply, str):
        return Reply(reply)
    raise TypeError(f"a model must return a Reply or a string, got {type(reply).__name__}")


class ScriptedLLM:
    """Replays canned assistant turns in order, whatever the messages (chapter 7).

    Turns may be strings (returned verbatim, so malformed output can be scripted) or
    ``(name, arguments)`` pairs (formatted with :func:`companion.toolcall.format_call`). Each call
    records the messages it was shown in ``seen``; ``delay_s`` makes every turn take that long.
    """

    def __init__(self, turns: Sequence[str | tuple[str, dict[str, Any]]], delay_s: float = 0.0):
        self.turns = [t if isinstance(t, str) else format_call(t[0], t[1]) for t in turns]
        if delay_s < 0:
            raise ValueError(f"delay_s={delay_s}; expected a non-negative number of seconds")
        self.delay_s = delay_s
        self.seen: list[list[Message]] = []

    def __call__(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        max_time_s: float | None = None,
        final_allowed: bool = True,
    ) -> Reply:
        if len(self.seen) >= len(self.turns):
            raise ValueError(
                f"ScriptedLLM has {len(self.turns)} turns and was asked for turn "
                f"{len(self.seen) + 1}; script more turns or lower max_steps"
            )
        self.seen.append([dict(m) for m in messages])
        if self.delay_s:
            time.sleep(self.delay_s)
        return Reply(self.turns[len(self.seen) - 1])


class TransformersLLM:
    """A local causal LM behind the agent contract, greedy, optionally constrained (chapter 7).

    The messages are rendered with the tokenizer's chat template (``add_generation_prompt=True``)
    and decoded greedily until the end-of-turn token (``<|im_end|>`` for ChatML) or
    ``max_new_tokens``. With ``constrained=True`` a :class:`ToolCallLogitsProcessor` lets through
    only tokens that keep the reply a prefix of a well-formed call to one of ``tools``.

    With ``reuse_prefix=True`` the key/value cache of the previous call is kept and reused for
    the tokens the new prompt shares with it. Under a causal mask the keys and values at position
    t depend only on tokens 1..t, so they stay valid as long as those tokens are unchanged: an
    agent's chat only grows, and every task opens with the same system prompt, so most of each
    prompt is already computed. Call :meth:`reset` after changing the model's weights.

    With ``jump_forward=True`` (used only with ``constrained``) the text the grammar leaves no
    choice about is not generated one token at a time: once the model has written
    ``{"name": "calcul``, the rest up to the expression's first character is fixed, so its tokens
    (as the tokenizer writes them, the way the model saw them in training) are run through the
    model in one forward pass, which on a CPU costs about what one token does. The model's own
    choices are unchanged; only the steps where it had none are batched (:meth:`_forced_ids`).
    """

    def __init__(
        self,
        model,
        tokenizer,
        constrained: bool = False,
        max_new_tokens: int = 96,
        max_string_chars: int = 160,
        reuse_prefix: bool = True,
        jump_forward: bool = True,
    ) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens}; expected a positive count")
        self.model, self.tokenizer = model, tokenizer
        self.constrained = constrained
        self.max_new_tokens = max_new_tokens
        self.max_string_chars = max_string_chars
        self.eos_token_ids = self._end_ids(tokenizer)
        self.reuse_prefix = reuse_prefix
        self.jump_forward = jump_forward
        self._kept: tuple[list[int], Cache] | None = None  # token ids and their keys/values

    def reset(self) -> None:
        """Forget the kept key/value cache (needed after the model's weights change)."""
        self._kept = None

    def _cache_for(self, ids: list[int]) -> tuple[Cache | None, int]:
        """The kept cache cut to the longest prefix it shares with ``ids``, and that length.

        At least one prompt token is left uncached, since generation starts by running it.
        """
        kept, self._kept = self._kept, None  # generate extends the cache in place
        if kept is None or not self.reuse_prefix:
            return None, 0
        kept_ids, cache = kept
        shared = 0
        for a, b in zip(kept_ids, ids[:-1], strict=False):
            if a != b:
                break
            shared += 1
        if shared == 0:
            return None, 0
        cache.crop(shared - cache.get_seq_length())
        return cache, shared

    @staticmethod
    def _end_ids(tokenizer) -> list[int]:
        ids = []
        im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
            ids.append(im_end)
        if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
            ids.append(tokenizer.eos_token_id)
        if not ids:
            raise ValueError("the tokenizer has neither <|im_end|> nor an eos token")
        return ids

    def prompt_ids(self, messages: list[Message]) -> torch.Tensor:
        """The chat-template rendering of ``messages``, ready for the assistant's turn, (1, T)."""
        encoded = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )
        return encoded["input_ids"]

    def processor(
        self, tools: list[dict[str, Any]], prompt_length: int, final_allowed: bool = True
    ) -> ToolCallLogitsProcessor:
        """A fresh constraint for one reply that may call any of ``tools`` (or final_answer,
        when ``final_allowed``)."""
        grammar = ToolCallGrammar(
            tools, max_string_chars=self.max_string_chars, final_answer=final_allowed
        )
        table = token_table(self.tokenizer, self.model.config.vocab_size)
        return ToolCallLogitsProcessor(
            grammar, table, prompt_length, self.eos_token_ids, self.max_new_tokens
        )

    @torch.no_grad()
    def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        max_time_s: float | None = None,
        stop_strings: list[str] | None = None,
        final_allowed: bool = True,
    ) -> Reply:
        """The greedy reply and its statistics; constrained to a call to ``tools`` when
        ``self.constrained`` (and then to a call of one of ``tools`` proper when not
        ``final_allowed``)."""
        start = time.perf_counter()
        ids = self.prompt_ids(messages).to(self.model.device)
        if self.constrained and self.jump_forward and not stop_strings:
            return self._generate_jumping(ids, tools or [], max_time_s, final_allowed, start)
        kwargs: dict[str, Any] = {}
        proc = None
        if self.constrained:
            proc = self.processor(tools or [], ids.shape[1], final_allowed)
            kwargs["logits_processor"] = [proc]
        if max_time_s is not None:
            kwargs["max_time"] = max(max_time_s, 0.01)
        if stop_strings:
            kwargs["stop_strings"] = stop_strings
            kwargs["tokenizer"] = self.tokenizer
        cache, cached = self._cache_for(ids[0].tolist())
        if cache is None and self.reuse_prefix:
            cache = DynamicCache(config=self.model.config)
        out = self.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.eos_token_ids[0],
            cache=cache,
            return_dict_in_generate=True,
            output_scores=True,
            **kwargs,
        )
        sequence = out.sequences[0]
        if self.reuse_prefix and out.cache is not None:
            length = out.cache.get_seq_length()
            self._kept = (sequence[:length].tolist(), out.cache)
        new = sequence[ids.shape[1] :]
        steps = torch.softmax(torch.cat(out.scores).float(), dim=-1)  # (new tokens, vocabulary)
        probs = steps[torch.arange(len(new)), new].tolist()
        text = self.tokenizer.decode(
            new, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        stats = GenerationStats(
            prompt_tokens=ids.shape[1],
            new_tokens=int(new.numel()),
            seconds=time.perf_counter() - start,
            allowed_per_step=proc.allowed_counts if proc else [],
            token_ids=new.tolist(),
            cached_tokens=cached,
            token_probs=probs,
            forward_passes=len(out.scores),  # the prompt's pass, then one per further token
        )
        return Reply(text, stats)

    def _forced_ids(self, new: list[int], text: str, forced: str) -> list[int]:
        """The tokens of ``forced``, the text the grammar forces after the reply ``new`` (whose
        text is ``text``), as the tokenizer writes them.

        The whole reply plus ``forced`` is tokenized; if the tokenizer writes ``new`` as the model
        did, its next tokens are the guess. Nothing is guessed when the model split the text its
        own way.
        """
        if not forced:
            return []
        ids = self.tokenizer(text + forced, add_special_tokens=False)["input_ids"]
        if ids[: len(new)] != new:
            return []
        room = self.max_new_tokens - len(new) - 1  # keep a step for the end of turn
        return ids[len(new) :][: max(room, 0)]

    @torch.no_grad()
    def _generate_jumping(
        self,
        ids: torch.Tensor,
        tools: list[dict[str, Any]],
        max_time_s: float | None,
        final_allowed: bool,
        start: float,
    ) -> Reply:
        """Constrained greedy decoding with jump-forward, token for token what greedy decoding
        writes (up to float rounding).

        Each forward pass runs the tokens not yet in the key/value cache: the chosen token plus
        the tokens the grammar forces after it (:meth:`_forced_ids`; the first pass, the uncached
        prompt plus the forced ``{"name": "``). The pass returns logits at every position, so each
        guessed token is checked against the model's own constrained greedy choice there, as in
        speculative decoding: at the first disagreement the guesses after it are dropped (and cut
        from the cache) and the model's choice is taken. Guesses cost almost nothing when they are
        right, which after fine-tuning they nearly always are.
        """
        prompt = ids[0].tolist()
        proc = self.processor(tools, len(prompt), final_allowed)
        grammar = proc.grammar
        cache, cached = self._cache_for(prompt)
        if cache is None:
            cache = DynamicCache(config=self.model.config)
        new: list[int] = []
        probs: list[float] = []
        guess = self._forced_ids(new, "", grammar.forced_text(grammar.start))
        feed = prompt[cached:] + guess
        passes = 0
        while True:
            passes += 1
            out = self.model(input_ids=torch.tensor([feed], device=ids.device), cache=cache,
                             use_cache=True)
            cache = out.cache
            logits = out.logits[0, len(feed) - len(guess) - 1 :].float()  # one row per choice
            for k, row in enumerate(logits):
                scores = proc(torch.tensor([prompt + new]), row[None])
                token = int(scores.argmax(-1))
                probs.append(torch.softmax(scores, -1)[0, token].item())
                new.append(token)
                if k < len(guess) and token != guess[k]:  # the model disagrees: drop the rest
                    cache.crop(len(prompt) + len(new) - 1 - cache.get_seq_length())
                    break
            text = self.tokenizer.decode(new, clean_up_tokenization_spaces=False)
            state = grammar.advance(grammar.start, text)  # None once an end of turn is chosen
            if state == grammar.end:
                new.append(self.eos_token_ids[0])  # the end of turn is all the grammar allows
                probs.append(1.0)
                proc.forced_end()
            timed_out = max_time_s is not None and time.perf_counter() - start > max_time_s
            if new[-1] in self.eos_token_ids or len(new) >= self.max_new_tokens or timed_out:
                break
            forced = grammar.forced_text(state) if state is not None else ""
            guess = self._forced_ids(new, text, forced)
            feed = [new[-1], *guess]
        new = new[: self.max_new_tokens]
        if self.reuse_prefix:
            seen = prompt + new[:-1]  # the last token chosen was never run through the model
            self._kept = (seen[: cache.get_seq_length()], cache)
        text = self.tokenizer.decode(new, skip_special_tokens=True,
                                     clean_up_tokenization_spaces=False)
        stats = GenerationStats(
            prompt_tokens=len(prompt),
            new_tokens=len(new),
            seconds=time.perf_counter() - start,
            allowed_per_step=proc.allowed_counts[: len(new)],
            token_ids=new,
            cached_tokens=cached,
            token_probs=probs[: len(new)],
            forward_passes=passes,
        )
        return Reply(text, stats)

    def __call__(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        max_time_s: float | None = None,
        final_allowed: bool = True,
    ) -> Reply:
        return self.generate(messages, tools, max_time_s=max_time_s, final_allowed=final_allowed)
