"""Imports point one way (AUTHORING.md): the companion's modules form no circle, counting the
imports inside functions too, and no module reaches into the tests or the benchmarks."""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from companion.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "companion"


def room(module: str) -> str:
    """The room a module lives in: ``companion.agent.loop`` -> ``agent``, ``companion.models`` ->
    ``models`` (the package's own ``__init__`` is ``companion``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imported_modules(source: str) -> set[str]:
    """Every absolute module ``source`` imports, at any depth (inside functions too);
    ``from companion import x`` counts as ``companion.x``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "companion":
                found |= {f"companion.{alias.name}" for alias in node.names}
    return found


def room_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """``{room: rooms it imports}`` over every module of ``package``."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        here = room(module.removesuffix(".__init__"))
        graph[here] |= {room(m) for m in imported_modules(path.read_text(encoding="utf-8"))
                        if m.startswith("companion.")} - {here}
    return dict(graph)


def test_the_rooms_of_the_companion_form_no_circle():
    graph = room_graph()
    assert {"agent", "tooluse", "finetune", "decoder", "attention", "teaching"} <= set(graph)
    order = list(TopologicalSorter(graph).static_order())  # raises CycleError on a circle
    assert order.index("attention") < order.index("decoder") < order.index("seq2seq")
    assert order.index("finetune") < order.index("agent") < order.index("tooluse")


def test_a_circle_is_found_even_inside_a_function(tmp_path):
    package = tmp_path / "companion"
    (package / "agent").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "agent" / "__init__.py").write_text("from companion.finetune import train\n")
    (package / "finetune.py").write_text("def f():\n    from companion import agent\n")
    graph = room_graph(package)
    assert graph == {"companion": set(), "agent": {"finetune"}, "finetune": {"agent"}}
    with pytest.raises(CycleError):
        list(TopologicalSorter(graph).static_order())


def test_no_module_imports_the_tests_or_the_benchmarks():
    for path in PACKAGE.rglob("*.py"):
        reached = {m.split(".")[0] for m in imported_modules(path.read_text(encoding="utf-8"))}
        assert not reached & {"tests", "benchmarks", "bench_agent", "conftest"}, path
