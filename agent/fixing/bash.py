"""``fix --format bash``: the plan as a Bash script a configuration management rollout runs as
root on the host to fix (or ``chroot IMAGE /bin/bash fix.sh`` on an image).

Every value from the plan (paths, contents, names, argv) reaches the script through
``shlex.quote`` as one word; the script's own code is fixed text. It is idempotent: a file is
written only when its content differs (compared with cmp, written to a temporary file beside it
and renamed over it), attributes only when they differ, packages only when dpkg says they are
missing or present, units only when ``systemctl is-enabled`` says so, and the other commands
only when a step of their requirement changed something in this run. Commands for a running
system (reloads, ``sysctl -w``) run only when the host is booted with systemd, so the same script
fixes a chroot of an image; there, while apt-get runs, a policy-rc.d answering 101 keeps
maintainer scripts from starting daemons.
"""
from __future__ import annotations

from shlex import quote
from typing import Iterable

from agent.fixing.apply import APT_OPTIONS
from agent.fixing.planner import Plan
from agent.fixing.steps import Step, walk
from checks.fixes.model import Command, Packages, Remove, SetAttributes, Symlink, WriteFile

PRELUDE = r"""set -euo pipefail
umask 022
shopt -s extglob
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
[ "$(id -u)" -eq 0 ] || { echo "${0##*/}: run it as root" >&2; exit 1; }

declare -A DUE=()  # requirements a step of this run changed something for: their commands run
mark() { local r; for r in "$@"; do DUE[$r]=1; done; }
due() { local r; for r in "$@"; do [ -z "${DUE[$r]:-}" ] || return 0; done; return 1; }
booted() { [ -d /run/systemd/system ]; }
warn() { echo "${0##*/}: warning: $*" >&2; }
TMP=
trap '[ -z "$TMP" ] || rm -f -- "$TMP"' EXIT

# put_file PATH MODE OWNER GROUP CONTENT REQUIREMENT...: the whole file, only when it differs
put_file() {
  local path mode=$2 owner=$3 group=$4 content=$5
  path=$(readlink -m -- "$1")
  shift 5
  if [ -f "$path" ] && printf '%s' "$content" | cmp -s - "$path"; then
    set_attrs "$path" "$mode" "$owner" "$group" "$@"
    return 0
  fi
  mkdir -p -- "$(dirname -- "$path")"
  TMP=$(mktemp -- "$(dirname -- "$path")/.fedharden-XXXXXX")
  printf '%s' "$content" > "$TMP"
  chmod -- "$mode" "$TMP"
  chown -- "$owner:$group" "$TMP"
  mv -f -- "$TMP" "$path"
  TMP=
  mark "$@"
}

# set_attrs PATH MODE OWNER GROUP REQUIREMENT... (an empty MODE, OWNER or GROUP is left as it is)
set_attrs() {
  local path=$1 mode=$2 owner=$3 group=$4
  shift 4
  [ -e "$path" ] || return 0
  if [ -n "$mode" ] && [ "$(stat -L -c %a -- "$path")" != "$mode" ]; then chmod -- "$mode" "$path"; mark "$@"; fi
  if [ -n "$owner" ] && [ "$(stat -L -c %U -- "$path")" != "$owner" ]; then chown -- "$owner" "$path"; mark "$@"; fi
  if [ -n "$group" ] && [ "$(stat -L -c %G -- "$path")" != "$group" ]; then chgrp -- "$group" "$path"; mark "$@"; fi
  return 0
}

# put_link PATH TARGET REQUIREMENT...
put_link() {
  local path=$1 target=$2
  shift 2
  if [ "$(readlink -- "$path" || true)" != "$target" ]; then
    mkdir -p -- "$(dirname -- "$path")"
    ln -sfn -- "$target" "$path"
    mark "$@"
  fi
}

# remove PATH REQUIREMENT...
remove() {
  local path=$1
  shift
  if [ -e "$path" ] || [ -L "$path" ]; then rm -f -- "$path"; mark "$@"; fi
}

installed() { dpkg-query -W -f='${Status}\n' -- "$1" 2>/dev/null | grep -Eq ' (installed|half-configured|unpacked)$'; }

# apt_get ARGS...: apt-get; not booted (an image), a policy-rc.d keeps daemons from starting meanwhile
apt_get() {
  local own= rc=0
  if ! booted && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own=1
  fi
  apt-get APT_OPTIONS "$@" || rc=$?
  [ -z "$own" ] || rm -f /usr/sbin/policy-rc.d
  return "$rc"
}

unit_state() { systemctl is-enabled -- "$1" 2>/dev/null || true; }
"""


