"""Agent benchmarks (chapter 7): the cost of constrained decoding, and the full agent evaluation.

``run()`` (for ``benchmarks/run.py``, about a minute) measures what the tool-call logits processor
adds per generated token, against one SmolLM2 decoding step measured in the same run, the median
seconds per test task of the book's default agent (its model: every question goes to it) with and
without the kept prefix cache and jump-forward decoding of :class:`companion.agent.TransformersLLM`,
the notation reader's time per reader question against that model's time per task, and the
search tool's top-1
accuracy on the knowledge base's names, spelt right and misspelt, with and without spelling
correction of the query.

``python benchmarks/bench_agent.py evaluate [--set test] [--limit N]`` runs the configurations of
chapter 7 (:data:`companion.agent.build.CONFIGURATIONS`) on one question set and stores each report
in ``data/results/agent_eval.json`` as ``{set: {configuration: report}}``, which the chapter
reads. The sets: ``test`` (the tool-use data set's test split), ``heldout`` (its split of frames
never seen in training) and ``reader`` (the hand-written reader questions); ``--tasks FILE`` names
another JSONL file. Configurations that need the adapters are skipped, and say so in the file,
when they are not installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from companion import paths
from companion.agent.build import CONFIGURATIONS
from companion.paths import TOOLUSE_DATA

RESULTS = paths.RESULTS / "agent_eval.json"
#: question sets by name: the JSONL file each is read from
SETS = {
    "validation": TOOLUSE_DATA / "validation.jsonl",
    "test": TOOLUSE_DATA / "test.jsonl",
    "heldout": TOOLUSE_DATA / "heldout.jsonl",
    "reader": paths.SETS / "reader_questions.jsonl",
}


def _processor_ms_per_token(tokenizer, steps: int = 60) -> float:
    """Mean milliseconds the processor spends per token on a random walk through the grammar."""
    from companion.agent.constrained import ToolCallGrammar, ToolCallLogitsProcessor, token_table
    from companion.agent.tools import default_tools

    grammar = ToolCallGrammar([t.spec() for t in default_tools()], max_string_chars=48)
    table = token_table(tokenizer)
    generator = torch.Generator().manual_seed(0)
    total, count = 0.0, 0
    while count < steps:
        proc = ToolCallLogitsProcessor(grammar, table, 0, [2], max_new_tokens=96)
        ids: list[int] = []
        for _ in range(96):
            scores = torch.randn(1, len(tokenizer), generator=generator)
            start = time.perf_counter()
            out = proc(torch.tensor([ids], dtype=torch.long).reshape(1, -1), scores)
            total += time.perf_counter() - start
            count += 1
            token = int(out.argmax())
            if token == 2:
                break
            ids.append(token)
    return 1e3 * total / count


@torch.no_grad()
def _decode_ms_per_token(model, tokenizer, steps: int = 20) -> float:
    """Median milliseconds of one SmolLM2 decoding step with a KV cache (prompt of ~200 tokens)."""
    ids = tokenizer("word " * 200, return_tensors="pt")["input_ids"]
    out = model(ids, use_cache=True)
    cache, token = out.cache, out.logits[:, -1:].argmax(-1)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        out = model(token, cache=cache, use_cache=True)
        times.append(time.perf_counter() - start)
        cache, token = out.cache, out.logits[:, -1:].argmax(-1)
    return 1e3 * statistics.median(times)


def _median_task_seconds(agent, tasks: list[dict], reuse_prefix: bool,
                         jump_forward: bool = True) -> float:
    """Median seconds per task of ``evaluate_agent`` over ``tasks``, after one warm-up task."""
    from companion.agent import evaluate_agent

    agent.llm.reuse_prefix = reuse_prefix
    agent.llm.jump_forward = jump_forward
    agent.llm.reset()
    agent.run(tasks[0]["question"])
    return evaluate_agent(agent, tasks[1:]).latency_median_s


def _retrieval_rows(misspellings: int = 5, seed: int = 1) -> list[dict]:
    """Search top-1 on the knowledge base's names, spelt right and misspelt (``misspellings``
    seeded variants each), with the query embedded as typed and with its spelling corrected."""
    import copy

    from companion.agent.retrieval import (
        default_index,
        load_knowledge_base,
        name_queries,
        top1_accuracy,
    )

    passages = load_knowledge_base()
    sets = {"names": name_queries(passages),
            "misspelt names": name_queries(passages, misspellings, seed)}
    mixed = default_index()
    dense = copy.copy(mixed)
    dense.spelling = False
    rows = []
    for label, queries in sets.items():
        before, after = top1_accuracy(dense, queries), top1_accuracy(mixed, queries)
        rows += [
            {"name": f"search: top-1, {label} ({len(queries)}), dense only", "value": before,
             "unit": "share", "reference": "-", "ratio": None},
            {"name": f"search: top-1, {label} ({len(queries)}), spelling corrected",
             "value": after, "unit": "share", "reference": "dense only",
             "ratio": after / before if before else None},
        ]
    return rows


def _notation_ms() -> tuple[float, float]:
    """Mean milliseconds of the notation reader per reader question (after one warm-up pass that
    loads the lexicon), and the share of those questions it takes."""
    from companion.agent.notation import read_question

    questions = [t["question"] for t in load_tasks("reader")]
    taken = sum(read_question(q) is not None for q in questions)
    start = time.perf_counter()
    for question in questions:
        read_question(question)
    return 1e3 * (time.perf_counter() - start) / len(questions), taken / len(questions)


def run() -> list[dict]:
    """Per-token cost of the tool-call constraint, relative to a SmolLM2 decoding step; seconds
    per test task; search top-1 on misspelt names."""
    from companion.agent.constrained import token_table
    from companion.models import load_smollm2

    model, tokenizer = load_smollm2()
    start = time.perf_counter()
    token_table(tokenizer)
    table_s = time.perf_counter() - start
    proc_ms = _processor_ms_per_token(tokenizer)
    step_ms = _decode_ms_per_token(model, tokenizer)
    from companion.agent import build_default_agent

    agent, tasks = build_default_agent(notation=False), load_tasks("test", 7)  # model timings
    cold_s = _median_task_seconds(agent, tasks, reuse_prefix=False, jump_forward=False)
    kept_s = _median_task_seconds(agent, tasks, reuse_prefix=True, jump_forward=False)
    jump_s = _median_task_seconds(agent, tasks, reuse_prefix=True, jump_forward=True)
    notation_ms, taken = _notation_ms()
    return [
        {"name": "agent: decode step, SmolLM2-135M", "value": step_ms, "unit": "ms/token",
         "reference": "-", "ratio": None},
        {"name": "agent: tool-call constraint", "value": proc_ms, "unit": "ms/token",
         "reference": "SmolLM2 decode step", "ratio": proc_ms / step_ms},
        {"name": "agent: token table (once per tokenizer)", "value": table_s, "unit": "s",
         "reference": "-", "ratio": None},
        {"name": "agent: test task, prompt re-read each reply", "value": cold_s, "unit": "s",
         "reference": "-", "ratio": None},
        {"name": "agent: test task, kept prefix cache", "value": kept_s, "unit": "s",
         "reference": "prompt re-read each reply", "ratio": kept_s / cold_s},
        {"name": "agent: test task, kept cache + jump-forward", "value": jump_s, "unit": "s",
         "reference": "kept prefix cache", "ratio": jump_s / kept_s},
        {"name": "agent: notation reader, one reader question", "value": notation_ms,
         "unit": "ms", "reference": "test task, kept cache + jump-forward",
         "ratio": notation_ms / (1e3 * jump_s)},
        {"name": "agent: reader questions the notation reader takes", "value": taken,
         "unit": "share", "reference": "-", "ratio": None},
        *_retrieval_rows(),
    ]


def load_tasks(split: str = "test", limit: int | None = None, path: Path | None = None
               ) -> list[dict]:
    """The questions of one set (id, question, answer), in file order; a row's question is its
    ``question`` or, in the tool-use data set, its ``task``."""
    path = SETS[split] if path is None else Path(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    tasks = [{"id": r["id"], "question": r.get("question", r.get("task")), "answer": r["answer"]}
             for r in rows]
    return tasks[:limit] if limit else tasks


def evaluate(split: str, configs: list[str], limit: int | None, time_budget_s: float = 60.0,
             path: Path | None = None) -> dict:
    """Evaluate each configuration on one question set; skip those whose model is missing."""
    from companion.agent import build_agent, evaluate_agent

    tasks = load_tasks(split, limit, path)
    results: dict = {}
    for config in configs:
        try:
            agent = build_agent(config, time_budget_s=time_budget_s)
        except ValueError as err:  # the adapters are not installed
            results[config] = {"skipped": str(err)}
            _store(split, config, results[config])
            continue
        start = time.perf_counter()
        report = evaluate_agent(
            agent, tasks,
            on_result=lambda t, r, c=config: print(
                f"{c} {t['id']} {r.stopped_because} {r.answer!r}", file=sys.stderr
            ),
        )
        table = report.table.rename(columns={"task": "question"}).drop(columns=["confidence"])
        results[config] = {
            **report.summary(),
            "seconds": time.perf_counter() - start,
            "time_budget_s": time_budget_s,
            "tasks": table.to_dict(orient="records"),
        }
        _store(split, config, results[config])
    return results


def _store(split: str, config: str, result: dict) -> None:
    """Merge one configuration's report on one set into the results file (re-read first, so that
    runs in parallel processes keep each other's), written atomically, sets and configurations
    in the chapter's order."""
    from companion.files import write_json_atomically

    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    stored.setdefault(split, {})[config] = json.loads(json.dumps(result, default=str))
    def ordered(mapping: dict, first) -> dict:
        return {k: mapping[k] for k in [*first, *sorted(set(mapping) - set(first))] if k in mapping}

    write_json_atomically(RESULTS, {s: ordered(configs, CONFIGURATIONS)
                                    for s, configs in ordered(stored, SETS).items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["evaluate", "speed"])
    parser.add_argument("--set", default="test", choices=list(SETS), help="question set")
    parser.add_argument("--tasks", type=Path, default=None, help="JSONL file instead of the set's")
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--time-budget", type=float, default=60.0, help="seconds per question")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGURATIONS),
                        choices=list(CONFIGURATIONS))
    args = parser.parse_args()
    if args.command == "speed":
        for row in run():
            print(row)
    else:
        evaluate(args.set, args.configs, args.limit, args.time_budget, args.tasks)


if __name__ == "__main__":
    main()
