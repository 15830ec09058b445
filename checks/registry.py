"""The check-type registry and the two entry points the agent uses: ``needs`` and ``evaluate``.

A check spec is a mapping: either ``{"type": NAME, ...params}`` for a check type, or a
compound ``{"all": [...]}``, ``{"any": [...]}``, ``{"none": [...]}`` of specs.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from checks import compound
from checks.facts import FactKey, Facts, FactUnavailable
from checks.model import Evidence, Outcome, Status, Verdict, settled


class CheckError(Exception):
    """Base of the checks package's exceptions."""


class CheckParamError(CheckError):
    """Parameters that passed the schema but make no sense together."""


class CheckType(Protocol):
    name: str
    schema: Mapping[str, Any]  # JSON Schema of the spec, including "type"

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]: ...

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome: ...


def _load() -> dict[str, CheckType]:
    from checks import accounts, apparmor, apt_config, audit_rules, banner, compound, config, dconf, end_of_support
    from checks import file, fswalk, home_dirs, iptables, kernel_cmdline, kernel_module, kev, lines, listening, log_files
    from checks import manual, mount, nftables, package, pam, root_path, scan_cadence, service, sshd_host_keys, sudoers
    from checks import sysctl, tls, wireless

    types: list[CheckType] = [
        file.CHECK,
        config.CHECK,
        sysctl.CHECK,
        package.CHECK,
        service.CHECK,
        listening.CHECK,
        kernel_module.CHECK,
        mount.CHECK,
        accounts.CHECK,
        home_dirs.CHECK,
        root_path.CHECK,
        kev.CHECK,
        lines.CHECK,
        fswalk.CHECK,
        end_of_support.CHECK,
        scan_cadence.CHECK,
        tls.CHECK,
        sshd_host_keys.CHECK,
        apt_config.CHECK,
        sudoers.CHECK,
        pam.CHECK,
        nftables.CHECK,
        iptables.CHECK,
        dconf.CHECK,
        wireless.CHECK,
        audit_rules.CHECK,
        kernel_cmdline.CHECK,
        manual.CHECK,
        banner.CHECK,
        log_files.CHECK,
        apparmor.CHECK,
        *compound.CHECKS,
    ]
    return {t.name: t for t in types}


COMPOUND_KEYS = ("all", "any", "none")
CHECK_TYPES: dict[str, CheckType] = _load()


def type_of(spec: Mapping[str, Any]) -> CheckType:
    for key in COMPOUND_KEYS:
        if key in spec:
            return CHECK_TYPES[key]
    return CHECK_TYPES[spec["type"]]


def needs(spec: Mapping[str, Any]) -> set[FactKey]:
    """The facts a check spec needs, so the agent can gather only those, once."""
    return type_of(spec).needs(spec)


def evaluate(spec: Mapping[str, Any], facts: Facts) -> Outcome:
    """Judge one check spec. A missing fact becomes error/not_applicable with its reason. Every
    evidence line comes back with its verdict, the deciding lines first (checks.model.settle)."""
    try:
        return settled(type_of(spec).evaluate(spec, facts))
    except FactUnavailable as exc:
        status = Status.NOT_APPLICABLE if exc.why.not_applicable else Status.ERROR
        return Outcome(status, (Evidence("", "unavailable", str(exc.key), Verdict.INFO),), exc.why.reason)


# Compound checks judge their children through this registry (see checks.compound).
for _compound in compound.CHECKS:
    _compound.bind(needs, evaluate)
