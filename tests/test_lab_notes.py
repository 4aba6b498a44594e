"""The appendix "Lab notes" (book/lab_notes.md) quotes stored measurements; they must be the stored
ones. Numbers whose files have left data/ are stated there as history and are not checked here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from companion.metrics import paired_outcomes, sign_test

ROOT = Path(__file__).resolve().parent.parent


def _pct(result: dict) -> str:
    return f"{100 * result['success_rate']:.1f}%"


def _solved(result: dict) -> dict[str, bool]:
    return {t["id"]: t["success"] for t in result["tasks"]}


@pytest.fixture(scope="module")
def notes() -> str:
    """The page's text with every run of whitespace made one space (quotes may wrap lines)."""
    return " ".join((ROOT / "book/lab_notes.md").read_text(encoding="utf-8").split())


@pytest.fixture(scope="module")
def validation() -> dict:
    return json.loads((ROOT / "data/results/agent_eval_validation.json").read_text())


def test_lab_notes_quote_the_stored_validation_rates(notes, validation):
    v = validation
    quoted = [
        f"scored {_pct(v['chain_stage_v1'])} against {_pct(v['chapter5_alone'])}",
        f"({_pct(v['with_chain_stage'])} against {_pct(v['decision_weight_5'])} for the stage",
        f"against {_pct(v['decision_weight_5']['test'])})",
        f"scored {_pct(v['recipe_seed_1'])} on validation and {_pct(v['recipe_seed_1']['test'])} "
        f"on test, against {_pct(v['with_quantity_check'])}",
        f"scored {_pct(v['chapter5_uncut'])} on validation against the shipped "
        f"{_pct(v['with_quantity_check'])}",
        f"({_pct(v['with_chain_stage'])} to {_pct(v['with_quantity_check'])}, none lost)",
        f"took validation from {_pct(v['with_quantity_check'])} to {_pct(v['with_lookup_check'])}",
        f"lost two ({_pct(v['lookup_check_first'])})",
    ]
    missing = [q for q in quoted if q not in notes]
    assert not missing, f"lab notes do not quote the stored numbers: {missing}"


def test_lab_notes_quote_the_stored_task_by_task_comparison(notes, validation):
    won, lost = paired_outcomes(_solved(validation["decision_weight_5"]),
                                _solved(validation["with_chain_stage"]))
    assert f"won {won} validation tasks and lost {lost}" in notes
    assert f"p = {sign_test(won, lost):.2f}" in notes
    checked_won, checked_lost = paired_outcomes(_solved(validation["with_chain_stage"]),
                                                _solved(validation["with_quantity_check"]))
    assert checked_lost == 0 and "solved all eight" in notes and checked_won == 8


def test_lab_notes_quote_the_stored_confidence_auroc(notes):
    sureness = json.loads((ROOT / "data/results/agent_confidence.json").read_text())
    auroc = {split: roc_auc_score([t["success"] for t in sureness[split]["tasks"]],
                                  [t["confidence"] for t in sureness[split]["tasks"]])
             for split in ("validation", "test")}
    assert (f"AUROC of {auroc['validation']:.2f} on validation and {auroc['test']:.2f} on test"
            in notes)


def test_lab_notes_quote_the_threshold_chosen_on_validation(notes):
    sureness = json.loads((ROOT / "data/results/agent_confidence.json").read_text())
    validation, test = sureness["validation"]["tasks"], sureness["test"]["tasks"]

    def answered(tasks: list[dict], threshold: float) -> list[dict]:
        return [t for t in tasks if t["confidence"] >= threshold]

    # the most accurate threshold on validation among those that answer at least 4 tasks in 5
    candidates = [c for c in {t["confidence"] for t in validation}
                  if len(answered(validation, c)) >= 0.8 * len(validation)]
    threshold = max(candidates, key=lambda c: (
        sum(t["success"] for t in answered(validation, c)) / len(answered(validation, c)), -c))
    kept = answered(test, threshold)
    failures = [t for t in test if not t["success"]]
    before = 100 * sum(t["success"] for t in test) / len(test)
    after = 100 * sum(t["success"] for t in kept) / len(kept)
    assert f"from {before:.0f}% to {after:.0f}%" in notes
    assert f"handing {100 * (1 - len(kept) / len(test)):.0f}% of the test tasks" in notes
    confident = sum(t["confidence"] >= threshold for t in failures)
    assert f"{confident} of the {len(failures)} test failures passed the threshold" in notes


def test_lab_notes_is_in_the_table_of_contents_after_the_glossary():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert toc.index("file: book/glossary") < toc.index("file: book/lab_notes")


def test_lab_notes_quote_what_the_notation_reader_did_on_the_reader_set(notes):
    """The notation reader's share of the reader set, its accuracy there, and the plain calculator
    questions with and without it, recomputed from the stored runs."""
    from companion.agent.notation import read_question

    stored = json.loads((ROOT / "data/results/agent_eval.json").read_text())["reader"]
    rows = [json.loads(line) for line in
            (ROOT / "data/sets/reader_questions.jsonl").read_text().splitlines() if line]
    category = {r["id"]: r["category"] for r in rows}
    default = stored["default"]["tasks"]
    read = [t for t in default if read_question(t["question"]) is not None]
    right = sum(t["success"] for t in read)
    assert f"took {len(read)} of the {len(default)} questions" in notes
    assert f"answered {'all ' + str(right) if right == len(read) else right} right" in notes

    def calculator_rate(config: str) -> float:
        runs = [t for t in stored[config]["tasks"] if category[t["id"]] == "calculator"]
        return 100 * sum(t["success"] for t in runs) / len(runs)

    assert (f"calculator questions rose from {calculator_rate('model_only'):.1f}% to "
            f"{calculator_rate('default'):.1f}%") in notes
    problems = {config: [t["success"] for t in stored[config]["tasks"]
                         if category[t["id"]] == "word_problem"] for config in stored}
    assert (f"went from {sum(problems['model_only'])} to {sum(problems['default'])} of "
            f"{len(problems['default'])}") in notes
    choice = json.loads((ROOT / "data/results/agent_eval_validation.json").read_text())[
        "notation_reader"]["digits_choice"]
    assert (f"won {choice['won']} of the {choice['tasks']} tasks it changes and lost "
            f"{'none' if choice['lost'] == 0 else choice['lost']}") in notes