def _words(words: Iterable[str]) -> str:
    return " ".join(quote(w) for w in words)


def _comment(step: Step, what: str) -> str:
    return f"# {', '.join(step.requirements)}: {' '.join(what.split())}"


def _mode(mode: int | None) -> str:
    return "" if mode is None else f"{mode:o}"


def _step(step: Step) -> list[str]:
    a = step.action
    marks = _words(step.marks)
    if isinstance(a, WriteFile):
        return [_comment(step, a.path), f"put_file {_words([a.path, _mode(a.mode), a.owner, a.group, a.content])} {marks}"]
    if isinstance(a, SetAttributes):
        return [_comment(step, f"{a.path} attributes"),
                f"set_attrs {_words([a.path, _mode(a.mode), a.owner or '', a.group or ''])} {marks}"]
    if isinstance(a, Symlink):
        return [_comment(step, f"{a.path} -> {a.target}"), f"put_link {_words([a.path, a.target])} {marks}"]
    if isinstance(a, Remove):
        return [_comment(step, f"remove {a.path}"), f"remove {quote(a.path)} {marks}"]
    if isinstance(a, Packages):
        if a.remove:
            return [_comment(step, f"purge {' '.join(a.remove)}"), "purge=()",
                    f"for p in {_words(a.remove)}; do if installed \"$p\"; then purge+=(\"$p\"); fi; done",
                    f"if [ ${{#purge[@]}} -gt 0 ]; then apt_get purge \"${{purge[@]}}\"; mark {marks}; fi"]
        return [_comment(step, f"install {' '.join(a.install)}"), "install=()",
                f"for p in {_words(a.install)}; do if ! installed \"$p\"; then install+=(\"$p\"); fi; done",
                "if [ ${#install[@]} -gt 0 ]; then",
                "  apt_get install --no-install-recommends \"${install[@]}\" || "
                "{ apt_get update && apt_get install --no-install-recommends \"${install[@]}\"; }",
                f"  mark {marks}", "fi"]
    assert isinstance(a, Command)
    run = _words(a.argv)
    if a.best_effort:
        run += f" || warn {quote(' '.join(a.argv) + ' failed (' + a.why + ')')}"
    lines = [_comment(step, f"{' '.join(a.argv)}: {a.why}")]
    if step.unit_command:
        verb, unit = a.argv[1], a.argv[2]
        test = {"mask": '!= masked*', "unmask": '== masked*', "enable": '!= @(enabled|static|alias)', "disable": '== enabled'}[verb]
        lines += [f"if [[ \"$(unit_state {quote(unit)})\" {test} ]]; then", f"  {run}", f"  mark {marks}", "fi"]
        return lines
    cond = []
    if step.live_only:
        cond.append("booted")
    if step.after:
        cond.append(f"due {_words(step.after)}")
    if not cond:
        return [*lines, run]
    return [*lines, f"if {' && '.join(cond)}; then", f"  {run}", "fi"]


def _one_line(text: str) -> str:
    """Text for a comment: a line break in data (a path, a reason) must not end the comment."""
    return " ".join(text.split())


def prelude() -> str:
    """The script's fixed code: the helpers every step calls."""
    return PRELUDE.replace("APT_OPTIONS", _words(APT_OPTIONS))


def render(plan: Plan, source: str = "") -> str:
    steps = walk(plan)
    head = ["#!/bin/bash",
            f"# Written by fedharden fix{': ' + _one_line(source) if source else ''}.",
            f"# Fixes {len(steps.requirements)} requirement(s): {', '.join(steps.requirements) or 'none'}.",
            "# Run it as root on the host to fix, or on an image: chroot IMAGE /bin/bash fix.sh",
            "# Idempotent: a second run changes nothing. Commands for a running system (reloads,",
            "# running values) run only on a host booted with systemd.",
            *(f"# left out {s.requirement}: {_one_line(s.reason)}" for s in plan.skipped)]
    body: list[str] = []
    for step in steps.steps:
        body += ["", *_step(step)]
    return "\n".join([*head, prelude().rstrip("\n"), *body, "", f"echo {quote('fedharden fix: done')}", ""])
