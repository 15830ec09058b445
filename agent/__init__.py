"""The fedharden agent: everything that runs on, or against, a host.

Domain code raises these; only the command line's entry point (agent.cli) catches them, prints
the message on one line and exits with the exception's ``exit_code``. The tree, as
tests/agent/test_exceptions.py checks it against the classes::

    AgentError                             base (exit 3)
    ├── UsageError                         the user must fix something (exit 2)
    │   ├── credential.IdentityMismatch    this machine is not the one that enrolled
    │   ├── credential.NotEnrolled         no credential in the state directory
    │   ├── directive_updates.UpdateRefused  a directive update failed verification or validation
    │   ├── feeds.FeedError                a feed file is missing, unreadable or invalid
    │   ├── fleet.NotSubmitted             the collector refused a report (a clone, a revoked token)
    │   ├── state.StateError               the state directory cannot be used
    │   └── submit.CollectorRefused        the collector as configured cannot be used, or refused
    │       └── submit.EnrollConflict      an enrollment refused with 409
    └── ScanError                          the scan (or a submission) could not complete (exit 3)
        ├── directive_updates.UpdateUnavailable  the directive repository cannot be reached
        ├── feeds.update.FeedUnavailable   a feed could not be fetched
        ├── fixing.ApplyFailed             a fix apply stopped part way and was rolled back
        ├── hosts.base.HostUnreachable     the target cannot be reached or opened
        │   └── hosts.sshconnect.HostKeyRejected
        ├── state.LockBusy                 another run holds the state directory's lock
        └── submit.SubmitError             the collector cannot be reached now

directives.DirectiveError (a directive, waiver or tailoring file is invalid) is not an
AgentError: the entry point prints each of its problems on a line of its own and exits 2.
"""
from __future__ import annotations

__version__ = "0.1.0"

EXIT_USAGE = 2  # agent.contract names every exit code; these two are the exceptions'
EXIT_COULD_NOT_COMPLETE = 3


class AgentError(Exception):
    """Base of the agent's exceptions; ``exit_code`` is the process's when nothing catches it."""

    exit_code = EXIT_COULD_NOT_COMPLETE


class UsageError(AgentError):
    """The user asked for something that cannot be done as asked (exit code 2)."""

    exit_code = EXIT_USAGE


class ScanError(AgentError):
    """The scan could not complete (exit code 3)."""

    exit_code = EXIT_COULD_NOT_COMPLETE
