"""``fix --format ansible``: the plan as an Ansible playbook, one task (or two) per step, each
named and tagged with its requirement ids, with ansible.builtin modules only: copy (content,
mode, owner, group), file, apt, command (argv). Run it as root (``-b`` over SSH; the
community.general.chroot connection on an image).

Every value from the plan is written ``!unsafe``, so Ansible templates none of it. It is
idempotent as the modules are, and a command runs only ``when`` a task of its requirement
changed something in this run; ``systemctl mask|unmask|enable|disable`` (as a command: the
systemd_service module needs a running systemd, which a chroot has not) only when
``systemctl is-enabled`` says so. Commands for a running system run only when
/run/systemd/system exists. A first task installs Python with the raw module where the host
has none (a minimal image), since the modules need it.
"""
from __future__ import annotations

from typing import Any

from agent.fixing.planner import Plan
from agent.fixing.steps import Step, walk
from checks.fixes.model import Command, Packages, Remove, SetAttributes, Symlink, WriteFile
from directives.yamldoc import Tagged, dump

POLICY_RC = "/usr/sbin/policy-rc.d"
BOOTSTRAP = ("command -v python3 >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get -y -q update >/dev/null "
             "&& DEBIAN_FRONTEND=noninteractive apt-get -y -q install --no-install-recommends python3 python3-apt "
             ">/dev/null && echo installed python3; }")


def _u(value: str) -> Tagged:
    return Tagged(value)


def _name(step: Step, what: str) -> Tagged:
    return _u(f"{', '.join(step.requirements)}: {' '.join(what.split())}")


def _task(step: Step, what: str, module: str, args: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"name": _name(step, what), module: args, **more, "tags": list(step.requirements)}


def _mode(mode: int | None) -> str:
    return f"{mode:04o}" if mode is not None else ""


def _when(step: Step, registers: dict[str, list[str]]) -> list[str]:
    """The conditions of a command: one of its requirements' tasks changed (and booted)."""
    conds = []
    if step.live_only:
        conds.append("fedharden_booted.stat.exists")
    if step.after:
        names = [r for req in step.after for r in registers.get(req, [])]
        conds.append("(" + " or ".join(f"({n} | default({{}})) is changed" for n in dict.fromkeys(names)) + ")")
    return conds


