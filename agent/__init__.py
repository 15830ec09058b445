"""The fedharden agent: everything that runs on, or against, a host.

Exception tree (catch broadly only in agent.cli)::

    AgentError                     base
    ├── UsageError                 bad input from the user (exit 2)
    │   ├── directives.DirectiveError is raised by the loader and also exits 2
    │   └── state.StateError       the state directory cannot be used
    └── ScanError                  the scan could not complete (exit 3)
        ├── hosts.HostUnreachable  the target cannot be reached or opened
        └── state.LockBusy         another run holds the state directory's lock
"""
from __future__ import annotations

__version__ = "0.1.0"


class AgentError(Exception):
    """Base of the agent's exceptions."""


class UsageError(AgentError):
    """The user asked for something that cannot be done as asked (exit code 2)."""


class ScanError(AgentError):
    """The scan could not complete (exit code 3)."""
