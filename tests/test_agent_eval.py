"""Evaluating agents, and the smolagents bridge: hand-computed reports, tolerant answer checks."""

from __future__ import annotations

import json
import statistics

import pytest
import smolagents
import torch
from hypothesis import given
from hypothesis import strategies as st

from companion import finetune
from companion.agent import (
    Agent,
    Memory,
    ScriptedLLM,
    TransformersLLM,
    build_agent,
    build_default_agent,
    calculator_tool,
    default_tools,
    evaluate_agent,
    unit_converter_tool,
)
from companion.agent.build import CONFIGURATIONS, AgentConfig, assemble_agent
from companion.agent.evaluation import answer_matches, normalize
from companion.agent.lookups import knowledge_base_names
from companion.agent.smolagents_bridge import (
    LocalModel,
    SmolagentsRunner,
    export_tool,
    tool_spec,
)
from companion.agent.tools import format_number
from companion.toolcall import format_call


@pytest.mark.parametrize(
    ("predicted", "expected", "ok"),
    [
        ("84", "84", True),
        ("The answer is 84.", "84", True),
        ("12 * 7 = 84", "84", True),  # the last number counts
        ("84 is not 12 * 7", "84", False),
        ("8.0467 km", "8.04672", True),  # within 1%
        ("8.2 km", "8.04672", False),
        ("1,234,567", "1234567", True),
        ("-40", "-40", True),
        ("no number here", "84", False),
        ("Ashish Vaswani et al.", "Vaswani", True),
        ("vaswani", "Vaswani", True),
        ("Vaswaniana", "Vaswani", False),  # whole words only
        ("Hugging Face's transformers", "hugging face", True),
        ("Zürich", "Zurich", True),
        ("Google Brain", "Google Research", False),
        ("748.14 cups", "748.1352523 cup", True),  # a number with a unit is a number
        ("775,000 mL", "775000 mL", True),
        ("The year was 2017", "2017", True),
        ("2023", "2018", False),  # a whole number must round to the gold: within 1% is not enough
        ("273", "272", False),
        ("6169.999998", "6170", True),  # a float a tool computed, rounding to the gold
        ("-40.2", "-40", True),
        ("1,234,568", "1,234,567", False),
        ("2.1e3", "2100", True),
    ],
)
def test_answer_check_is_tolerant_for_numbers_and_names(predicted, expected, ok):
    assert answer_matches(predicted, expected) is ok


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda x: abs(x) > 1e-3))
def test_a_number_matches_its_canonical_text_and_not_a_value_five_percent_off(x):
    assert answer_matches(f"It is {format_number(x)}.", format_number(x))
    off = x * 1.05 + (1 if x > 0 else -1)  # 5% and at least 1 away: wrong under either rule
    assert not answer_matches(format_number(off), format_number(x))


@given(st.integers(-10**12, 10**12), st.integers(1, 10**6))
def test_a_whole_number_matches_only_what_rounds_to_it(n, k):
    assert answer_matches(f"{n}.4", str(n)) and answer_matches(f"about {n:,}", str(n))
    assert not answer_matches(str(n + k), str(n)) and not answer_matches(str(n - k), str(n))


def test_answer_words_are_normalised_without_case_accents_or_punctuation():
    assert normalize("  Vaswani, A.  ") == "vaswani a"
    assert normalize("Zürich") == "zurich" and normalize("GPT-2") == "gpt 2"


TASKS = [
    {"id": "a", "task": "What is 12 times 7?", "answer": "84"},
    {"id": "b", "task": "What is 2 to the 10th?", "answer": "1024"},
    {"id": "c", "task": "Convert 0 celsius to fahrenheit.", "answer": "32"},
]


class _ScriptedAgents:
    """One scripted agent per task: a is right in 2 steps, b wrong in 1, c needs 3 (1 invalid)."""

    def __init__(self):
        self.scripts = {
            "What is 12 times 7?": [("calculator", {"expression": "12 * 7"}),
                                    ("final_answer", {"answer": "84"})],
            "What is 2 to the 10th?": [("final_answer", {"answer": "1000"})],
            "Convert 0 celsius to fahrenheit.": [
                "not json",
                ("convert_units", {"value": 0, "from_unit": "celsius", "to_unit": "fahrenheit"}),
                ("final_answer", {"answer": "32 °F"}),
            ],
        }

    def run(self, task):
        tools = [calculator_tool(), unit_converter_tool()]
        return Agent(ScriptedLLM(self.scripts[task]), tools).run(task)


