"""The fix-type registry: ``plan`` a fix spec against file state, ``describe`` it for a person."""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from checks.fixes.model import Action, Files


class FixType(Protocol):
    name: str
    schema: Mapping[str, Any]
    disruptive: bool  # by nature (PAM, firewall): the engine marks every such fix

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]: ...

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]: ...

    def describe(self, params: Mapping[str, Any]) -> str: ...


def _load() -> dict[str, FixType]:
    from checks.fixes import audit_rules, file_content, file_mode, grub_cmdline, kernel_module, key_value, lines
    from checks.fixes import manual, mount_option, package, pam_option, service, sshd_option, sysctl, systemd_dropin

    types: list[FixType] = [sshd_option.FIX, sysctl.FIX, file_mode.FIX, package.FIX, service.FIX, kernel_module.FIX,
                            key_value.FIX, systemd_dropin.FIX, pam_option.FIX, audit_rules.FIX, grub_cmdline.FIX,
                            mount_option.FIX, file_content.FIX, lines.FIX, manual.FIX]
    return {t.name: t for t in types}


FIX_TYPES: dict[str, FixType] = _load()
COMPOUND = "all"


def parts(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The single fixes of a spec, an ``all`` flattened, in order."""
    if COMPOUND in spec:
        return [p for child in spec[COMPOUND] for p in parts(child)]
    return [spec]


def is_manual(spec: Mapping[str, Any]) -> bool:
    return all(p.get("type") == "manual" for p in parts(spec))


def disruptive(spec: Mapping[str, Any]) -> bool:
    """Whether applying the fix can lock an operator out: marked so, or of such a type/setting."""
    for p in parts(spec):
        fix = FIX_TYPES[p["type"]]
        lockout = getattr(fix, "lockout", None)
        if p.get("disruptive") or fix.disruptive or (lockout is not None and lockout(p)):
            return True
    return False


def describe(spec: Mapping[str, Any], requirement: str = "ID") -> str:
    """The remediation text of a structured fix: what each part changes, then its notes. The one
    function every remediation shown for a requirement with a structured fix comes from."""
    texts: list[str] = []
    for p in parts(spec):
        texts.append(FIX_TYPES[p["type"]].describe(p))
        if p.get("note"):
            texts.append(f"Note: {p['note']}")
    if not is_manual(spec):
        texts.append(f"`fedharden fix --plan --requirement {requirement}` shows the change; "
                     f"`fedharden fix --apply --requirement {requirement}` makes it.")
    return "\n".join(texts)


def reads(spec: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(path for p in parts(spec) for path in FIX_TYPES[p["type"]].reads(p))


def plan(spec: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
    """The actions a fix needs on a target in state ``files``; each part sees the earlier parts' writes."""
    actions: list[Action] = []
    for p in parts(spec):
        step = FIX_TYPES[p["type"]].plan(p, files)
        files = files.with_actions(step)
        actions.extend(step)
    return tuple(actions)


def summary(spec: Mapping[str, Any]) -> str:
    """One line on a fix: its types and whether it can lock someone out, or a manual fix's question."""
    if is_manual(spec):
        return "manual: " + " ".join(str(p.get("question", "")) for p in parts(spec))
    types = ", ".join(dict.fromkeys(str(p["type"]) for p in parts(spec)))
    return f"{types}{' (disruptive)' if disruptive(spec) else ''}"
