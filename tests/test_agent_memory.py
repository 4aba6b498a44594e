"""The agent's memory: what it keeps, what it recalls, and what the model is shown."""

from __future__ import annotations

import json

import pytest

from companion.agent import Agent, Memory, ScriptedLLM, calculator_tool, unit_converter_tool
from companion.agent.memory import keyword_similarity

CALC = ("calculator", {"expression": "12 * 7"})
FINAL = ("final_answer", {"answer": "84"})


def agent_with(turns, **kwargs) -> Agent:
    return Agent(ScriptedLLM(turns), [calculator_tool(), unit_converter_tool()], **kwargs)


def test_keyword_similarity_is_the_cosine_of_word_counts():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    a, b = "What is 12 times 7?", "what is 12 plus 7 plus 7"
    counts = CountVectorizer(token_pattern=r"[a-z0-9]+").fit_transform([a.lower(), b.lower()])
    assert keyword_similarity(a, b) == pytest.approx(cosine_similarity(counts)[0, 1])
    assert keyword_similarity(a, "nothing shared") == 0.0


def test_retrieval_memory_offers_similar_past_results_to_the_model():
    memory = Memory(conversation=False)
    agent = agent_with([CALC, FINAL, ("final_answer", {"answer": "84"})], memory=memory)
    agent.run("What is 12 times 7?")
    records = [(r.task, r.answer, r.steps) for r in memory.records]
    assert records == [("What is 12 times 7?", "84", 2)]
    agent.run("What is 12 times 7 again?")
    task_seen = agent.llm.seen[2][-1]["content"]
    assert task_seen.endswith("Earlier results that may help:\n- What is 12 times 7? -> 84")
    assert memory.note("Convert miles to km") == ""  # nothing similar: nothing offered
    json.dumps(memory.to_dict())  # plain data


def test_conversation_memory_replays_earlier_exchanges():
    memory = Memory(retrieval=False, window=1)
    agent = agent_with([FINAL, ("final_answer", {"answer": "94"})], memory=memory)
    agent.run("What is 12 times 7?")
    agent.run("Add 10 to that.")
    seen = agent.llm.seen[1]
    assert [m["role"] for m in seen] == ["system", "user", "assistant", "user"]
    assert seen[1]["content"] == "What is 12 times 7?"
    assert json.loads(seen[2]["content"]) == {"name": "final_answer", "arguments": {"answer": "84"}}
    assert seen[3]["content"] == "Add 10 to that."


def test_a_refused_question_is_not_remembered():
    memory = Memory()
    agent_with([FINAL], memory=memory).run("   ")
    assert memory.records == []
