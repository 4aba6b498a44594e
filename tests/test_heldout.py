"""Chapter 6's held-out evaluation: first-call exact match, answer F1 and perplexity per row."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion import finetune as ft
from companion import heldout
from companion.toolcall import ToolCall, conversation, format_call, format_final, system_prompt

CALCULATOR = {
    "name": "calculator",
    "description": "Evaluate an arithmetic expression.",
    "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
}
SYSTEM = system_prompt([CALCULATOR])


def record(i: int) -> dict:
    a, b = 2 + i, 7 + 3 * i
    turns = [(ToolCall("calculator", {"expression": f"{a} * {b}"}), str(a * b)),
             (ToolCall("final_answer", {"answer": str(a * b)}), "")]
    return {"id": f"t-{i}", "tool": "calculator", "answer": str(a * b),
            "messages": conversation(SYSTEM, f"What is {a} times {b}?", turns)}


RECORDS = [record(i) for i in range(4)]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from companion.models import prepare_smollm2

    return AutoTokenizer.from_pretrained(prepare_smollm2())


def test_final_turn_prompt_ends_with_the_gold_observation():
    prompt = heldout.final_turn_prompt(RECORDS[0]["messages"])
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "tool"]
    assert prompt[-1]["content"] == "14"  # 2 * 7
    with pytest.raises(ValueError, match="no assistant turn"):
        heldout.final_turn_prompt(RECORDS[0]["messages"][:2])


def test_answer_of_reads_final_answer_calls_and_keeps_anything_else_as_text():
    assert heldout.answer_of(format_final("42 km")) == "42 km"
    assert heldout.answer_of('{"name": "final_answer", "arguments": {"answer": 7}}') == "7"
    other = format_call("calculator", {"expression": "6 * 7"})
    assert heldout.answer_of(other) == other
    assert heldout.answer_of("  The answer is 42.\n") == "The answer is 42."


def scripted(replies_by_turn: dict[str, list[str]]):
    """A stand-in for generate_replies: first-call prompts end with the user, final ones not."""
    def generate(model, tokenizer, prompts, *args, **kwargs):
        turn = "first" if prompts[0][-1]["role"] == "user" else "final"
        return replies_by_turn[turn][: len(prompts)]
    return generate


def test_a_model_that_replays_the_gold_turns_scores_one_and_a_wrong_one_zero(
    tokenizer, monkeypatch
):
    model = ft.tiny_causal_lm(len(tokenizer))
    gold_first = [r["messages"][2]["content"] for r in RECORDS]
    gold_final = [r["messages"][4]["content"] for r in RECORDS]
    monkeypatch.setattr(ft, "generate_replies",
                        scripted({"first": gold_first, "final": gold_final}))
    rows = heldout.evaluate_heldout(model, tokenizer, RECORDS)
    assert [r["exact_match"] for r in rows] == [1, 1, 1, 1]
    assert [r["answer_f1"] for r in rows] == [1.0] * 4
    assert [r["answer"] for r in rows] == [r["answer"] for r in RECORDS]

    wrong_first = [format_call("calculator", {"expression": "1 + 1"}), "not json", "", "{}"]
    wrong_final = [format_final("I do not know"), "blah", "", format_final("80 apples")]
    monkeypatch.setattr(ft, "generate_replies", scripted({"first": wrong_first,
                                                           "final": wrong_final}))
    rows = heldout.evaluate_heldout(model, tokenizer, RECORDS)
    assert [r["exact_match"] for r in rows] == [0, 0, 0, 0]
    # only the last shares a token with its gold answer "80": P = 1/2, R = 1/1, F1 = 2/3
    assert [r["answer_f1"] for r in rows] == pytest.approx([0.0, 0.0, 0.0, 2 / 3])
    assert [r["answer"] for r in rows] == ["I do not know", "blah", "", "80 apples"]


def test_row_nll_reproduces_the_batched_assistant_perplexity_of_chapter_5(tokenizer):
    model = ft.tiny_causal_lm(len(tokenizer), seed=3).eval()
    rows = heldout.evaluate_heldout(model, tokenizer, RECORDS, max_new_tokens=4)
    reference = ft.assistant_perplexity(model, tokenizer, RECORDS, batch_size=4)
    assert sum(r["tokens"] for r in rows) == reference["tokens"]
    summary = heldout.summarize(rows, n=50)
    assert summary["perplexity"]["value"] == pytest.approx(reference["perplexity"], rel=1e-5)


def test_summarize_hand_computed_values_and_intervals_around_them():
    rows = [{"exact_match": e, "answer_f1": f, "nll": nll, "tokens": t}
            for e, f, nll, t in [(1, 1.0, 2.0, 10), (0, 0.5, 6.0, 10), (1, 1.0, 1.0, 20),
                                 (1, 0.0, 3.0, 10)]]
    summary = heldout.summarize(rows, n=200, seed=1)
    assert summary["exact_match"]["value"] == 0.75
    assert summary["answer_f1"]["value"] == 0.625
    assert summary["perplexity"]["value"] == pytest.approx(math.exp(12 / 50))
    for name, s in summary.items():
        assert s["low"] <= s["value"] <= s["high"], name
    assert summary["exact_match"]["low"] >= 0 and summary["exact_match"]["high"] <= 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 20), st.integers(1, 50)), min_size=1, max_size=12))
def test_corpus_perplexity_lies_between_the_rows_perplexities(pairs):
    rows = [{"exact_match": 0, "answer_f1": 0.0, "nll": nll * t, "tokens": t} for nll, t in pairs]
    value = heldout.summarize(rows, n=2)["perplexity"]["value"]
    per_row = [math.exp(nll) for nll, _ in pairs]
    assert min(per_row) * (1 - 1e-9) <= value <= max(per_row) * (1 + 1e-9)


def test_bad_inputs_say_what_was_expected(tokenizer):
    with pytest.raises(ValueError, match="records is empty"):
        heldout.evaluate_heldout(None, tokenizer, [])
    with pytest.raises(ValueError, match="'messages' and 'answer'"):
        heldout.evaluate_heldout(None, tokenizer, [{"messages": []}])
    with pytest.raises(ValueError, match="rows is empty"):
        heldout.summarize([])
    with pytest.raises(ValueError, match=r"rows lack \['nll', 'tokens'\]"):
        heldout.summarize([{"exact_match": 1, "answer_f1": 1.0}])


def test_rerunning_one_model_keeps_the_others_only_from_a_matching_file(tmp_path, load_script):
    script = load_script("scripts/evaluate_heldout.py")
    path = tmp_path / "heldout.json"
    assert script.kept_models(path, "test", 200, []) == {}
    with pytest.raises(FileNotFoundError, match="cannot be kept"):
        script.kept_models(path, "test", 200, ["base"])
    base = {"seconds": 1.0, "summary": {}, "rows": [{"exact_match": 0}]}
    path.write_text(json.dumps({"split": "test", "conversations": 200,
                                "models": {"base": base, "finetuned": {}}}))
    assert script.kept_models(path, "test", 200, ["base"]) == {"base": base}
    with pytest.raises(ValueError, match="holds 200 conversations of split 'test', not 50"):
        script.kept_models(path, "test", 50, ["base"])
    with pytest.raises(ValueError, match="not 200 of 'validation'"):
        script.kept_models(path, "validation", 200, ["base"])
