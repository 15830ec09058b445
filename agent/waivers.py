"""Applying waivers to results: an active waiver turns a fail into waived, with the waiver as
evidence; an expired (or not yet started) one leaves the result as judged and flags it."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Iterable, Sequence

from agent.report import Result
from checks.model import Evidence, Status, Verdict
from directives.waivers import ACTIVE, EXPIRED, Waiver

# Which matching waiver speaks for a result: an active one first, then the latest expiry.
_RANK = {ACTIVE: 0, EXPIRED: 1}


def for_host(waivers: Iterable[Waiver], hostname: str, host_id: str, tags: Iterable[str]) -> list[Waiver]:
    """The waivers whose host and tag scope includes this host."""
    tag_set = set(tags)
    return [w for w in waivers if w.scoped_to(hostname, host_id, tag_set)]


def _pick(candidates: Sequence[Waiver], today: dt.date) -> Waiver:
    return min(candidates, key=lambda w: (_RANK.get(w.state(today), 2), -w.expires.toordinal(), w.source))


def apply(results: Sequence[Result], waivers: Sequence[Waiver], today: dt.date) -> tuple[list[Result], list[str]]:
    """Results with waivers applied, and one warning per expired or pending waiver that matched."""
    out: list[Result] = []
    warnings: list[str] = []
    for result in results:
        candidates = [w for w in waivers if w.covers(result.requirement, result.finding)]
        if not candidates:
            out.append(result)
            continue
        waiver = _pick(candidates, today)
        state = waiver.state(today)
        record = waiver.to_json(today)
        if state == ACTIVE and result.status is Status.FAIL:
            by = f" by {waiver.approver}" if waiver.approver else ""
            ticket = f" ({waiver.ticket})" if waiver.ticket else ""
            evidence = Evidence("an unexpired waiver", f"waived{by} until {waiver.expires}{ticket}: {waiver.justification}",
                                waiver.source, Verdict.INFO)
            out.append(dataclasses.replace(
                result, status=Status.WAIVED, overdue=False, waiver=record, evidence=(evidence, *result.evidence),
                message=f"waived until {waiver.expires}{ticket}" + (f"; {result.message}" if result.message else ""),
            ))
            continue
        if state == EXPIRED:
            warnings.append(f"waiver for {result.key} ({waiver.source}) expired on {waiver.expires}; evaluated normally")
        elif state != ACTIVE:
            warnings.append(f"waiver for {result.key} ({waiver.source}) starts on {waiver.start}; evaluated normally")
        out.append(dataclasses.replace(result, waiver=record))
    return out, warnings
