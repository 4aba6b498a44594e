"""The tool-use data set: the grammar, spoken numbers, frame schema, and the generated files."""

import json
import random
import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.agent.tools import calculate, convert_units, format_number
from companion.tooluse import grammar, load_grammar, load_split
from companion.tooluse.frames import FrameError, frame_from_dict, lexicon_key
from companion.tooluse.generate import generate_split, template_pool
from companion.tooluse.splits import FILES
from companion.tooluse.spoken import number_words, say_number, with_separators


# ---- the grammar
def test_choose_resolves_nested_and_empty_alternatives():
    forms = {grammar.realise("[a [big|small] one|it][!|]", {}, random.Random(s))
             for s in range(200)}
    assert forms == {"a big one!", "a small one!", "it!", "a big one", "a small one", "it"}


def test_count_forms_multiplies_choices_and_adds_alternatives():
    assert grammar.count_forms("[a|b] [c|d|e]") == 6
    assert grammar.count_forms("[a [x|y]|b]") == 3
    assert grammar.count_forms("no choice {x}") == 1


@pytest.mark.parametrize("bad", ["[a|b", "a]b", "[[a]"])
def test_unbalanced_brackets_are_refused(bad):
    with pytest.raises(grammar.GrammarError, match="unbalanced"):
        grammar.choose(bad, random.Random(0))


def test_a_missing_slot_names_itself():
    with pytest.raises(grammar.GrammarError, match=r"\{b\}"):
        grammar.fill("{a} and {b}", {"a": 1})


def test_tidy_removes_spaces_left_by_empty_choices():
    assert grammar.realise("What is 3 [please|] ?", {}, random.Random(1)) in {
        "What is 3 please?", "What is 3?"}


# ---- spoken numbers
@pytest.mark.parametrize(("n", "words"), [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty-two"),
    (100, "one hundred"), (342, "three hundred forty-two"), (1000, "one thousand"),
    (12050, "twelve thousand fifty"), (999999, "nine hundred ninety-nine thousand nine hundred "
                                                "ninety-nine")])
def test_number_words_by_hand(n, words):
    assert number_words(n) == words


@given(st.integers(min_value=0, max_value=10**12)
       | st.floats(min_value=0, max_value=1e12).map(lambda x: round(x, 2)))
def test_separators_read_back_as_the_same_number(value):
    written = with_separators(value)
    assert float(written.replace(",", "")) == float(format_number(value))
    assert re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d+)?", written)


@given(st.integers(min_value=0, max_value=999_999), st.integers(0, 10**6))
def test_say_number_is_digits_separators_or_the_words(n, seed):
    said = say_number(n, random.Random(seed), words=0.5)
    assert said in {str(n), with_separators(n), number_words(n)}


# ---- the frame schema
LEXICON = {"name": ["Ada"]}


def frame(**changes):
    entry = {"name": "f", "vars": {"a": {"int": [1, 9]}}, "expression": "{a} * 2",
             "templates": ["{name} has {a}"]}
    entry.update(changes)
    return frame_from_dict(entry, LEXICON)


def test_a_good_frame_draws_values_in_range_and_fills_its_expression():
    f = frame()
    values = f.draw_values(random.Random(0))
    assert 1 <= values["a"] <= 9
    assert f.expression_for(values) == f"{values['a']} * 2"


@pytest.mark.parametrize(("changes", "message"), [
    ({"kind": "poem"}, "kind"),
    ({"vars": {"a": {"int": [9, 1]}}}, "int needs"),
    ({"vars": {"a": {"int": [1, 9], "one_of": [1]}}}, "exactly one"),
    ({"expression": "{b} + 1"}, "undefined variables"),
    ({"templates": ["{who} has {a}"]}, "neither a variable nor a lexicon"),
    ({"templates": ["{name} has none"]}, "never states"),
    ({"colour": "red"}, "unknown keys"),
    ({"greater": [["a", "z"]]}, "greater"),
])
def test_frame_schema_errors_name_the_problem(changes, message):
    with pytest.raises(FrameError, match=message):
        frame(**changes)


