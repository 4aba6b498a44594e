"""Agent benchmarks (chapter 7): the cost of constrained decoding, and the full agent evaluation.

``run()`` (for ``benchmarks/run.py``, about a minute) measures what the tool-call logits processor
adds per generated token, against one SmolLM2 decoding step measured in the same run, and the
median seconds per test task of the book's default agent with and without the kept prefix cache
of :class:`companion.agent.TransformersLLM`.

``python benchmarks/bench_agent.py evaluate [--limit N]`` runs the configurations of the
chapter on the test split of ``data/tooluse`` and writes ``data/agent_eval.json``, which the
chapter reads: base SmolLM2 unconstrained and constrained, the fine-tuned model (the agent's
adapters, ``companion.finetune.AGENT_ADAPTERS``) unconstrained and constrained, the default agent
(fine-tuned, constrained, with the loop's quantity and lookup checks; before that, with the
quantity check alone), the default agent with both kinds of
:class:`companion.agent.Memory` on (tasks in file order, so each one sees the earlier ones), and
smolagents' ``ToolCallingAgent`` driving the default model through
:class:`companion.agent.smolagents_bridge.LocalModel`. Configurations that need the adapters are
skipped, and say so in the file, when they are not installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from companion.paths import DATA, TOOLUSE_DATA

RESULTS = DATA / "agent_eval.json"
CONFIGS = (
    "base_unconstrained",
    "base_constrained",
    "finetuned_unconstrained",
    "finetuned_constrained",
    "finetuned_constrained_checked",
    "finetuned_constrained_lookup",
    "finetuned_constrained_memory",
    "smolagents",
)
#: configurations whose loop holds back answers until every number the task states is used
CHECKED = ("finetuned_constrained_checked", "finetuned_constrained_lookup",
           "finetuned_constrained_memory")
#: configurations whose loop also makes the model search each name the task states (the default
#: agent, with and without memory)
LOOKED_UP = ("finetuned_constrained_lookup", "finetuned_constrained_memory")


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


def _median_task_seconds(agent, tasks: list[dict], reuse_prefix: bool) -> float:
    """Median seconds per task of ``evaluate_agent`` over ``tasks``, after one warm-up task."""
    from companion.agent import evaluate_agent

    agent.llm.reuse_prefix = reuse_prefix
    agent.llm.reset()
    agent.run(tasks[0]["task"])
    return evaluate_agent(agent, tasks[1:]).latency_median_s


def run() -> list[dict]:
    """Per-token cost of the tool-call constraint, relative to a SmolLM2 decoding step."""
    from companion.agent.constrained import token_table
    from companion.models import load_smollm2

    model, tokenizer = load_smollm2()
    start = time.perf_counter()
    token_table(tokenizer)
    table_s = time.perf_counter() - start
    proc_ms = _processor_ms_per_token(tokenizer)
    step_ms = _decode_ms_per_token(model, tokenizer)
    from companion.agent import build_default_agent

    agent, tasks = build_default_agent(), load_tasks("test", 7)
    cold_s = _median_task_seconds(agent, tasks, reuse_prefix=False)
    kept_s = _median_task_seconds(agent, tasks, reuse_prefix=True)
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
    ]


def load_tasks(split: str = "test", limit: int | None = None) -> list[dict]:
    """The tool-use tasks of one split (id, task, answer, tool), in file order."""
    path = TOOLUSE_DATA / f"{split}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    tasks = [{k: r[k] for k in ("id", "task", "answer", "tool")} for r in rows]
    return tasks[:limit] if limit else tasks


def make_agent(config: str, max_steps: int = 4, time_budget_s: float = 60.0):
    """The agent (or smolagents runner) of one named configuration."""
    from companion import finetune
    from companion.agent import Agent, Memory, TransformersLLM, default_tools
    from companion.agent.lookups import knowledge_base_names
    from companion.models import load_smollm2

    if config not in CONFIGS:
        raise ValueError(f"unknown configuration {config!r}; expected one of {CONFIGS}")
    have_adapter = not finetune.missing_adapters(finetune.AGENT_ADAPTERS)
    tuned = config.startswith("finetuned") or (config == "smolagents" and have_adapter)
    if tuned and not have_adapter:
        raise FileNotFoundError("the fine-tuned adapters are not all installed in data/adapters")
    model, tokenizer = (finetune.load_finetuned(finetune.AGENT_ADAPTERS) if tuned
                        else load_smollm2())
    constrained = "_constrained" in config or config == "smolagents"
    llm = TransformersLLM(model, tokenizer, constrained=constrained)
    if config != "smolagents":
        memory = Memory() if config.endswith("_memory") else None
        return Agent(llm, default_tools(), memory, max_steps=max_steps,
                     time_budget_s=time_budget_s, quantity_check=config in CHECKED,
                     lookup_names=knowledge_base_names() if config in LOOKED_UP else ())
    import smolagents

    from companion.agent.smolagents_bridge import LocalModel, SmolagentsRunner, export_tool

    agent = smolagents.ToolCallingAgent(
        tools=[export_tool(t) for t in default_tools()], model=LocalModel(llm),
        max_steps=max_steps, verbosity_level=0,
    )
    return SmolagentsRunner(agent)


def evaluate(configs: list[str], limit: int | None, time_budget_s: float = 60.0) -> dict:
    """Evaluate each configuration on the test split; skip those whose model is missing."""
    from companion.agent import evaluate_agent

    tasks = load_tasks("test", limit)
    results: dict = {}
    for config in configs:
        try:
            agent = make_agent(config, time_budget_s=time_budget_s)
        except FileNotFoundError as err:
            results[config] = {"skipped": str(err)}
            _store(config, results[config])
            continue
        start = time.perf_counter()
        report = evaluate_agent(
            agent, tasks,
            on_result=lambda t, r, c=config: print(
                f"{c} {t['id']} {r.stopped_because} {r.answer!r}", file=sys.stderr
            ),
        )
        results[config] = {
            **report.summary(),
            "seconds": time.perf_counter() - start,
            "time_budget_s": time_budget_s,
            "tasks": report.table.drop(columns=["task"]).to_dict(orient="records"),
        }
        _store(config, results[config])
    return results


def _store(config: str, result: dict) -> None:
    """Merge one configuration's result into the results file (re-read first, so that runs of
    different configurations in parallel processes keep each other's), written atomically."""
    from companion.files import write_json_atomically

    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    stored[config] = json.loads(json.dumps(result, default=str))
    write_json_atomically(RESULTS, {c: stored[c] for c in CONFIGS if c in stored})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["evaluate", "speed"])
    parser.add_argument("--limit", type=int, default=None, help="first N test tasks only")
    parser.add_argument("--time-budget", type=float, default=60.0, help="seconds per task")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    args = parser.parse_args()
    if args.command == "speed":
        for row in run():
            print(row)
    else:
        evaluate(args.configs, args.limit, args.time_budget)


if __name__ == "__main__":
    main()
