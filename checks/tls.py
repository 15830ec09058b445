"""tls: what the host's own web and mail listeners answered to a probe (BOD 18-01).

Rules (each judges every listener found on its ports; no listener at all is
``not_applicable``, a listener that could not be probed is ``error``):

- ``protocols``: TLS listeners (``tls_ports``) and SMTP STARTTLS (``starttls_ports``) refuse
  SSLv2, SSLv3, TLS 1.0 and TLS 1.1;
- ``ciphers``: the same listeners refuse RC4 and 3DES suites when offered nothing else;
- ``https_redirect``: plain HTTP listeners (``http_ports``) answer GET / with a redirect to https://;
- ``hsts``: HTTPS listeners (``tls_ports``) send Strict-Transport-Security with max-age of at
  least ``min_max_age`` seconds;
- ``starttls``: SMTP listeners (``starttls_ports``) offer STARTTLS.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from checks.facts import FactKey, Facts, Probe, Probes
from checks.model import Evidence, Outcome, Status, Verdict

LEGACY = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")
REDIRECTS = (301, 302, 303, 307, 308)
MAX_AGE = re.compile(r'(?:^|;)\s*max-age\s*=\s*"?(\d+)"?', re.I)
PORTS = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}, "minItems": 1}


def keys(params: Mapping[str, Any]) -> list[FactKey]:
    rule = params["rule"]
    out: list[FactKey] = []
    if rule in ("protocols", "ciphers"):
        out += [FactKey("tls_probe", f"tls:{p}") for p in params.get("tls_ports", ())]
        out += [FactKey("tls_probe", f"smtp:{p}") for p in params.get("starttls_ports", ())]
    elif rule == "starttls":
        out += [FactKey("tls_probe", f"smtp:{p}") for p in params.get("starttls_ports", ())]
    elif rule == "https_redirect":
        out += [FactKey("tls_probe", f"http:{p}") for p in params.get("http_ports", ())]
    else:
        out += [FactKey("tls_probe", f"https:{p}") for p in params.get("tls_ports", ())]
    return out


def judge(rule: str, probe: Probe, params: Mapping[str, Any]) -> tuple[bool | None, Evidence]:
    """(True pass, False fail, None not judged) and the evidence for one listener."""
    where = f"{probe.target}:{probe.port}" + (f" ({probe.process})" if probe.process else "")
    if rule == "protocols":
        bad = [v for v in probe.accepted if v in LEGACY]
        if probe.kind == "smtp" and not probe.starttls:
            return None, Evidence("TLS 1.2 or later only", "no STARTTLS offered: nothing to judge", where)
        shown = ", ".join(probe.accepted) or "no version of SSLv2 to TLS 1.2 (TLS 1.3 only, or not TLS)"
        return not bad, Evidence("SSLv2, SSLv3, TLS 1.0 and TLS 1.1 refused", f"accepts {shown}", where)
    if rule == "ciphers":
        if probe.kind == "smtp" and not probe.starttls:
            return None, Evidence("RC4 and 3DES refused", "no STARTTLS offered: nothing to judge", where)
        shown = ", ".join(probe.weak_ciphers) or "refused every RC4 and 3DES suite"
        return not probe.weak_ciphers, Evidence("RC4 and 3DES refused", shown, where)
    if rule == "starttls":
        return probe.starttls, Evidence("STARTTLS offered", "offered" if probe.starttls else "not offered", where)
    if rule == "https_redirect":
        ok = probe.status in REDIRECTS and probe.location.lower().startswith("https://")
        shown = f"HTTP {probe.status}" + (f" to {probe.location}" if probe.location else "")
        return ok, Evidence("a redirect to https://", shown, where)
    minimum = int(params.get("min_max_age", 31536000))
    found = MAX_AGE.search(probe.hsts or "")
    ok = found is not None and int(found.group(1)) >= minimum
    shown = "no Strict-Transport-Security header" if probe.hsts is None else f"Strict-Transport-Security: {probe.hsts}"
    return ok, Evidence(f"Strict-Transport-Security max-age >= {minimum}", shown, where)


class TlsCheck:
    name = "tls"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "tls"},
            "rule": {"enum": ["protocols", "ciphers", "https_redirect", "hsts", "starttls"]},
            "tls_ports": PORTS,
            "starttls_ports": PORTS,
            "http_ports": PORTS,
            "min_max_age": {"type": "integer", "minimum": 0},
        },
        "required": ["type", "rule"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return set(keys(params))

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        rule = params["rule"]
        probes: list[Probe] = []
        for key in keys(params):
            found = facts.need(key)
            assert isinstance(found, Probes)
            probes.extend(found.probes)
        if not probes:
            ports = sorted({int(k.arg.split(":")[1]) for k in keys(params)})
            return Outcome(Status.NOT_APPLICABLE, (Evidence("", "nothing listening", f"ports {ports}"),),
                           f"no listener on ports {', '.join(map(str, ports))}")
        evidence: list[Evidence] = []
        verdicts: list[bool] = []
        errors: list[str] = []
        for probe in probes:
            if probe.error:
                errors.append(probe.error)
                evidence.append(Evidence("a listener that answers the probe", probe.error,
                                         f"{probe.target}:{probe.port}", Verdict.INFO))
                continue
            verdict, item = judge(rule, probe, params)
            evidence.append(item.judged(Verdict.INFO if verdict is None else Verdict.of(verdict)))
            if verdict is not None:
                verdicts.append(verdict)
        if not all(verdicts):
            return Outcome(Status.FAIL, tuple(evidence))
        if errors:
            return Outcome(Status.ERROR, tuple(evidence), "; ".join(errors))
        if not verdicts:
            return Outcome(Status.NOT_APPLICABLE, tuple(evidence), "no listener to judge for this rule")
        return Outcome(Status.PASS, tuple(evidence))


CHECK = TlsCheck()
