"""Tokenizers: train a byte-level BPE, compare tokenizers, render a chat (chapter 2).

- :func:`train_bpe` trains a byte-level BPE tokenizer (the GPT-2 / Llama / SmolLM2 kind) with the
  ``tokenizers`` library on any list of texts, for example :func:`companion.corpus.load_corpus`.
- :func:`tokenize` and :func:`compare_tokenizers` show tokens, ids and the compression ratio
  (characters per token) of any tokenizer, ``tokenizers`` or ``transformers``.
- :func:`token_bytes` undoes the byte-to-character mapping of byte-level BPE, so one sees the UTF-8
  bytes behind a token such as ``'ä»'`` (the first two bytes of 今).
- :func:`render_chat` renders a conversation through a tokenizer's chat template and returns the
  exact text and token ids the model receives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, TypeAlias

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: Either library's tokenizer: a ``tokenizers.Tokenizer`` or a transformers tokenizer.
AnyTokenizer: TypeAlias = "Tokenizer | PreTrainedTokenizerBase"

#: The special tokens of the book's own tokenizer, the same strings SmolLM2 uses.
SPECIAL_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")


def train_bpe(
    texts: Iterable[str],
    vocab_size: int = 2_000,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
    min_frequency: int = 2,
) -> Tokenizer:
    """Train a byte-level BPE tokenizer: start from the 256 bytes, merge the most frequent adjacent
    pair until ``vocab_size`` entries (special tokens included) (chapter 2; Sennrich et al. 2016).

    Every string is encodable (any byte is a token), so there is no unknown token.
    """
    minimum = 256 + len(special_tokens)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < minimum:
        raise ValueError(
            f"vocab_size must be an int >= {minimum} (256 bytes + special tokens), "
            f"got {vocab_size!r}"
        )
    if isinstance(min_frequency, bool) or not isinstance(min_frequency, int) or min_frequency < 0:
        raise ValueError(f"min_frequency must be a non-negative int, got {min_frequency!r}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's ``bytes_to_unicode``: printable byte-level character -> byte value.

    Printable Latin-1 bytes map to themselves; the other 68 bytes map, in order, to U+0100 onwards
    (so the space byte 0x20 becomes 'Ġ' U+0120 and the newline 0x0A becomes 'Ċ' U+010A).
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = list(printable)
    shift = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + shift)
            shift += 1
    return {chr(char): byte for byte, char in zip(printable, chars, strict=True)}


def token_bytes(token: str) -> bytes:
    """The UTF-8 bytes a byte-level BPE token string stands for: ``token_bytes('Ġthe') == b' the'``.

    Raises ``ValueError`` for a character outside the byte-level alphabet (e.g. a WordPiece token).
    """
    table = _byte_decoder()
    bad = [ch for ch in token if ch not in table]
    if bad:
        raise ValueError(
            f"{token!r} is not a byte-level BPE token: {bad[0]!r} is not in its alphabet"
        )
    return bytes(table[ch] for ch in token)


def _encode(tokenizer: AnyTokenizer, text: str) -> tuple[list[str], list[int]]:
    """Tokens and ids of ``text`` without added special tokens, for either library's tokenizer."""
    if isinstance(tokenizer, Tokenizer):
        encoding = tokenizer.encode(text, add_special_tokens=False)
        return list(encoding.tokens), list(encoding.ids)
    if hasattr(tokenizer, "convert_ids_to_tokens"):
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        return list(tokenizer.convert_ids_to_tokens(ids)), ids
    raise ValueError(
        f"tokenizer must be a tokenizers.Tokenizer or a transformers tokenizer, "
        f"got {type(tokenizer).__name__}"
    )


@dataclass(frozen=True)
class TokenizedText:
    """One text cut into tokens: the vocabulary strings, their ids and the compression ratio."""

    text: str
    tokens: list[str]
    ids: list[int]

    @property
    def chars_per_token(self) -> float:
        """Compression ratio: characters of text per token (higher = fewer tokens per text)."""
        return len(self.text) / len(self.ids) if self.ids else 0.0


def tokenize(tokenizer: AnyTokenizer, text: str) -> TokenizedText:
    """Cut ``text`` into tokens with ``tokenizer`` (no special tokens added) (chapter 2)."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    tokens, ids = _encode(tokenizer, text)
    return TokenizedText(text=text, tokens=tokens, ids=ids)


def compression_ratio(tokenizer: AnyTokenizer, texts: Sequence[str]) -> float:
    """Characters per token over a list of texts: ``sum(len(t)) / sum(n_tokens(t))`` (chapter 2)."""
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty sequence of strings (not a single string)")
    tokens = sum(len(tokenize(tokenizer, text).ids) for text in texts)
    if tokens == 0:
        raise ValueError("the texts produced no tokens; the ratio is undefined")
    return sum(len(text) for text in texts) / tokens


def compare_tokenizers(
    tokenizers: Mapping[str, AnyTokenizer], texts: Sequence[str]
) -> list[dict]:
    """One row per (tokenizer, text): ``name, text, chars, tokens, chars_per_token`` (chapter 2)."""
    if not tokenizers:
        raise ValueError("tokenizers must map at least one name to a tokenizer")
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty sequence of strings (not a single string)")
    rows = []
    for name, tokenizer in tokenizers.items():
        for text in texts:
            result = tokenize(tokenizer, text)
            rows.append({
                "tokenizer": name,
                "text": text,
                "chars": len(text),
                "tokens": len(result.ids),
                "chars_per_token": round(result.chars_per_token, 2),
            })
    return rows


@dataclass(frozen=True)
class RenderedChat:
    """A conversation as the model receives it: the template's text and its token ids."""

    text: str
    ids: list[int]
    tokens: list[str]


def _check_messages(messages: Sequence[Mapping[str, str]]) -> None:
    if isinstance(messages, str | Mapping) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in ROLES:
            raise ValueError(f"message {index} must have a role in {ROLES}, got {message!r}")
        if not isinstance(message.get("content"), str):
            raise ValueError(f"message {index} must have a str content, got {message!r}")


def render_chat(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[Mapping[str, str]],
    add_generation_prompt: bool = True,
) -> RenderedChat:
    """Render ``messages`` through the tokenizer's chat template (chapter 2).

    ``text`` is the template's string; ``ids`` are the tokens ``apply_chat_template`` returns,
    which equal ``tokenizer(text, add_special_tokens=False)``. With ``add_generation_prompt`` the
    text ends with the opening of an assistant turn, so generation continues as the assistant.
    """
    _check_messages(messages)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"{type(tokenizer).__name__} has no chat_template to render with")
    text = tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )
    ids = list(
        tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=add_generation_prompt, return_dict=True
        )["input_ids"]
    )
    return RenderedChat(text=text, ids=ids, tokens=list(tokenizer.convert_ids_to_tokens(ids)))
