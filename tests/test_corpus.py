"""The book's offline corpus (chapter 2): what it holds, in what order, and how it is cut."""

from __future__ import annotations

import csv
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.corpus import (
    PARALLEL_SENTENCES,
    TICKET_CATEGORIES,
    load_corpus,
    make_support_tickets,
    pydoc_paragraphs,
    sentences,
    write_support_tickets,
)
from companion.paths import SETS


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


def test_support_tickets_are_reproducible_and_well_formed():
    rows = make_support_tickets(200, seed=3)
    assert rows == make_support_tickets(200, seed=3)
    assert rows != make_support_tickets(200, seed=4)
    assert [r["id"] for r in rows] == list(range(1, 201))
    assert {r["category"] for r in rows} == set(TICKET_CATEGORIES)
    assert {r["language"] for r in rows} == {"en", "zh"}
    for row in rows:
        urgent = "urgent" in row["text"] or "很急" in row["text"]
        assert row["priority"] == ("high" if urgent else "normal")
        assert ("{" not in row["text"]) and row["text"].strip() == row["text"]


def test_zh_share_bounds_the_language_mix():
    assert {r["language"] for r in make_support_tickets(50, zh_share=0.0)} == {"en"}
    assert {r["language"] for r in make_support_tickets(50, zh_share=1.0)} == {"zh"}


def test_shipped_ticket_files_are_what_the_generator_writes(tmp_path):
    write_support_tickets(tmp_path)
    for name in ("support_tickets.jsonl", "support_tickets.csv"):
        assert (SETS / name).read_bytes() == (tmp_path / name).read_bytes()
    rows = make_support_tickets()
    with open(SETS / "support_tickets.jsonl", encoding="utf-8") as handle:
        assert [json.loads(line) for line in handle] == rows
    with open(SETS / "support_tickets.csv", encoding="utf-8", newline="") as handle:
        assert list(csv.DictReader(handle)) == [{k: str(v) for k, v in r.items()} for r in rows]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 0}, "n must"), ({"n": True}, "n must"), ({"zh_share": 1.5}, "zh_share")],
)
def test_ticket_generator_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_support_tickets(**kwargs)


def test_writer_needs_an_existing_folder(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        write_support_tickets(tmp_path / "missing")
