"""Run the book's default agent on held-out splits and keep how sure it was of each run.

Chapter 7 asks whether the agent knows when it is wrong. For every task this stores whether the
run succeeded and its confidence, the probability of the least likely token the model chose in
any of its replies (:attr:`companion.agent.loop.AgentResult.confidence`)::

    .venv/bin/python scripts/measure_confidence.py validation test

The results go to ``data/results/agent_confidence.json`` (one entry per split, written atomically
after each split). About 8 minutes per split of 200 tasks on two CPU cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tqdm.auto import tqdm

from companion.agent import build_default_agent, evaluate_agent
from companion.files import write_json_atomically
from companion.paths import RESULTS as RESULTS_DIR
from companion.tooluse import load_split

RESULTS = RESULTS_DIR / "agent_confidence.json"


def measure(agent, split: str) -> dict:
    """``agent``'s summary and per-task (id, success, confidence) on ``split``."""
    tasks = load_split(split)
    bar = tqdm(total=len(tasks), desc=split)
    start = time.perf_counter()
    report = evaluate_agent(agent, tasks, on_result=lambda task, result: bar.update())
    bar.close()
    rows = report.table[["id", "success", "confidence"]].to_dict(orient="records")
    return {**report.summary(), "seconds": time.perf_counter() - start, "tasks": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("splits", nargs="+", choices=["validation", "test"])
    args = parser.parse_args(argv)
    agent = build_default_agent(finetuned=True)  # loaded once for every split
    for split in args.splits:
        stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        stored[split] = measure(agent, split)
        stored["command"] = "python scripts/measure_confidence.py validation test"
        write_json_atomically(RESULTS, stored)
        print(split, stored[split]["success_rate"], file=sys.stderr)


if __name__ == "__main__":
    main()