def test_evaluation_report_matches_hand_computed_numbers():
    report = evaluate_agent(_ScriptedAgents(), TASKS)
    assert report.n == 3
    assert report.success_rate == pytest.approx(2 / 3)
    assert report.mean_steps == pytest.approx((2 + 1 + 3) / 3)
    assert report.tool_call_validity == pytest.approx(5 / 6)
    seconds = report.table["seconds"].tolist()
    assert report.latency_median_s == pytest.approx(statistics.median(seconds))
    assert report.latency_mean_s == pytest.approx(statistics.fmean(seconds))
    assert report.table["success"].tolist() == [True, False, True]
    assert report.table["tools"].tolist()[2] == "? > convert_units > final_answer"
    assert report.table["confidence"].isna().all()  # a scripted model reports no probabilities
    assert set(report.summary()) >= {"success_rate", "mean_steps", "tool_call_validity"}


def test_a_run_that_never_answers_is_a_failure_even_if_a_step_shows_the_number():
    class NeverAnswers:
        def run(self, task):
            return Agent(ScriptedLLM([format_call("calculator", {"expression": "12 * 7"})]),
                         [calculator_tool()], max_steps=1).run(task)

    report = evaluate_agent(NeverAnswers(), TASKS[:1])
    assert report.success_rate == 0.0
    assert report.table["stopped_because"].tolist() == ["max_steps"]


def test_evaluation_rejects_bad_task_lists():
    with pytest.raises(ValueError, match="at least one"):
        evaluate_agent(_ScriptedAgents(), [])
    with pytest.raises(ValueError, match="'task'"):
        evaluate_agent(_ScriptedAgents(), [{"question": "x"}])


def test_exported_tools_behave_like_ours_inside_smolagents():
    for ours in default_tools():
        theirs = export_tool(ours)
        assert isinstance(theirs, smolagents.Tool)
        assert (theirs.name, theirs.description) == (ours.name, ours.description)
        assert set(theirs.inputs) == set(ours.parameters["properties"])
        assert tool_spec(theirs)["parameters"]["required"] == ours.parameters["required"]
    calc = export_tool(calculator_tool())
    assert calc(expression="12 * 7") == "84"
    assert calc(expression=12).startswith("Error: ")


def test_tool_calling_agent_runs_our_tools_through_the_model_wrapper():
    llm = ScriptedLLM([("calculator", {"expression": "12 * 7"}),
                       ("final_answer", {"answer": "84"})])
    agent = smolagents.ToolCallingAgent(
        tools=[export_tool(calculator_tool())], model=LocalModel(llm), max_steps=3,
        verbosity_level=0,
    )
    assert str(agent.run("What is 12 times 7?")) == "84"
    roles = [m["role"] for m in llm.seen[1]]
    assert roles[:2] == ["system", "user"] and "tool-call" not in roles
    assert "84" in llm.seen[1][-1]["content"]  # the observation came back


def test_smolagents_runs_are_scored_like_ours():
    llm = ScriptedLLM(["no json here", ("calculator", {"expression": "12 * 7"}),
                       ("final_answer", {"answer": "84"})])
    agent = smolagents.ToolCallingAgent(
        tools=[export_tool(calculator_tool())], model=LocalModel(llm), max_steps=4,
        verbosity_level=-1,
    )
    result = SmolagentsRunner(agent).run("What is 12 times 7?")
    assert (result.answer, result.stopped_because) == ("84", "final_answer")
    assert [s.error_kind for s in result.steps] == ["parse", None, None]
    assert [s.call.name if s.call else None for s in result.steps] == [
        None, "calculator", "final_answer"]
    assert result.steps[1].observation == "84"


