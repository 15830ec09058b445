"""Fix planners are pure: they get file states, not files."""
from __future__ import annotations

from typing import Callable

import pytest

from checks.fixes.model import FileState, Files


@pytest.fixture
def files() -> Callable[..., Files]:
    """files({"/etc/x": "text"}, modes={"/etc/x": 0o644}, owners={...}): regular files, root-owned by default."""

    def make(contents: dict[str, str], modes: dict[str, int] | None = None,
             owners: dict[str, tuple[str, str]] | None = None, links: dict[str, str] | None = None) -> Files:
        states = {p: FileState(p, "file", text, (modes or {}).get(p, 0o644), *(owners or {}).get(p, ("root", "root")))
                  for p, text in contents.items()}
        states.update({p: FileState(p, "symlink", link=t) for p, t in (links or {}).items()})
        return Files(states)

    return make
