"""sysctl: a kernel parameter holds a value now (runtime) and after reboot (persisted).

The persisted value is the one systemd-sysctl would apply (checks.sysctld: sysctl.d in
/etc, /run, /usr/local/lib, /usr/lib, files of the same name shadowed in that order, read in
lexical order; an explicit key beats a glob). On an offline image only the persisted value can
be judged. A parameter that is not persisted falls back to the kernel default, when the
directive states it.

Per-interface parameters (``interfaces``: net.ipv4.conf.all.X) are judged as the kernel uses
them (include/linux/inetdevice.h): each interface's effective value combines ``all`` with its
own, by ``or`` (accept/send/secure_redirects, log_martians), ``and`` (accept_source_route) or
``max`` (rp_filter); ``own`` means the interface's value alone (IPv6), and then ``all`` is
judged too. Interfaces are ``default`` (what a new interface starts with), every interface a
persisted key names, and every interface a persisted glob can reach; on a running system,
every interface in /proc/sys. Loopback is left out: only the host's own packets cross it.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks import expect
from checks import sysctld
from checks.facts import FactKey, Facts, SysctlSetting, Unavailable
from checks.model import Evidence, Outcome, Status, Verdict

PERSISTED = FactKey("sysctl_persisted")


def runtime_key(key: str) -> FactKey:
    """The running value of one parameter: its text, or None when the kernel has no such one."""
    return FactKey("sysctl", key)


# Loopback carries only the host's own packets: no redirect, source route or spoofed source
# reaches it from a network, so its values are not judged.
LOOPBACK = ("lo",)


def split_interface_key(key: str) -> tuple[str, str]:
    """``net.ipv4.conf.all.rp_filter`` -> (``net/ipv4/conf``, ``rp_filter``)."""
    parts = sysctld.normalize(key).split("/")
    if len(parts) < 3 or parts[-2] != "all":
        raise ValueError(f"{key}: a per-interface check names the parameter of 'all' (net.ipv4.conf.all.X)")
    return "/".join(parts[:-2]), parts[-1]


def interfaces_key(key: str) -> FactKey:
    """The running value of one parameter on every interface (``all`` and ``default`` too):
    a tuple of (interface, text), or None when the kernel has no such family."""
    family, parameter = split_interface_key(key)
    return FactKey("sysctl_interfaces", f"{family}/*/{parameter}")


def _int(value: str) -> int | None:
    try:
        return int(value.split()[0])
    except (ValueError, IndexError):
        return None


def combine(rule: str, all_value: str, own: str) -> str | None:
    """The value the kernel acts on for an interface (IN_DEV_ORCONF / ANDCONF / MAXCONF)."""
    if rule == "own":
        return own
    a, d = _int(all_value), _int(own)
    if a is None or d is None:
        return None
    if rule == "or":
        return str(int(bool(a) or bool(d)))
    if rule == "and":
        return str(int(bool(a) and bool(d)))
    return str(max(a, d))


def _where(setting: SysctlSetting | None) -> str:
    return f"{setting.file}:{setting.line}" if setting is not None else "sysctl.d"


def evaluate_interfaces(params: Mapping[str, Any], facts: Facts) -> Outcome:
    key, rule = params["key"], params["interfaces"]
    family, parameter = split_interface_key(key)

    def name(iface: str) -> str:
        return sysctld.dotted(f"{family}/{iface}/{parameter}")

    expected = f"{name('*')} {expect.describe(params)}" + ("" if rule == "own" else f" ({rule} of all and the interface's own)")
    evidence: list[Evidence] = []
    ok = True
    notes: list[str] = []

    def judge(value: str | None, actual: str, where: str) -> None:
        nonlocal ok
        good = value is not None and expect.satisfied(params, value)
        ok &= good
        evidence.append(Evidence(expected, actual + ("" if value is not None else " (not a number)"), where))

    running = facts.runtime(interfaces_key(key), notes, "runtime values")
    if not isinstance(running, Unavailable):
        if running is None:
            return Outcome(Status.NOT_APPLICABLE, (Evidence(expected, "no such parameter", "/proc/sys"),),
                           f"the running kernel has no parameter {key}")
        assert isinstance(running, tuple)
        values = dict(running)
        all_now = values.get("all", "")
        for iface, value in sorted(values.items()):
            if (iface == "all" and rule != "own") or iface in LOOPBACK:
                continue
            effective = value if iface == "all" else combine(rule, all_now, value)
            shown = f"{name(iface)} = {value}" + ("" if rule == "own" or iface == "all" else f", all = {all_now}: effective {effective}")
            judge(effective, shown + " (running)", "/proc/sys/" + f"{family}/{iface}/{parameter}")

    persisted = facts.need(PERSISTED)
    assert isinstance(persisted, tuple)
    opts = sysctld.options(persisted)
    all_default = str(params.get("default", ""))
    template_default = str(params.get("template_default", all_default))

    # What the two template interfaces hold after boot; simulated, since switching forwarding
    # on or off resets all/accept_redirects (checks.sysctld.kernel_write).
    initial = {f"{family}/{i}/{parameter}": d for i, d in (("all", all_default), ("default", template_default)) if d != ""}
    boot = sysctld.simulate(opts, {sysctld.FORWARDING[0]: "0", **initial})

    def persisted_value(iface: str, fallback: str) -> tuple[str, str, str] | None:
        key = f"{family}/{iface}/{parameter}"
        setting = sysctld.applied(opts, key)
        value = boot.get(key, setting.value if setting is not None else None)
        if value is None:
            return None
        if setting is not None and setting.value == value:
            return value, "persisted", _where(setting)
        if setting is None and value == fallback:
            return value, "kernel default, not persisted", "sysctl.d"
        return value, "as switching net.ipv4.ip_forward leaves it", "sysctl.d"

    all_saved = persisted_value("all", all_default)
    if all_saved is None:
        ok = False
        evidence.append(Evidence(expected, f"{name('all')} not persisted", "sysctl.d"))
        return Outcome(Status.FAIL, tuple(evidence), "; ".join(notes))
    all_value = all_saved[0]
    targets: list[tuple[str, tuple[str, str, str] | None]] = [("default", persisted_value("default", template_default))]
    for pattern, setting in opts.items():
        parts = pattern.split("/")
        if (setting.value is not None and not sysctld.is_glob(pattern) and "/".join(parts[:-2]) == family
                and parts[-1] == parameter and parts[-2] not in ("all", "default", *LOOPBACK)):
            targets.append((parts[-2], (setting.value, "persisted", _where(setting))))
    for pattern, setting in sysctld.interface_globs(opts, family, parameter):
        assert setting.value is not None
        targets.append((pattern.split("/")[-2], (setting.value, "persisted for every interface the glob matches", _where(setting))))
    if rule == "own":
        judge(all_value, f"{name('all')} = {all_value} ({all_saved[1]})", all_saved[2])
    for iface, saved in targets:
        if saved is None:
            ok = False
            evidence.append(Evidence(expected, f"{name(iface)} not persisted", "sysctl.d"))
            continue
        value, how, where = saved
        effective = combine(rule, all_value, value)
        shown = f"{name(iface)} = {value} ({how})"
        if rule != "own":
            shown += f", all = {all_value} ({all_saved[1]}): effective {effective}"
        judge(effective, shown, where)
    return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence), "; ".join(notes))


class SysctlCheck:
    name = "sysctl"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "sysctl"},
            "key": {"type": "string", "pattern": r"^[a-z0-9_.\-*/]+$"},
            "default": {"type": ["string", "integer"]},
            "interfaces": {"enum": ["or", "and", "max", "own"]},
            "template_default": {"type": ["string", "integer"]},
            **expect.SCHEMA_PROPERTIES,
        },
        "required": ["type", "key"],
        "additionalProperties": False,
        # a per-interface check names the parameter of `all`: net.ipv4.conf.all.rp_filter
        "if": {"required": ["interfaces"]},
        "then": {"properties": {"key": {"pattern": r"^net[./]ipv[46][./]conf[./]all[./][a-z0-9_]+$"}}},
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        if "interfaces" in params:
            return {interfaces_key(params["key"]), PERSISTED}
        return {runtime_key(params["key"]), PERSISTED}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        if "interfaces" in params:
            return evaluate_interfaces(params, facts)
        key = params["key"]
        expected = f"{key} {expect.describe(params)}"
        evidence: list[Evidence] = []
        ok = True
        notes: list[str] = []

        value = facts.runtime(runtime_key(key), notes, "runtime value")
        if not isinstance(value, Unavailable):
            if value is None:
                return Outcome(Status.NOT_APPLICABLE, (Evidence(expected, "no such parameter", "/proc/sys"),),
                               f"the running kernel has no parameter {key}")
            assert isinstance(value, str)
            good = expect.satisfied(params, value)
            ok &= good
            evidence.append(Evidence(expected, f"{key} = {value} (running)", "/proc/sys/" + key.replace(".", "/"),
                                     Verdict.of(good)))

        persisted = facts.need(PERSISTED)
        assert isinstance(persisted, tuple)
        setting = sysctld.persisted_sysctl(persisted, key)
        if setting is not None:
            assert setting.value is not None  # an exclusion (``-key``) applies no value: None above
            good = expect.satisfied(params, setting.value)
            ok &= good
            evidence.append(Evidence(expected, f"{key} = {setting.value} (persisted)", f"{setting.file}:{setting.line}",
                                     Verdict.of(good)))
        elif "default" in params:
            good = expect.satisfied(params, str(params["default"]))
            ok &= good
            evidence.append(Evidence(expected, f"{key} not persisted; kernel default {params['default']}", "sysctl.d",
                                     Verdict.of(good)))
        else:
            ok = False
            evidence.append(Evidence(expected, f"{key} not persisted", "sysctl.d", Verdict.VIOLATION))
        return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence), "; ".join(notes))


CHECK = SysctlCheck()
