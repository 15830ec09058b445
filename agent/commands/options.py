"""Options shared by several commands, and turning them into the values the agent takes:
``--state-dir``, the target options (``--root``, ``--ssh``, ``--inventory`` and how to reach
hosts) parsed into one ``agent.target.Target``, and ``--retry-delay`` into the ``Backoff`` of
a delivery.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import click

from agent.remote import DEFAULT_JOBS, DEFAULT_TIMEOUT
from agent.state import DEFAULT_STATE_DIR

if TYPE_CHECKING:
    from agent.reporting import Backoff

Command = Callable[..., Any]

STATE_ENV = "FEDHARDEN_STATE_DIR"
RETRY_ENV = "FEDHARDEN_RETRY_DELAY"


def state_dir_option(f: Command) -> Command:
    return click.option("--state-dir", default=DEFAULT_STATE_DIR, show_default=True, envvar=STATE_ENV,
                        type=click.Path(file_okay=False),
                        help=f"Where the agent keeps its state, credential and spool (or ${STATE_ENV}).")(f)


def retry_option(f: Command) -> Command:
    return click.option("--retry-delay", default=1.0, show_default=True, envvar=RETRY_ENV, metavar="SECONDS",
                        type=click.FloatRange(0.0),
                        help="Wait about this long before retrying a collector that is unavailable, twice as long "
                             f"before each next retry (or ${RETRY_ENV}; 0 retries at once).")(f)


# How many times a submission tries an unavailable collector, and the longest wait between two
# tries: a scan's own report gets more patience than one of many inventory hosts, or a retry
# between scheduled scans (the next run delivers what is spooled).
def delivery_backoff(retry_delay: float) -> Backoff:
    from agent.reporting import Backoff

    return Backoff(attempts=4, base=retry_delay, cap=15.0)


def retry_backoff(retry_delay: float) -> Backoff:
    from agent.reporting import Backoff

    return Backoff(attempts=2, base=retry_delay, cap=5.0)


def ask_secret(prompt: str) -> str:
    """A password or passphrase typed on the terminal, never echoed; empty when none was given."""
    try:
        return str(click.prompt(prompt, hide_input=True, err=True, default="", show_default=False))
    except click.Abort:
        return ""


def target_options(verb: str, done: str, nouns: str, root_help: str) -> Callable[[Command], Command]:
    """``--root`` and the SSH and inventory options, for a command that does ``verb`` to hosts
    (``nouns``: "scans", "enrollments"); the command receives them parsed, as ``target: Target``."""
    what = verb.capitalize()
    options = [
        click.option("--root", type=click.Path(file_okay=False), help=root_help),
        click.option("--ssh", "ssh_target", metavar="USER@HOST[:PORT]",
                     help=f"{what} this remote host over SSH (nothing is installed on it)."),
        click.option("--inventory", type=click.Path(dir_okay=False), metavar="HOSTS.yaml",
                     help=f"{what} every host of this inventory over SSH, in parallel (see docs/ssh.md)."),
        click.option("--identity", "-i", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
                     help="Private key file (its passphrase is asked for); the SSH agent and ~/.ssh keys are also tried."),
        click.option("--known-hosts", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Verify host keys against this file instead of ~/.ssh/known_hosts."),
        click.option("--accept-new", is_flag=True,
                     help="Trust and record the key of a host not yet in known_hosts (never a changed key)."),
        click.option("--jump", metavar="USER@HOST[:PORT]", help="Reach the target through this jump host (ProxyJump)."),
        click.option("--sudo", is_flag=True,
                     help="Read files as root through sudo (read-only sftp-server; see docs/ssh.md for sudoers)."),
        click.option("--ask-pass", is_flag=True, help="Ask for a login password (once, for every host)."),
        click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
                     help="Give up on a host after this many seconds."),
        click.option("--jobs", "-j", type=click.IntRange(min=1, max=256), default=DEFAULT_JOBS, show_default=True,
                     help=f"With --inventory: hosts {done} at the same time."),
    ]

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def parsed(*args: Any, root: str | None, ssh_target: str | None, inventory: str | None,
                   identity: str | None, known_hosts: str | None, accept_new: bool, jump: str | None, sudo: bool,
                   ask_pass: bool, timeout: float, jobs: int, **kwargs: Any) -> Any:
            from agent.target import Target

            target = Target.parse(root=root, ssh=ssh_target, inventory=inventory, identity=identity,
                                  known_hosts=known_hosts, accept_new=accept_new, jump=jump, sudo=sudo,
                                  ask_pass=ask_pass, timeout=timeout, jobs=jobs, what=nouns, ask=ask_secret)
            return command(*args, target=target, **kwargs)

        for option in reversed(options):
            parsed = option(parsed)
        return parsed

    return decorate
