"""Tokenizers (chapter 2): BPE training by hand, byte-level bytes, compression, chat rendering."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import pre_tokenizers
from transformers import PreTrainedTokenizerFast
from transformers.convert_slow_tokenizer import bytes_to_unicode

from companion.corpus import load_corpus, sentences
from companion.tokenization import (
    SPECIAL_TOKENS,
    compare_tokenizers,
    compression_ratio,
    render_chat,
    token_bytes,
    tokenize,
    train_bpe,
)


@pytest.fixture(scope="module")
def book_bpe():
    return train_bpe(load_corpus(), vocab_size=2_000)


def test_bpe_merges_the_most_frequent_pair_first_by_hand():
    # words after byte-level pre-tokenisation: "ab", "Ġab", "Ġab", "Ġab" -> pair (a, b) occurs 4
    # times, so it merges first; then (Ġ, ab) occurs 3 times. Two merges fill 256 + 3 + 2 entries.
    size = 256 + len(SPECIAL_TOKENS) + 2
    tokenizer = train_bpe(["ab ab ab ab"], vocab_size=size, min_frequency=1)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    assert [tuple(m) if isinstance(m, list) else tuple(m.split()) for m in merges] == [
        ("a", "b"), ("Ġ", "ab")
    ]
    assert tokenize(tokenizer, "ab ab").tokens == ["ab", "Ġab"]


def test_trained_tokenizer_has_the_requested_size_and_special_tokens_first(book_bpe):
    assert book_bpe.get_vocab_size() == 2_000
    assert [book_bpe.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2]


def test_training_is_deterministic(book_bpe):
    assert train_bpe(load_corpus(), vocab_size=2_000).to_str() == book_bpe.to_str()


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=60))
def test_byte_level_bpe_round_trips_any_text(book_bpe, text):
    ids = book_bpe.encode(text, add_special_tokens=False).ids
    assert book_bpe.decode(ids) == text


def test_transformers_wrapper_tokenizes_the_same(book_bpe):
    wrapped = PreTrainedTokenizerFast(tokenizer_object=book_bpe, eos_token="<|endoftext|>")
    for text in sentences("en")[:3] + sentences("zh")[:3]:
        assert tokenize(wrapped, text) == tokenize(book_bpe, text)


def test_byte_decoder_inverts_gpt2_bytes_to_unicode():
    for byte, char in bytes_to_unicode().items():
        assert token_bytes(char) == bytes([byte])
    assert set(pre_tokenizers.ByteLevel.alphabet()) == set(bytes_to_unicode().values())
    assert token_bytes("Ġthe") == b" the"
    assert token_bytes("Ċ") == b"\n"


def test_smollm2_tokens_are_the_utf8_bytes_of_the_text(smollm2):
    _, tokenizer = smollm2
    for text in sentences("en") + sentences("zh"):
        tokens = tokenize(tokenizer, text).tokens
        assert b"".join(token_bytes(t) for t in tokens) == text.encode("utf-8")


def test_smollm2_compresses_english_far_better_than_chinese(smollm2):
    _, tokenizer = smollm2
    english = compression_ratio(tokenizer, sentences("en"))
    chinese = compression_ratio(tokenizer, sentences("zh"))
    assert english > 4.0  # several characters per token
    assert chinese < 1.0  # more tokens than characters: a CJK character is 3 UTF-8 bytes


def test_compression_ratio_is_total_chars_over_total_tokens(book_bpe, minilm):
    texts = sentences("en")[:5]
    for tokenizer in (book_bpe, minilm[1]):
        tokens = sum(len(tokenize(tokenizer, t).ids) for t in texts)
        assert compression_ratio(tokenizer, texts) == sum(map(len, texts)) / tokens


def test_compare_tokenizers_has_one_row_per_pair(book_bpe, minilm):
    texts = ["Hello world.", "你好，世界。"]
    rows = compare_tokenizers({"book": book_bpe, "minilm": minilm[1]}, texts)
    assert [(r["tokenizer"], r["text"]) for r in rows] == [
        ("book", texts[0]), ("book", texts[1]), ("minilm", texts[0]), ("minilm", texts[1])
    ]
    assert rows[2]["tokens"] == len(minilm[1](texts[0], add_special_tokens=False)["input_ids"])


def chatml_by_hand(messages, generation_prompt):
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if generation_prompt else "")


@pytest.mark.parametrize("generation_prompt", [True, False])
def test_render_chat_is_chatml_and_ids_match_the_text(smollm2, generation_prompt):
    _, tokenizer = smollm2
    messages = [
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": "What is a token?"},
    ]
    rendered = render_chat(tokenizer, messages, add_generation_prompt=generation_prompt)
    assert rendered.text == chatml_by_hand(messages, generation_prompt)
    assert rendered.ids == tokenizer(rendered.text, add_special_tokens=False)["input_ids"]
    assert rendered.tokens.count("<|im_start|>") == 2 + generation_prompt
    assert rendered.ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")


def test_render_chat_adds_smollm2_default_system_prompt(smollm2):
    rendered = render_chat(smollm2[1], [{"role": "user", "content": "Hi"}])
    assert rendered.text.startswith("<|im_start|>system\nYou are a helpful AI assistant")


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "non-empty"),
        ("hello", "non-empty"),
        ([{"role": "robot", "content": "x"}], "role"),
        ([{"role": "user", "content": 3}], "content"),
    ],
)
def test_render_chat_rejects_malformed_messages(smollm2, messages, message):
    with pytest.raises(ValueError, match=message):
        render_chat(smollm2[1], messages)


def test_render_chat_needs_a_chat_template(minilm):
    with pytest.raises(ValueError, match="chat_template"):
        render_chat(minilm[1], [{"role": "user", "content": "Hi"}])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: train_bpe(["x"], vocab_size=100), "vocab_size"),
        (lambda: train_bpe(["x"], min_frequency=-1), "min_frequency"),
        (lambda: token_bytes("##ing€"), "byte-level"),
        (lambda: tokenize(object(), "x"), "tokenizer"),
        (lambda: compression_ratio(object(), "a string"), "texts"),
        (lambda: compare_tokenizers({}, ["x"]), "tokenizers"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
