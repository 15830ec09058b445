"""The ``fedharden`` command line: the group of commands (agent.commands), and the one place
that catches the agent's exceptions and turns them into a line on standard error and an exit
code (agent.contract): 0 the host is compliant, needs review or nothing applies, 1 any
requirement fails, 4 incomplete (nothing fails but something could not be judged), 2 usage or
invalid input, 3 the scan (or a submission, an enrollment) could not complete.

Commands load when invoked, so that a plain scan never imports the HTTP client or the
collector's stack; a command is added by one entry in COMMANDS.
"""
from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import Any

import click

from agent import AgentError, __version__
from agent.contract import EXIT_COULD_NOT_COMPLETE, EXIT_USAGE

# Command name -> "module:attribute" of its click command or group.
COMMANDS: dict[str, str] = {
    "scan": "agent.commands.scan:scan",
    "directives": "agent.commands.directives:directives",
    "enroll": "agent.commands.enroll:enroll",
    "run": "agent.commands.run:run",
    "status": "agent.commands.status:status",
    "feeds": "agent.commands.feeds:feeds",
    "fix": "agent.commands.fix:fix",
    "collector": "collectors.cli:collector",
}


def say(message: str) -> None:
    """One line on standard error. A message may quote the scanned host (a path, an SSH
    banner): control characters are escaped."""
    from agent.output.common import safe

    click.echo(f"fedharden: {safe(message)}", err=True)


class Fedharden(click.Group):
    """Loads each command on first use, and turns what the agent raises into an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # an option click itself refused: one line too, naming it
            where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            say(f"{exc.format_message()}{where}")
            sys.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except AgentError as exc:  # a problem the user or the environment must fix, said in one line
            say(str(exc))
            sys.exit(exc.exit_code)
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # the reader went away (| head): click leaves quietly
            problems = directive_problems(exc)
            if problems is not None:  # a directive, waiver or tailoring file: one line per problem
                for problem in problems:
                    click.echo(problem, err=True)
                sys.exit(EXIT_USAGE)
            if os.environ.get("FEDHARDEN_DEBUG"):
                raise
            # A bug, not a user mistake: say so in one line, keep the exit code honest.
            say(f"internal error {type(exc).__name__}: {exc} (set FEDHARDEN_DEBUG=1 for the traceback)")
            sys.exit(EXIT_COULD_NOT_COMPLETE)


def directive_problems(exc: Exception) -> list[str] | None:
    """The problems of a directives.DirectiveError, else None. Only a command that loaded the
    directives can raise one: the others (status, collector) never import them for this."""
    errors = sys.modules.get("directives.errors")
    if errors is not None and isinstance(exc, errors.DirectiveError):
        return list(exc.problems)
    return None


@click.group(cls=Fedharden, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fedharden")
def main() -> None:
    """Evaluate hosts against CISA directives and a 30-day hardening baseline."""


if __name__ == "__main__":  # pragma: no cover
    main()
