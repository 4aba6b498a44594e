"""The agent from a terminal: what ``python -m companion.agent`` prints, and what it refuses."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest

from companion.agent import Agent, Memory, ScriptedLLM, calculator_tool, default_tools
from companion.agent.cli import describe, shorten

CALC = ("calculator", {"expression": "12 * 7"})
FINAL = ("final_answer", {"answer": "84"})


def agent_with(turns, **kwargs) -> Agent:
    return Agent(ScriptedLLM(turns), [calculator_tool()], **kwargs)


def test_the_command_line_prints_answers_confidence_and_flags_unsure_ones(monkeypatch, capsys,
                                                                         sure_llm):
    from companion.agent import cli

    built = []

    def fake_agent(max_steps, memory):
        built.append((max_steps, memory))
        replies = [CALC, FINAL, ("final_answer", {"answer": "7"})]
        return Agent(sure_llm(replies, [0.9, 0.95, 0.4]), default_tools(),
                     Memory() if memory else None, max_steps=max_steps)

    monkeypatch.setattr(cli, "build_default_agent", fake_agent)
    cli.main(["--trace", "--min-confidence", "0.5"],
             stdin=io.StringIO("What is 12 times 7?\nAdd 3 and 4.\n\nnever asked\n"))
    out = capsys.readouterr().out
    asked = [line for line in out.splitlines() if line.startswith("> ")]
    assert len(asked) == 2 and "never asked" not in out  # an empty line ends the session
    assert "1. calculator {'expression': '12 * 7'}\n     -> 84" in out
    assert "answer: 84\nconfidence 0.90, 2 steps" in out
    assert "answer: 7\nconfidence 0.40, 1 step," in out
    assert out.count("unsure:") == 1 and "unsure: confidence 0.40 < 0.50" in out
    assert built == [(4, False)]  # memory only when asked for
    cli.main(["--memory", "--max-steps", "2", "What is 12 times 7?"])
    assert built[1] == (2, True)
    with pytest.raises(SystemExit):
        cli.main(["--min-confidence", "1.5", "What is 12 times 7?"])
    assert "--min-confidence must be between 0 and 1, got 1.5" in capsys.readouterr().err


def test_the_command_line_says_when_a_run_ends_without_an_answer():
    result = agent_with([CALC] * 3, max_steps=2).run("What is 12 times 7?")
    assert describe(result).splitlines() == [
        "no answer: the run stopped on its max_steps budget",
        f"confidence unknown, 2 steps, {result.duration_s:.1f} s",
    ]


def test_the_command_line_refuses_bad_questions_without_loading_a_model(monkeypatch, capsys):
    from companion.agent import cli

    def no_model(max_steps, memory):
        raise AssertionError("the model was loaded for a refused question")

    monkeypatch.setattr(cli, "build_default_agent", no_model)
    long = "What is 1 + 1? " * 1400
    assert cli.main(["", long, "三加五等于几"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "> " and out[1] == (
        "not asked: the question is empty: type a question, e.g. What is 12 * 7?")
    assert out[2] == f"> {shorten(long)}" and len(out[2]) < 120  # not 21,000 characters echoed
    assert out[3] == ("not asked: the question is 20,999 characters long; the agent reads at "
                      "most 1,000: ask one short question at a time")
    assert out[5] == ("not asked: the question is written in CJK script (6 of its 6 letters); "
                      "the agent's model reads English only: ask in English")


def test_a_refused_run_is_described_by_its_reason():
    result = agent_with([FINAL]).run("")
    assert describe(result) == ("not asked: the question is empty: type a question, "
                                "e.g. What is 12 * 7?")


def test_shorten_keeps_short_text_and_says_how_long_a_cut_one_was():
    assert shorten("  What is\n12 * 7? ") == "What is 12 * 7?"
    assert shorten("a" * 100, limit=10) == "aaaaaaaaaa... (100 characters)"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell timing")
def test_python_m_companion_agent_refuses_in_a_fresh_process_without_torch():
    """The refusal needs no model and no torch: a fresh interpreter answers in well under the
    time the model takes to load, and never imports torch."""
    code = ("import sys, runpy; sys.argv = ['companion.agent', '三加五等于几']\n"
            "try:\n    runpy.run_module('companion.agent', run_name='__main__')\n"
            "except SystemExit as exit:\n    print('exit', exit.code, 'torch' in sys.modules)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=60)
    assert done.stdout.splitlines()[-1] == "exit 1 False", done.stderr
    assert "not asked: the question is written in CJK script" in done.stdout
    assert time.perf_counter() - start < 20



def test_a_notation_question_is_answered_without_loading_the_model(monkeypatch, capsys):
    """The terminal's agent loads its model lazily: a question the notation reader answers never
    loads it, and the first question that needs the model loads it once."""
    from companion.agent import build, cli

    loads = []

    def counted_load(finetuned=None):
        loads.append(finetuned)
        raise RuntimeError("stop here: the model was asked for")

    monkeypatch.setattr(build, "load_agent_model", counted_load)
    assert cli.main(["whats 5,000 divided by 8", "how many cups in a quart"]) == 0
    out = capsys.readouterr().out
    assert "answer: 625\nread as notation, no model, 2 steps" in out and "answer: 4 cup" in out
    assert loads == []
    with pytest.raises(RuntimeError, match="the model was asked for"):
        cli.main(["I split an $84 bill among four friends"])
    assert loads == [None]
