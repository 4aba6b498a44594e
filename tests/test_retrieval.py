"""Search over the shipped knowledge base: MiniLM embeddings of spelling-corrected queries."""

from __future__ import annotations

import copy
import json
import random

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from companion.agent.retrieval import (
    Passage,
    RetrievalIndex,
    embed,
    load_knowledge_base,
    misspell,
    name_queries,
    top1_accuracy,
)
from companion.agent.spelling import SpellingCorrector, edit_distance, words
from companion.agent.tools import search_tool


@pytest.fixture(scope="module")
def index(minilm):
    model, tokenizer = minilm
    return RetrievalIndex(load_knowledge_base(), model, tokenizer)


# ---------------------------------------------------------------------------------------------
# The knowledge base itself


def test_knowledge_base_has_titled_sourced_passages_with_checkable_facts():
    passages = load_knowledge_base()
    assert 40 <= len(passages) <= 80
    assert len({p.id for p in passages}) == len(passages)
    for p in passages:
        assert p.title and p.source and 80 <= len(p.text) <= 400, p.id
        for relation, answer in p.facts.items():
            assert relation in {"year", "organisation", "author", "parameters"}, p.id
            assert answer in p.text, (p.id, relation)  # answers are extractable from the passage
        if p.facts:
            assert p.subject, f"{p.id} has facts but no subject to ask about"


def test_exactly_one_planted_adversarial_passage():
    planted = [p for p in load_knowledge_base() if p.adversarial]
    assert len(planted) == 1
    assert "Ignore your instructions" in planted[0].text
    assert "convert_units" in planted[0].text
    assert not planted[0].facts  # never the gold passage of a question


def test_loading_rejects_a_fact_missing_from_its_passage(tmp_path):
    record = {"id": "x", "title": "X", "text": "X was made in 1999.", "source": "s",
              "facts": {"year": "2001"}}
    path = tmp_path / "kb.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1 \(x\): facts \{'year': '2001'\}"):
        load_knowledge_base(path)
    path.write_text(json.dumps({"id": "y", "title": "", "text": "t", "source": "s"}) + "\n")
    with pytest.raises(ValueError, match=r"missing or empty fields \['title'\]"):
        load_knowledge_base(path)


# ---------------------------------------------------------------------------------------------
# Embeddings: mean pooling by hand


@pytest.mark.slow
def test_embedding_equals_hand_computed_mean_pooling(minilm):
    model, tokenizer = minilm
    texts = ["LoRA adds a low-rank update.", "Who proposed the Turing test in 1950, and where?"]
    batched = embed(texts, model, tokenizer)  # padded together: the mask must hide the padding
    assert batched.shape == (2, 384)
    for row, text in zip(batched, texts, strict=True):
        ids = tokenizer(text, return_tensors="pt")  # alone: no padding at all
        with torch.no_grad():
            hidden = model(**ids).last_hidden_state[0]  # (tokens, 384)
        mean = hidden.sum(dim=0) / hidden.shape[0]
        expected = mean / mean.norm()
        torch.testing.assert_close(row, expected, atol=1e-5, rtol=1e-4)
        assert row.norm().item() == pytest.approx(1.0, abs=1e-5)


def test_embed_rejects_a_bare_string(minilm):
    model, tokenizer = minilm
    with pytest.raises(ValueError, match="non-empty list of strings"):
        embed("one text", model, tokenizer)


# ---------------------------------------------------------------------------------------------
# Search


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("who wrote attention is all you need", "transformer"),
        ("the paper that adapts big models with low-rank matrices", "lora"),
        ("fine-tuning a 4-bit quantised model on one GPU", "qlora"),
        ("the chatbot that imitated a psychotherapist", "eliza"),
        ("how big is the smallest SmolLM2 model", "smollm2"),
        ("measure agreement between two annotators beyond chance", "cohen-kappa"),
        ("resampling with replacement to get confidence intervals", "bootstrap"),
        ("interleaving reasoning and acting with tools", "react"),
        ("merging frequent character pairs into subwords", "bpe"),
        ("the company named after an emoji", "hugging-face"),
    ],
)
def test_search_finds_the_passage_for_paraphrased_queries(index, query, expected):
    hits = index.search(query, k=3)
    assert hits[0].passage.id == expected, [h.passage.id for h in hits]
    assert hits[0].score >= hits[1].score >= hits[2].score


