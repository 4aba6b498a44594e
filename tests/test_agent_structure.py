"""The agent package as a house: imports point one way, each module holds one idea."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "companion"
#: the tool-use data set (the lead's, moving to companion/tooluse): the agent never imports it
DATA_SET = ("companion.tooluse",)
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every companion module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("companion")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("companion"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_it_is_shown():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_agent_module_is_in_an_import_cycle():
    graph = _graph()
    agent = {m for m in graph if m.startswith("companion.agent")} - set(DATA_SET)
    cycle = _cycle({m: graph[m] & agent for m in agent})
    assert cycle is None, " -> ".join(cycle)


def test_the_agent_never_imports_the_tool_use_data_set():
    graph = _graph()
    for module, imported in graph.items():
        if module.startswith("companion.agent") and module not in DATA_SET:
            assert not imported & set(DATA_SET), (module, imported & set(DATA_SET))


def test_no_module_of_the_companion_is_longer_than_a_chapter_section():
    sizes = {path.relative_to(PACKAGE).as_posix():
             len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.rglob("*.py")}
    assert len(sizes) > 40 and "agent/loop.py" in sizes  # the walk found the package
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"split these by idea: {too_long}"


@pytest.mark.parametrize(("module", "absent"), [
    ("companion.agent", ["companion.agent.loop", "companion.agent.tools", "torch"]),
    ("companion.agent.tools", ["companion.agent.loop", "companion.agent.diagnostics",
                               "companion.finetune", "torch"]),
    ("companion.agent.questions", ["companion.agent.loop", "torch"]),
    ("companion.agent.loop", ["companion.agent.build", "companion.agent.diagnostics",
                              "companion.finetune", *DATA_SET]),
    ("companion.agent.build", ["companion.finetune", "peft", *DATA_SET]),
])
def test_importing_a_module_imports_only_what_it_needs(module, absent):
    code = f"import sys, {module}; print(sorted(m for m in {absent!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing {module} imported {done.stdout.strip()}"


def test_public_names_resolve_lazily_to_their_modules():
    import companion.agent as agent

    assert agent.Agent.__module__ == "companion.agent.loop"
    assert agent.Memory.__module__ == "companion.agent.memory"
    assert agent.build_default_agent.__module__ == "companion.agent.build"
    assert set(agent.__all__) <= set(dir(agent))
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        agent.Nope  # noqa: B018
