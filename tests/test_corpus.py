"""The book's offline corpus (chapter 2): what it holds, in what order, and how it is cut."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.corpus import (
    PARALLEL_SENTENCES,
    load_corpus,
    pydoc_paragraphs,
    sentences,
)


def test_sentences_are_parallel_english_and_chinese():
    english, chinese = sentences("en"), sentences("zh")
    assert len(english) == len(chinese) == len(PARALLEL_SENTENCES) >= 20
    assert all(s.isascii() for s in english)
    # every Chinese sentence holds at least one CJK ideograph
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in s) for s in chinese)


def test_pydoc_paragraphs_come_from_the_standard_library_in_sorted_topic_order():
    from pydoc_data.topics import topics

    paragraphs = pydoc_paragraphs()
    first_topic = topics[sorted(topics)[0]]
    assert first_topic.startswith(paragraphs[0])
    assert all(p.strip() for p in paragraphs)
    assert not any(set(p.strip()) <= set("*=-~^") for p in paragraphs)
    assert sum(map(len, paragraphs)) > 0.9 * sum(len(t) for t in topics.values())


def test_load_corpus_puts_sentences_first_then_pydoc():
    corpus = load_corpus()
    n = len(PARALLEL_SENTENCES)
    assert corpus[:n] == sentences("en")
    assert corpus[n : 2 * n] == sentences("zh")
    assert corpus[2 * n :] == pydoc_paragraphs()
    assert load_corpus(sources=("pydoc",)) == pydoc_paragraphs()


def test_load_corpus_is_deterministic():
    assert load_corpus(5_000) == load_corpus(5_000)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=60_000))
def test_limit_keeps_the_longest_prefix_within_the_budget(limit):
    full = load_corpus()
    cut = load_corpus(limit)
    assert full[: len(cut)] == cut
    assert sum(map(len, cut)) <= limit
    if len(cut) < len(full):
        assert sum(map(len, cut)) + len(full[len(cut)]) > limit


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit_chars": -1}, "limit_chars"),
        ({"limit_chars": True}, "limit_chars"),
        ({"sources": ("wikipedia",)}, "sources"),
        ({"sources": ()}, "sources"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_corpus(**kwargs)


def test_unknown_language_raises():
    with pytest.raises(ValueError, match="language"):
        sentences("fr")