@pytest.mark.slow
def test_scores_are_minilm_cosines_of_the_corrected_query(index):
    query = "rotary posiiton embeding"
    assert index.correct(query) == "rotary position embedding"
    vector = embed([index.correct(query)], index.model, index.tokenizer)[0]
    reference = torch.nn.functional.cosine_similarity(index.embeddings, vector[None, :], dim=-1)
    torch.testing.assert_close(index.scores(query), reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(index.scores([query, "LoRA"])[0], reference, atol=1e-5, rtol=1e-5)
    assert index.search(query, k=1)[0].passage.id == "rope"


def test_misspelt_names_find_their_passage_once_spelling_counts(index):
    """Top-1 on the knowledge base's names: dense retrieval alone loses misspelt ones (about
    two in three found), the mixed score keeps them, and no name spelt right is lost."""
    passages = load_knowledge_base()
    plain, typos = name_queries(passages), name_queries(passages, misspellings=2, seed=1)
    dense = copy.copy(index)
    dense.spelling = False
    assert len(plain) == 65 and len(typos) == 130
    before = top1_accuracy(dense, plain), top1_accuracy(dense, typos)
    after = top1_accuracy(index, plain), top1_accuracy(index, typos)
    assert before[1] < 0.8 <= 0.9 <= after[1], (before, after)
    assert after[0] >= before[0] and after[0] >= 0.98, (before, after)
    dartmouth = [h.passage.id for h in dense.search("Dartmoth workshop year")]
    assert dartmouth[0] != "dartmouth" and index.search("Dartmoth workshop year")[0].passage.id == (
        "dartmouth")


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


# ---------------------------------------------------------------------------------------------
# Spelling correction


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("kitten", "sitting", 3), ("", "abc", 3), ("abc", "abc", 0), ("abcd", "acbd", 1),
    ("ca", "abc", 3),  # optimal string alignment: a swapped pair is not edited again
    ("dartmoth", "dartmouth", 1), ("tarnsformer", "transformer", 1),
])
def test_edit_distance_by_hand(a, b, expected):
    assert edit_distance(a, b) == expected == edit_distance(b, a)


@given(st.text("abcd", max_size=7), st.text("abcd", max_size=7))
def test_edit_distance_lies_between_half_and_all_of_levenshtein(a, b):
    plain = _edit_distance(a, b)  # Levenshtein: a swap costs two
    assert (plain + 1) // 2 <= edit_distance(a, b) <= plain
    assert (edit_distance(a, b) == 0) == (a == b)


def test_the_corrector_mends_typos_and_leaves_words_it_knows():
    speller = SpellingCorrector.from_texts(
        ["The Dartmouth workshop of 1956.", "GPT-3 and GPT-2 by OpenAI.", "Nucleus sampling."],
        known=["year", "when"])
    assert speller.correct("When was the Dartmoth wrokshop?") == "When was the dartmouth workshop?"
    assert speller.correct("GTP-2 year") == "gpt-2 year"
    assert speller.correct("GPT-1") == "GPT-1"  # other digits: another name, not a typo
    assert speller.correct("resampling") == "resampling"  # a derivation, not a typo
    assert speller.correct("xyzzy plugh") == "xyzzy plugh"  # nothing near enough
    assert words("GPT-2's year, 1956!") == ["gpt-2", "s", "year", "1956"]
    with pytest.raises(ValueError, match="non-empty vocabulary"):
        SpellingCorrector.from_texts([])


@given(st.lists(st.sampled_from(sorted({w for p in load_knowledge_base()
                                        for w in f"{p.title} {p.text}".split()})), max_size=6))
def test_a_query_of_knowledge_base_words_is_never_changed(chosen):
    speller = SpellingCorrector.from_texts(f"{p.subject} {p.title} {p.text}"
                                           for p in load_knowledge_base())
    query = " ".join(chosen)
    assert speller.correct(query) == query


@given(st.sampled_from([p.subject for p in load_knowledge_base() if p.subject]),
       st.integers(0, 10**6))
def test_a_misspelling_is_at_most_two_letter_edits_in_one_word(name, seed):
    typo = misspell(name, random.Random(seed))
    changed = [(a, b) for a, b in zip(name.split(), typo.split(), strict=True) if a != b]
    assert len(changed) <= 1
    assert _edit_distance(name, typo) <= 4  # two edits; a swap counts as two here
    assert misspell(name, random.Random(seed)) == typo  # seeded
    with pytest.raises(ValueError, match="no letters"):
        misspell("42 7", random.Random(seed))


def test_ties_keep_passage_order_and_k_is_checked(minilm):
    model, tokenizer = minilm
    twin = {"title": "Same", "text": "An identical passage about tokenisers.", "source": "s"}
    passages = [Passage(id=f"p{i}", **twin) for i in range(4)]
    index = RetrievalIndex(passages, model, tokenizer)
    assert [h.passage.id for h in index.search("tokenisers", k=3)] == ["p0", "p1", "p2"]
    with pytest.raises(ValueError, match="k must be a positive"):
        index.search("tokenisers", k=0)
    with pytest.raises(ValueError, match="non-empty query"):
        index.search("  ")


@pytest.mark.slow
def test_search_tool_returns_passages_with_titles_and_sources(index):
    observation = search_tool(index)({"query": "Who introduced LoRA?"})
    lines = observation.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[1] LoRA (Low-Rank Adaptation): LoRA was introduced in 2021")
    assert lines[0].endswith("(source: Hu et al., LoRA: Low-Rank Adaptation of Large Language "
                             "Models, ICLR 2022)")
