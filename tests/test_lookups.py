"""The lookup check: which knowledge-base names a task states, and which a search looked up."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.agent.lookups import knowledge_base_names, stated_names, unsearched_names
from companion.agent.retrieval import Passage, load_knowledge_base
from companion.paths import TOOLUSE_DATA as DATA_DIR
from companion.toolcall import ToolCall

NAMES = knowledge_base_names()


def search(query: str) -> ToolCall:
    return ToolCall("search", {"query": query})


def test_the_shipped_names_are_the_passage_subjects_without_the_planted_notice():
    passages = load_knowledge_base()
    assert len(NAMES) == sum(1 for p in passages if not p.adversarial) == 65
    assert "dartmouth workshop" in NAMES and "layer normalization" in NAMES
    assert "transformer" in NAMES  # "the Transformer" loses its article
    assert all(n == n.lower() and not n.startswith("the ") for n in NAMES)


def test_names_come_from_given_passages_too():
    passages = [Passage("a", "The Turing test", "t", "s", "the Turing test", {}),
                Passage("b", "Notice", "t", "s", "", {}),
                Passage("c", "Evil", "t", "s", "Evil", {}, adversarial=True)]
    assert knowledge_base_names(passages) == ("turing test",)


@pytest.mark.parametrize(
    ("task", "names"),
    [
        ("Count the years between layer normalization and AdamW.",
         ["layer normalization", "adamw"]),
        ("Which year saw the arrival of the Dartmouth workshop?", ["dartmouth workshop"]),
        ("Where was Sentence-BERT developed?", ["sentence-bert"]),  # not also "bert"
        ("What size, in parameters, is all-MiniLM-L6-v2?", ["all-minilm-l6-v2"]),  # not "minilm"
        ("When was Llama 3.1 released?", ["llama 3.1"]),  # not also "llama"
        ("Who wrote BERT, and who wrote LLaMA?", ["llama", "bert"]),  # longest first
        ("How many years after GPT-2 did GPT-4 come out?", ["gpt-2", "gpt-4"]),
        ("Multiply 40 mm by 4 and give the result in cm.", []),
        ("", []),
    ],
)
def test_stated_names_by_hand(task, names):
    assert stated_names(task, NAMES) == names


def test_stated_names_rejects_a_non_string_or_a_bare_string_of_names():
    with pytest.raises(TypeError, match="text must be a string"):
        stated_names(None, NAMES)
    with pytest.raises(TypeError, match="collection of strings"):
        stated_names("BERT", "BERT")


@given(st.sampled_from(NAMES), st.sampled_from(["", "the "]), st.booleans())
def test_every_name_is_stated_whatever_its_case(name, article, upper):
    text = f"Tell me about {article}{name.upper() if upper else name} please."
    assert name in stated_names(text, NAMES)


@given(st.sampled_from(NAMES), st.text(alphabet="abcxyz", min_size=1, max_size=3))
def test_a_name_glued_to_letters_is_not_stated(name, glue):
    text = f"{glue}{name}{glue}"
    stated = stated_names(text, NAMES)
    assert name not in stated
    assert all(re.search(r"(?<![\w-])" + re.escape(n) + r"(?![\w-])", text) for n in stated)


def test_unsearched_names_by_hand():
    task = "Count the years between layer normalization and AdamW."
    assert unsearched_names(task, [], NAMES) == ["layer normalization", "adamw"]
    assert unsearched_names(task, [search("Layer normalization year")], NAMES) == ["adamw"]
    calls = [search("layer normalization year"), search("AdamW year")]
    assert unsearched_names(task, calls, NAMES) == []
    # a misspelt query looks nothing up; other tools' arguments never count
    assert unsearched_names("When was the Dartmouth workshop?", [search("Dartish workshop year")],
                            NAMES) == ["dartmouth workshop"]
    calc = ToolCall("calculator", {"expression": "adamw"})
    assert unsearched_names("When was AdamW?", [calc], NAMES) == ["adamw"]


@pytest.mark.parametrize("split", ["train", "validation", "test", "heldout"])
def test_every_gold_solution_searches_each_name_before_any_other_call(split):
    """The data property the check relies on: in the shipped tasks no reference call other than
    search comes while a name the task states is unsearched (a correct solution is never held)."""
    held = []
    for line in (DATA_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        calls = [ToolCall(c["name"], c["arguments"]) for c in record["calls"]]
        for i, call in enumerate(calls):
            if call.name != "search" and unsearched_names(record["task"], calls[:i], NAMES):
                held.append(record["task"])
    assert held == []
