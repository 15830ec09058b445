"""file: a path exists (or is absent), with an owner, a group and at most a given mode.

``group`` may list the groups allowed (``[root, shadow]``: Debian gives /etc/shadow to group
shadow so that unix_chkpwd can read it, RHEL to root).

``path`` may list alternatives where distros differ (``[/boot/grub/grub.cfg,
/boot/grub2/grub.cfg]``): the first that exists is judged; when none exists, the first is.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts, FileInfo
from checks.model import Evidence, Outcome, Status, Verdict


def paths(params: Mapping[str, Any]) -> list[str]:
    raw = params["path"]
    return [raw] if isinstance(raw, str) else list(raw)


class FileCheck:
    name = "file"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "file"},
            "path": {"type": ["string", "array"], "pattern": "^/", "minItems": 1,
                     "items": {"type": "string", "pattern": "^/"}},
            "exists": {"type": "boolean", "default": True},
            "kind": {"enum": ["file", "dir"]},
            "owner": {"type": "string"},
            "group": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
            "max_mode": {"type": "string", "pattern": "^0?[0-7]{3,4}$"},
            "missing_ok": {"type": "boolean"},
        },
        "required": ["type", "path"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FactKey("file", p) for p in paths(params)}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        infos = [facts.need(FactKey("file", p)) for p in paths(params)]
        info = next((i for i in infos if isinstance(i, FileInfo) and i.exists), infos[0])
        assert isinstance(info, FileInfo)
        path = info.path
        want_exists = params.get("exists", True)
        if not info.exists:
            if not want_exists:
                return Outcome(Status.PASS, (Evidence("absent", "absent", path),))
            if params.get("missing_ok"):
                return Outcome(Status.NOT_APPLICABLE, (Evidence("present", "absent", path),),
                               f"{path} does not exist")
            return Outcome(Status.FAIL, (Evidence("present", "absent", path),))
        if not want_exists:
            return Outcome(Status.FAIL, (Evidence("absent", f"present ({info.kind})", path),))

        evidence: list[Evidence] = []
        ok = True
        if "kind" in params:
            good = info.kind == params["kind"]
            ok &= good
            evidence.append(Evidence(f"kind {params['kind']}", f"kind {info.kind}", path, Verdict.of(good)))
        if "owner" in params:
            actual = info.owner or str(info.uid)
            good = actual == params["owner"]
            ok &= good
            evidence.append(Evidence(f"owner {params['owner']}", f"owner {actual}", path, Verdict.of(good)))
        if "group" in params:
            actual = info.group or str(info.gid)
            groups = [params["group"]] if isinstance(params["group"], str) else list(params["group"])
            good = actual in groups
            ok &= good
            evidence.append(Evidence(f"group {' or '.join(groups)}", f"group {actual}", path, Verdict.of(good)))
        if "max_mode" in params:
            limit = int(params["max_mode"], 8)
            # "At most" means no permission bit beyond the limit's bits.
            good = info.mode & ~limit & 0o7777 == 0
            ok &= good
            evidence.append(Evidence(f"mode {limit:04o} or stricter", f"mode {info.mode & 0o7777:04o}", path,
                                     Verdict.of(good)))
        if not evidence:
            evidence.append(Evidence("present", f"present ({info.kind})", path))
        return Outcome.of(ok, evidence)


CHECK = FileCheck()