def _tasks(step: Step, n: int, registers: dict[str, list[str]]) -> list[dict[str, Any]]:
    a = step.action
    reg = f"fedharden_{n}"
    if step.marks:
        for req in step.marks:
            registers.setdefault(req, []).append(reg)
    if isinstance(a, WriteFile):
        return [_task(step, f"{a.path} (its directory)", "ansible.builtin.file",
                      {"path": _u(a.path.rsplit("/", 1)[0] or "/"), "state": "directory"}),
                _task(step, a.path, "ansible.builtin.copy",
                      {"dest": _u(a.path), "content": _u(a.content), "mode": _mode(a.mode), "owner": _u(a.owner),
                       "group": _u(a.group), "follow": True}, register=reg)]
    if isinstance(a, SetAttributes):
        args: dict[str, Any] = {"path": _u(a.path)}
        if a.mode is not None:
            args["mode"] = _mode(a.mode)
        if a.owner:
            args["owner"] = _u(a.owner)
        if a.group:
            args["group"] = _u(a.group)
        return [_task(step, f"{a.path} attributes", "ansible.builtin.file", args, register=reg)]
    if isinstance(a, Symlink):
        return [_task(step, f"{a.path} -> {a.target}", "ansible.builtin.file",
                      {"path": _u(a.path), "src": _u(a.target), "state": "link", "force": True}, register=reg)]
    if isinstance(a, Remove):
        return [_task(step, f"remove {a.path}", "ansible.builtin.file", {"path": _u(a.path), "state": "absent"},
                      register=reg)]
    if isinstance(a, Packages):
        if a.remove:
            apt = _task(step, f"purge {' '.join(a.remove)}", "ansible.builtin.apt",
                        {"name": [_u(p) for p in a.remove], "state": "absent", "purge": True}, register=reg)
        else:
            apt = _task(step, f"install {' '.join(a.install)}", "ansible.builtin.apt",
                        {"name": [_u(p) for p in a.install], "state": "present", "install_recommends": False,
                         "update_cache": True, "cache_valid_time": 86400}, register=reg)
        # Not booted (an image): a policy-rc.d answering 101 keeps the maintainer scripts from
        # starting daemons while apt runs; removed after (unless the host had its own), so it
        # is no change of the host.
        mine = f"not fedharden_booted.stat.exists and not {reg}_policy.stat.exists"
        return [{"name": _name(step, "packages"), "block": [
            {"name": "A policy-rc.d of the host?", "ansible.builtin.stat": {"path": POLICY_RC},
             "register": f"{reg}_policy"},
            {"name": "No daemon starts while packages change in an image",
             "ansible.builtin.copy": {"dest": POLICY_RC, "content": "#!/bin/sh\nexit 101\n", "mode": "0755"},
             "when": mine, "changed_when": False},
            apt],
            "always": [{"name": "The policy-rc.d put there for the packages removed",
                        "ansible.builtin.file": {"path": POLICY_RC, "state": "absent"},
                        "when": mine, "changed_when": False}],
            "tags": list(step.requirements)}]
    assert isinstance(a, Command)
    what = f"{' '.join(a.argv)} ({a.why})"
    extra: dict[str, Any] = {"ignore_errors": True} if a.best_effort else {}
    if step.unit_command:
        verb, unit = a.argv[1], a.argv[2]
        test = {"mask": f"not {reg}_state.stdout.startswith('masked')", "unmask": f"{reg}_state.stdout.startswith('masked')",
                "enable": f"{reg}_state.stdout not in ['enabled', 'static', 'alias']", "disable": f"{reg}_state.stdout == 'enabled'"}[verb]
        return [_task(step, f"systemctl is-enabled {unit}", "ansible.builtin.command",
                      {"argv": ["systemctl", "is-enabled", "--", _u(unit)]}, register=f"{reg}_state",
                      changed_when=False, failed_when=False),
                _task(step, what, "ansible.builtin.command", {"argv": [_u(x) for x in a.argv]}, when=test,
                      register=reg, **extra)]
    conds = _when(step, registers)
    more: dict[str, Any] = {"when": " and ".join(conds)} if conds else {}
    return [_task(step, what, "ansible.builtin.command", {"argv": [_u(x) for x in a.argv]}, **more, **extra)]


def render(plan: Plan, source: str = "") -> str:
    steps = walk(plan)
    registers: dict[str, list[str]] = {}
    tasks: list[dict[str, Any]] = [
        {"name": "Python for the modules (a minimal image has none)", "ansible.builtin.raw": BOOTSTRAP,
         "register": "fedharden_python", "changed_when": "'installed python3' in fedharden_python.stdout",
         "tags": ["always"]},
        {"name": "Booted with systemd? (commands for a running system need it)", "ansible.builtin.stat":
            {"path": "/run/systemd/system"}, "register": "fedharden_booted", "tags": ["always"]},
    ]
    for n, step in enumerate(steps.steps, 1):
        tasks.extend(_tasks(step, n, registers))
    header = [f"# Written by fedharden fix{': ' + ' '.join(source.split()) if source else ''}.",
              f"# Fixes {len(steps.requirements)} requirement(s); each task is tagged with its requirement ids.",
              "# Run it as root: ansible-playbook -b -i HOST, playbook.yml; on an image:",
              "# ansible-playbook -i IMAGE, -c community.general.chroot playbook.yml",
              "# Idempotent: a second run reports changed=0.",
              *(f"# left out {s.requirement}: {' '.join(s.reason.split())}" for s in plan.skipped)]
    play = [{"name": f"fedharden fix: {len(steps.requirements)} requirement(s)", "hosts": "all",
             "gather_facts": False, "vars": {"ansible_python_interpreter": "auto_silent"}, "tasks": tasks}]
    return "\n".join(header) + "\n" + dump(play)
