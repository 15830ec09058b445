"""Tailoring: an agency's selection of requirements and values for tunable parameters,
applied to the loaded directives without editing them.

    title: Agency web-server profile
    select: [HARDEN-30D, BOD-23-02.1]          # optional: only these directives/requirements
    deselect:
      - {id: HARDEN-30D.SSH.7, reason: "load balancer health checks need the default"}
    parameters:
      - {id: HARDEN-30D.ssh_idle_timeout, value: 600, reason: "agency policy: 10 minutes"}

Every id must exist in the loaded directives and every value must fit its parameter's
declaration; problems are reported as ``file:line: $.path: message`` like a directive's.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Sequence

from directives.errors import TailoringError
from directives.loader import build_requirement
from directives.model import Directive, Requirement
from directives.params import value_errors
from directives.yamldoc import YamlDoc, read_text, schema_validator
from checks.record import record


@record
class Override:
    """A tailoring's value for one parameter of a directive."""

    directive: str
    parameter: str
    value: Any
    reason: str = ""

    @property
    def id(self) -> str:
        return f"{self.directive}.{self.parameter}"


@record
class Tailoring:
    """An agency's selection of requirements and parameter values."""

    title: str
    source: str
    digest: str
    description: str = ""
    version: str = ""
    select: tuple[str, ...] = ()
    deselect: tuple[tuple[str, str], ...] = ()  # (id, reason)
    overrides: tuple[Override, ...] = ()

    def wants(self, directive: Directive, requirement: Requirement) -> bool:
        if self.select and directive.id not in self.select and requirement.id not in self.select:
            return False
        deselected = {i for i, _ in self.deselect}
        return directive.id not in deselected and requirement.id not in deselected

    def apply(self, directives: Sequence[Directive]) -> list[Directive]:
        """The directives with unwanted requirements dropped and overridden values substituted."""
        out = []
        for directive in directives:
            values = {p.id: p.default for p in directive.parameters}
            values.update({o.parameter: o.value for o in self.overrides if o.directive == directive.id})
            requirements = tuple(
                build_requirement(dict(r.template), directive.id, directive.issued, values)
                if r.template is not None else r
                for r in directive.requirements if self.wants(directive, r)
            )
            out.append(dataclasses.replace(directive, requirements=requirements))
        return out

    def to_json(self, directives: Sequence[Directive]) -> dict[str, Any]:
        """scan.tailoring of the report: what was changed, from what, and why."""
        defaults = {f"{d.id}.{p.id}": p.default for d in directives for p in d.parameters}
        out: dict[str, Any] = {"title": self.title, "source": self.source, "digest": self.digest}
        if self.description:
            out["description"] = self.description
        if self.version:
            out["version"] = self.version
        out["select"] = list(self.select)
        out["deselect"] = [{"id": i, "reason": reason} for i, reason in self.deselect]
        out["parameters"] = [{"id": o.id, "value": o.value, "default": defaults.get(o.id), "reason": o.reason}
                             for o in self.overrides]
        return out


def _known(directives: Sequence[Directive]) -> set[str]:
    return {d.id for d in directives} | {r.id for d in directives for r in d.requirements}


def _unknown(doc: YamlDoc, path: tuple[Any, ...], what: str, name: str, choices: set[str]) -> None:
    from difflib import get_close_matches  # only for a mistake: not on every scan's imports

    close = get_close_matches(name, sorted(choices), n=1)
    doc.problem(path, f"unknown {what} {name}" + (f" (did you mean {close[0]}?)" if close else ""))


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def parse_tailoring(text: str, name: str, directives: Sequence[Directive]) -> Tailoring:
    doc = YamlDoc(text, name, TailoringError)
    data = doc.data
    if not isinstance(data, dict):
        raise TailoringError([f"{name}:1: $: a tailoring file must be a mapping"])
    doc.validate(schema_validator("tailoring.schema.json"))
    known = _known(directives)
    by_id = {d.id: d for d in directives}
    for i, item in enumerate(_list(data, "select")):
        if isinstance(item, str) and item not in known:
            _unknown(doc, ("select", i), "directive or requirement id", item, known)
    for i, item in enumerate(_list(data, "deselect")):
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] not in known:
            _unknown(doc, ("deselect", i, "id"), "directive or requirement id", item["id"], known)
    overrides: list[Override] = []
    seen: set[str] = set()
    parameters = {f"{d.id}.{p.id}": (d, p) for d in directives for p in d.parameters}
    for i, item in enumerate(_list(data, "parameters")):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or "value" not in item:
            continue
        pid = item["id"]
        if pid not in parameters:
            directive_id = pid.rpartition(".")[0]
            if directive_id in by_id and not by_id[directive_id].parameters:
                doc.problem(("parameters", i, "id"), f"{directive_id} declares no tunable parameters")
            else:
                _unknown(doc, ("parameters", i, "id"), "parameter", pid, set(parameters))
            continue
        if pid in seen:
            doc.problem(("parameters", i, "id"), f"parameter {pid} is set twice")
            continue
        seen.add(pid)
        directive, parameter = parameters[pid]
        problems = value_errors(parameter, item["value"])
        for message in problems:
            doc.problem(("parameters", i, "value"), f"{message} ({pid}: {parameter.title})")
        if not problems:
            overrides.append(Override(directive.id, parameter.id, item["value"], str(item.get("reason", ""))))
    doc.raise_problems()
    return Tailoring(
        title=data["title"].strip(), source=name, digest="sha256:" + hashlib.sha256(text.encode()).hexdigest(),
        description=data.get("description", ""), version=str(data.get("version", "")),
        select=tuple(data.get("select") or ()),
        deselect=tuple((d["id"], d["reason"].strip()) for d in data.get("deselect") or ()),
        overrides=tuple(overrides),
    )


def load_tailoring(path: str, directives: Sequence[Directive]) -> Tailoring:
    return parse_tailoring(read_text(path, TailoringError), path, directives)
