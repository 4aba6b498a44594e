"""``python -m companion.tooluse``: regenerate ``data/sets/tooluse/*.jsonl`` and print a summary."""

from __future__ import annotations

import argparse
import json

from companion.tooluse.generate import DATA_DIR
from companion.tooluse.splits import generate_splits, summarize, write_splits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=4000, help="training conversations")
    parser.add_argument("--eval", type=int, default=200, help="tasks per evaluation split")
    parser.add_argument("--focus", type=int, default=600,
                        help="conversations in focus.jsonl (the agent's last training stage)")
    parser.add_argument("--out", default=str(DATA_DIR))
    args = parser.parse_args(argv)
    splits = generate_splits(seed=args.seed, n_train=args.train, n_eval=args.eval,
                             n_focus=args.focus)
    for path in write_splits(splits, args.out):
        print(f"wrote {path.name}")
    print(json.dumps(summarize(splits), indent=1))


if __name__ == "__main__":
    main()