def test_default_agent_is_the_finetuned_smollm2_with_constraints_and_no_loop_checks():
    agent = build_default_agent()
    assert isinstance(agent.llm, TransformersLLM) and agent.llm.constrained
    assert not agent.quantity_check and agent.lookup_names == () and agent.max_steps == 4
    assert list(agent.tools) == [t.name for t in default_tools()]
    assert type(agent.llm.model).__name__ == "LlamaForCausalLM"
    stacked, _ = finetune.load_finetuned(finetune.AGENT_ADAPTERS)
    first_only, _ = finetune.load_finetuned()
    name = "model.layers.0.self_attn.q_proj.weight"
    weight = agent.llm.model.state_dict()[name]
    assert torch.equal(weight, stacked.state_dict()[name])  # both adapters merged, in order
    assert not torch.equal(weight, first_only.state_dict()[name])
    checked = build_default_agent(quantity_check=True, lookup_check=True)
    assert checked.quantity_check and checked.lookup_names == knowledge_base_names()


@pytest.mark.parametrize(("name", "quantity", "lookup", "memory"), [
    ("default", False, False, False),
    ("quantity_check", True, False, False),
    ("with_checks", True, True, False),
    ("memory", False, False, True),
])
def test_each_configuration_has_the_loop_its_name_says(smollm2, name, quantity, lookup, memory):
    """Stored results are only comparable if each configuration's loop is the one the chapter
    describes."""
    model, tokenizer = smollm2
    config = CONFIGURATIONS[name]
    agent = assemble_agent(config, model, tokenizer, Memory() if config.memory else None)
    assert agent.quantity_check is quantity and (agent.memory is not None) is memory
    assert agent.lookup_names == (knowledge_base_names() if lookup else ())
    assert agent.llm.constrained and config.finetuned is True


def test_configurations_differ_from_the_default_in_what_their_names_say():
    default = CONFIGURATIONS["default"]
    assert default == AgentConfig()  # what build_default_agent() builds
    assert CONFIGURATIONS["base"] == AgentConfig(finetuned=False, notation=False)
    assert CONFIGURATIONS["model_only"] == AgentConfig(notation=False)
    model_comparisons = ("base", "base_unconstrained", "finetuned_unconstrained", "model_only")
    assert not any(CONFIGURATIONS[name].notation for name in model_comparisons)
    defaults_plus = ("quantity_check", "with_checks", "memory")
    assert all(CONFIGURATIONS[name].notation for name in defaults_plus)
    assert not CONFIGURATIONS["base_unconstrained"].constrained
    assert not CONFIGURATIONS["finetuned_unconstrained"].constrained
    assert CONFIGURATIONS["smolagents"].smolagents
    with pytest.raises(ValueError, match="unknown configuration 'fastest'"):
        build_agent("fastest")


def test_the_introduction_quotes_the_stored_agent_results():
    """book/intro.md states the default agent's rates on the reader set and the test split; they
    must be the stored measurements."""
    root = finetune.REPO_ROOT
    stored = json.loads((root / "data/results/agent_eval.json").read_text())
    reader, test = stored["reader"]["default"], stored["test"]["default"]
    intro = " ".join((root / "book/intro.md").read_text(encoding="utf-8").split())
    assert f"{100 * reader['success_rate']:.1f}% of the {reader['n']} questions" in intro
    assert f"median of {reader['latency_median_s']:.1f} s per question" in intro
    assert f"{100 * test['success_rate']:.1f}% of {test['n']} synthetic test tasks" in intro


def test_measure_confidence_stores_outcome_and_confidence_per_task(load_script, tmp_path,
                                                                   monkeypatch, sure_llm):
    script = load_script("scripts/measure_confidence.py")
    tasks = [{"id": "t1", "task": "What is 12 times 7?", "answer": "84"}]
    monkeypatch.setattr(script, "RESULTS", tmp_path / "agent_confidence.json")
    monkeypatch.setattr(script, "load_split", lambda split: tasks)
    monkeypatch.setattr(script, "build_default_agent", lambda finetuned: Agent(
        sure_llm([("calculator", {"expression": "12 * 7"}), ("final_answer", {"answer": "84"})],
                 [0.6, 0.7]),
        [calculator_tool()]))
    script.main(["test"])
    stored = json.loads((tmp_path / "agent_confidence.json").read_text())
    assert stored["test"]["tasks"] == [{"id": "t1", "success": True, "confidence": 0.6}]
    assert stored["test"]["success_rate"] == 1.0 and "validation" not in stored
