"""The exception tree in agent/__init__.py's docstring is the tree the classes form: every
AgentError subclass of every agent module is in it under its real parent, with the exit code
it states, and nothing else is."""
from __future__ import annotations

import importlib
import pkgutil
import re
from typing import cast

import agent
from agent import AgentError

BRANCH = re.compile(r"^(?P<indent>(?:[│ ]   )*)(?:[├└]── )?(?P<name>[\w.]+)(?P<rest>.*)$")


def short(cls: type) -> str:
    """A class as the docstring names it: its module under ``agent.``, then its name."""
    module = cls.__module__.removeprefix("agent").removeprefix(".")
    return f"{module}.{cls.__qualname__}" if module else cls.__qualname__


def real_tree() -> dict[str, tuple[str | None, int]]:
    """Each AgentError class of the agent's modules: its parent and exit code."""
    found: dict[str, tuple[str | None, int]] = {}
    for info in pkgutil.walk_packages(agent.__path__, "agent."):
        module = importlib.import_module(info.name)
        for obj in list(vars(module).values()):
            if isinstance(obj, type) and issubclass(obj, AgentError) and obj.__module__ == module.__name__:
                cls = cast("type[AgentError]", obj)
                parent = next((b for b in cls.__bases__ if issubclass(b, AgentError)), None)
                found[short(cls)] = (short(parent) if parent else None, cls.exit_code)
    own_module: list[type[AgentError]] = [AgentError, *AgentError.__subclasses__()]
    for own in own_module:  # the package's own module is not walked
        if own.__module__ == "agent":
            parent = next((b for b in own.__bases__ if issubclass(b, AgentError)), None)
            found[short(own)] = (short(parent) if parent else None, own.exit_code)
    return found


def documented_tree() -> tuple[dict[str, str | None], dict[str, int]]:
    """The docstring's tree: each name's parent, and the exit codes it states."""
    doc = agent.__doc__ or ""
    block = doc.split("::\n", 1)[1].strip("\n").split("\n\n", 1)[0]
    parents: dict[str, str | None] = {}
    codes: dict[str, int] = {}
    stack: list[str] = []
    for line in block.splitlines():
        match = BRANCH.match(line.removeprefix("    "))
        assert match, line
        depth = len(match["indent"]) // 4 + 1 if "──" in line else 0
        del stack[depth:]
        name = match["name"]
        parents[name] = stack[-1] if stack else None
        stack.append(name)
        code = re.search(r"\(exit (\d)\)", match["rest"])
        if code:
            codes[name] = int(code[1])
    return parents, codes


def test_the_docstring_tree_is_the_class_tree() -> None:
    real = real_tree()
    parents, codes = documented_tree()
    assert parents == {name: parent for name, (parent, _) in real.items()}
    assert codes and codes == {name: real[name][1] for name in codes}


def test_each_branch_has_the_exit_code_of_its_base() -> None:
    from agent import ScanError, UsageError

    for name, (_, code) in real_tree().items():
        assert code in (UsageError.exit_code, ScanError.exit_code), name
