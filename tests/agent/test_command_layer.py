"""The command line is a layer of its own: click code lives in agent/commands (and the entry
point agent/cli.py), the domain modules under it raise exceptions instead of exiting, nothing
imports the entry point (but the console script, agent/console.py, which runs it), and the
fleet's modules import each other one way only."""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

AGENT = Path(__file__).resolve().parents[2] / "agent"
ENTRY = "agent.cli"
SCRIPT = "agent.console"  # the console script: agent.cli's main as a process of its own
# Modules that may import click: the entry point, the commands, and the table renderer, which
# colors its text with click.style (as ANSI codes in a string; it prints nothing).
CLICK_ALLOWED = ("agent.cli", "agent.commands", "agent.output.table")
# The modules the command layer was split from: none may sit on an import cycle.
FLEET = ("agent.cli", "agent.commands", "agent.fleet", "agent.remote_fleet", "agent.runner", "agent.target",
         "agent.reporting", "agent.submit", "agent.remote", "agent.inventory_scan")


def module_name(path: Path) -> str:
    parts = path.relative_to(AGENT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(AGENT.rglob("*.py"))}


def imports(tree: ast.Module, known: set[str]) -> set[str]:
    """Every module imported anywhere in the file (function-level imports included)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names
                       if f"{node.module}.{alias.name}" in known)
    return out


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: {m for m in imports(tree, known) if m in known} for name, tree in found.items()}


def test_nothing_imports_the_entry_point_or_the_commands() -> None:
    for name, imported in graph().items():
        assert SCRIPT not in imported, f"{name} imports {SCRIPT}"
        if name != SCRIPT:
            assert ENTRY not in imported, f"{name} imports {ENTRY}"
        if not under(name, ("agent.commands",)):
            assert not any(under(m, ("agent.commands",)) for m in imported), f"{name} imports a command module"


def test_click_only_in_the_command_layer() -> None:
    found = modules()
    for name, tree in found.items():
        if under(name, CLICK_ALLOWED):
            continue
        assert "click" not in {m.split(".")[0] for m in imports(tree, set(found))}, f"{name} imports click"


def test_only_the_entry_point_exits() -> None:
    for name, tree in modules().items():
        if name == ENTRY:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "exit" and isinstance(node.value, ast.Name):
                assert node.value.id != "sys", f"{name} calls sys.exit (raise an AgentError instead)"
            if isinstance(node, ast.Name):
                assert node.id != "SystemExit", f"{name} raises SystemExit (raise an AgentError instead)"


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_fleet_modules_sit_on_no_import_cycle() -> None:
    edges = graph()
    assert edges["agent.remote_fleet"] >= {"agent.fleet"}  # the graph is read: remote hosts use the fleet's functions
    on_cycles = [c for c in cycles(edges) if any(under(m, FLEET) for m in c)]
    assert on_cycles == []


def test_a_cycle_is_seen() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