def test_money_is_never_written_in_words():
    f = frame(templates=["{name} pays ${a}"])
    assert f.variables["a"]["digits"] is True


def test_count_forms_multiplies_by_word_lists_behind_slots():
    assert grammar.count_forms("[a|b] {name} {x}", {"name": 5}) == 10


def test_the_shipped_grammar_loads_and_says_tens_of_thousands_of_things():
    g = load_grammar()
    paths = sum(grammar.count_forms(t) for f in g.frames for t in f.templates)
    sizes = {slot: len(g.lexicon[lexicon_key(slot)]) for f in g.frames for slot in f.lexicon_slots}
    worded = sum(grammar.count_forms(t, sizes) for f in g.frames for t in f.templates)
    assert len(g.frames) >= 80
    assert paths >= 1_000
    assert worded >= 100_000


def test_template_pool_holds_out_the_last_of_three_or_more():
    assert template_pool(["a", "b", "c"], held_out=False) == [0, 1]
    assert template_pool(["a", "b", "c"], held_out=True) == [2]
    assert template_pool(["a", "b"], held_out=False) == [0, 1]
    assert template_pool(["a", "b"], held_out=True) == []


# ---- the generated files
@pytest.fixture(scope="module")
def splits():
    return {s: load_split(s) for s in FILES}


def rerun(call):
    if call["name"] == "calculator":
        return calculate(**call["arguments"])
    if call["name"] == "convert_units":
        return convert_units(**call["arguments"])
    return None


def test_every_observation_is_what_the_tool_returns_now(splits):
    for records in splits.values():
        for r in records[:400]:
            observations = [m["content"] for m in r["messages"] if m["role"] == "tool"]
            for call, seen in zip(r["calls"], observations, strict=True):
                again = rerun(call)
                assert again is None or again == seen, (r["id"], call)


def test_every_conversation_ends_in_its_answer(splits):
    for records in splits.values():
        for r in records:
            final = json.loads(r["messages"][-1]["content"])
            assert final == {"name": "final_answer", "arguments": {"answer": r["answer"]}}


def test_no_question_is_in_two_splits(splits):
    seen = Counter(r["task"] for records in splits.values() for r in records)
    assert max(seen.values()) == 1


def test_held_out_frames_and_templates_never_reach_training(splits):
    g = load_grammar()
    held_frames = {f.name for f in g.frames if f.held_out}
    held_templates = {f"{f.name}/{len(f.templates) - 1}" for f in g.frames
                      if not f.held_out and len(f.templates) >= 3}
    for split in ("train", "validation", "test", "focus"):
        frames = {r["frame"] for r in splits[split]}
        templates = {r["template"] for r in splits[split]}
        assert not frames & held_frames, split
        assert not templates & held_templates, split
    assert {r["frame"] for r in splits["heldout"]} & held_frames


def test_search_queries_copy_the_name_as_the_question_writes_it(splits):
    for r in splits["train"] + splits["focus"]:
        for call in r["calls"]:
            if call["name"] == "search":
                subject = call["arguments"]["query"].rsplit(" ", 1)[0]
                assert subject in r["task"], (r["task"], subject)


def test_generation_is_deterministic_in_its_seed():
    first = generate_split("test", 12, seed=3)
    again = generate_split("test", 12, seed=3)
    other = generate_split("test", 12, seed=4)
    assert first == again
    assert [r["task"] for r in first] != [r["task"] for r in other]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown split"):
        generate_split("dev", 3)
    with pytest.raises(ValueError, match="non-negative"):
        generate_split("test", -1)
    with pytest.raises(ValueError, match="unknown split"):
        load_split("dev")


def test_the_focus_file_follows_its_own_mix(splits):
    """focus.jsonl is drawn with focus_mix.yaml: far more fact chains than train, ids of its own."""
    def chains(records):
        return sum(r["maker"] == "chain" for r in records) / len(records)

    assert chains(splits["focus"]) > 3 * chains(splits["train"])
    assert all(r["id"].startswith("focus-") and r["split"] == "focus" for r in splits["focus"])
