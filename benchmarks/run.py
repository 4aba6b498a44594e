"""Run every benchmark and print one table: name, value, unit, reference, ratio.

Each ``benchmarks/bench_<topic>.py`` defines ``run() -> list[dict]`` whose rows carry ``name``,
``value``, ``unit``, ``reference`` (what the value is compared with, measured in the same run) and
``ratio`` (value / reference value, or None). Usage::

    python benchmarks/run.py            # all modules
    python benchmarks/run.py models     # only bench_models.py
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = ("name", "value", "unit", "reference", "ratio")


# Chapter order: the table opens with model loading and decoding speed, the base of the others.
ORDER = ("models", "attention", "decoder", "finetune", "metrics", "agent")


def _rank(path: Path) -> tuple[int, str]:
    topic = path.stem.removeprefix("bench_")
    return (ORDER.index(topic) if topic in ORDER else len(ORDER), topic)


def discover(only: list[str]) -> list[Path]:
    """The benchmark modules in chapter order, restricted to ``only`` topics when given."""
    paths = sorted(HERE.glob("bench_*.py"), key=_rank)
    if only:
        paths = [p for p in paths if p.stem.removeprefix("bench_") in only]
        missing = set(only) - {p.stem.removeprefix("bench_") for p in paths}
        if missing:
            raise SystemExit(f"no benchmark module for {sorted(missing)}; "
                             f"available: {[p.stem[6:] for p in sorted(HERE.glob('bench_*.py'))]}")
    return paths


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="*", help="e.g. models attention decoder")
    args = parser.parse_args()
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    rows: list[dict] = []
    for path in discover(args.topics):
        start = time.perf_counter()
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        for row in load(path).run():
            missing = set(COLUMNS) - set(row)
            if missing:
                raise SystemExit(f"{path.name} returned a row without {sorted(missing)}: {row}")
            rows.append(row)
        print(f"  {path.name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    cells = [[fmt(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c)
              for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
