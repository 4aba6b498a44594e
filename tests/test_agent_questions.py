"""Which questions the agent takes: check_question, with hand cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.agent.questions import (
    MAX_QUESTION_CHARS,
    QuestionError,
    check_question,
    script_of,
)


@pytest.mark.parametrize("question", [
    "What is 12 * 7?", "12*7", "  5 miles in km?  ", "How many µm in 2 mm?",
    "What is 2π to three decimals?", "Who founded Hugging Face, and when?", "Zürich to Genève?",
    "(12 + 8) / 4", "x" * MAX_QUESTION_CHARS, "what is 三加五等于几",  # half Latin is enough
])
def test_questions_a_reader_types_are_taken_as_they_are(question):
    assert check_question(question) == question.strip()


@pytest.mark.parametrize(("question", "message"), [
    ("", "the question is empty: type a question, e.g. What is 12 * 7?"),
    (" \t\n ", "the question is empty"),
    ("x" * 20_000, "the question is 20,000 characters long; the agent reads at most 1,000: "
                   "ask one short question at a time"),
    ("三加五等于几", "the question is written in CJK script (6 of its 6 letters); the agent's "
                  "model reads English only: ask in English"),
    ("Сколько будет 3 + 5?", "the question is written in Cyrillic script (12 of its 12 letters)"),
    ("ما هو 3 + 5؟", "the question is written in Arabic script"),
    ("is 三加五等于几", "the question is written in CJK script (6 of its 8 letters)"),
])
def test_bad_questions_are_refused_with_a_message_that_says_why(question, message):
    with pytest.raises(QuestionError) as refused:
        check_question(question)
    assert str(refused.value).startswith(message)
    assert question.strip()[:50] not in str(refused.value) or not question.strip()


def test_a_question_error_is_a_value_error_and_a_non_string_a_type_error():
    assert issubclass(QuestionError, ValueError)
    with pytest.raises(TypeError, match="a question is a string, got int"):
        check_question(84)


def test_scripts_are_named_by_unicode():
    assert [script_of(c) for c in "aé中Жπ"] == ["LATIN", "LATIN", "CJK", "CYRILLIC", "GREEK"]


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=MAX_QUESTION_CHARS))
def test_any_ascii_question_of_allowed_length_is_taken_unless_blank(question):
    if question.strip():
        assert check_question(question) == question.strip()
    else:
        with pytest.raises(QuestionError, match="empty"):
            check_question(question)


@given(st.text(min_size=1, max_size=60).filter(str.strip))
def test_the_check_is_decided_by_length_blankness_and_letters_only(question):
    """Whatever the text, the check either returns it stripped or raises QuestionError; digits,
    spaces and punctuation added around a question that is not blank never change a refusal into
    a pass."""
    try:
        taken = check_question(question)
    except QuestionError:
        with pytest.raises(QuestionError, match="script"):
            check_question(f" 12 + 7 = ? {question} !")
    else:
        assert taken == question.strip()
