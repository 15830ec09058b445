"""Charts drawn as SVG on the server: no script, nothing fetched, printable, and the numbers
stay in the page for screen readers (each chart carries a title, a description and per-point
titles; the pages show the same figures in tables beside it)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 20, 16, 40


@dataclass(frozen=True)
class Point:
    day: dt.date
    value: int


def _nice_max(value: int) -> int:
    """The smallest 4 x tick at or above ``value``, the tick a round number (1 2 3 5, 10 15 20 25 50, ...)."""
    step = 1
    while True:
        for tick in ((1, 2, 3, 5) if step == 1 else (step, step * 1.5, step * 2, step * 2.5, step * 5)):
            if 4 * tick >= value:
                return int(4 * tick)
        step *= 10


def burndown(points: Sequence[Point], *, due: dt.date | None, today: dt.date, label: str, chart_id: str,
             unit: str = "hosts not yet compliant", met: bool = False) -> Markup:
    """Remaining work per day against the deadline: the actual line, the ideal line from the
    first day to zero on the deadline, and markers for the deadline and today. ``met``: every
    host is compliant now, so a passed deadline is not "overdue"."""
    title = f"Burn-down: {label}"
    if not points:
        return Markup('<p class="empty">No daily history yet: the first point appears after the first snapshot.</p>')
    start = points[0].day
    end = max(today, due or today, points[-1].day)
    if end <= start:
        end = start + dt.timedelta(days=1)
    span = (end - start).days
    top = _nice_max(max(p.value for p in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: dt.date) -> float:
        return round(LEFT + plot_w * (day - start).days / span, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - value / top), 1)

    last = points[-1]
    desc = (f"{len(points)} daily points from {start} to {last.day}; {last.value} {unit} on {last.day}"
            + (f"; deadline {due}" if due else "; no single deadline"))
    out = [f'<svg class="chart burndown" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
           f'role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
           f'xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
           f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>']
    for i in range(5):  # horizontal grid and y labels
        v = top * i / 4
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v)}" y2="{y(v)}"/>')
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{y(v) + 4}" text-anchor="end">{round(v):,}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0)}" y2="{y(0)}"/>')
    row1, row2 = HEIGHT - BOTTOM + 16, HEIGHT - BOTTOM + 32
    out.append(f'<text class="tick" x="{LEFT}" y="{row1}" text-anchor="start">{start:%b %d}</text>')
    if end != today:
        out.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{row1}" text-anchor="end">{end:%b %d}</text>')
    out.append(f'<text class="axis-label" x="12" y="{TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 12 {TOP + plot_h / 2})">{escape(unit)}</text>')
    if today > start:
        out.append(f'<line class="today" x1="{x(today)}" x2="{x(today)}" y1="{TOP}" y2="{y(0)}"/>')
    anchor = "end" if x(today) > WIDTH - RIGHT - 40 else "middle"
    out.append(f'<text class="tick" x="{x(today)}" y="{row1}" text-anchor="{anchor}">today {today:%b %d}</text>')
    if due is not None and due < start:
        out.append(f'<text class="deadline-label{" met" if met else ""}" x="{LEFT}" y="{row2}">deadline {due} passed: '
                   + ('every host compliant' if met else 'everything left is overdue') + '</text>')
    if due is not None and due >= start:
        first = points[0]
        out.append(f'<line class="ideal" x1="{x(first.day)}" y1="{y(first.value)}" x2="{x(due)}" y2="{y(0)}">'
                   f'<title>ideal: zero by {due}</title></line>')
        out.append(f'<line class="deadline" x1="{x(due)}" x2="{x(due)}" y1="{TOP}" y2="{y(0)}"/>')
        anchor = "end" if x(due) > WIDTH - RIGHT - 60 else "start" if x(due) < LEFT + 60 else "middle"
        out.append(f'<text class="deadline-label" x="{x(due)}" y="{row2}" text-anchor="{anchor}">'
                   f'deadline {due:%b %d}</text>')
    coords = " ".join(f"{x(p.day)},{y(p.value)}" for p in points)
    out.append(f'<polyline class="actual" points="{coords}"/>')
    for p in points:
        out.append(f'<circle class="point" cx="{x(p.day)}" cy="{y(p.value)}" r="3">'
                   f'<title>{p.day}: {p.value:,} {escape(unit)}</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))


def meter(pct: float | None, label: str) -> Markup:
    """A small horizontal bar for a percentage cell (the number is printed beside it)."""
    if pct is None:
        return Markup("")
    width = max(0.0, min(100.0, pct))
    level = "good" if pct >= 90 else "warn" if pct >= 60 else "bad"
    return Markup(f'<svg class="meter {level}" viewBox="0 0 100 8" width="100" height="8" aria-hidden="true" '
                  f'focusable="false" xmlns="http://www.w3.org/2000/svg">'
                  f'<rect class="meter-bg" width="100" height="8"/>'
                  f'<rect class="meter-fg" width="{width:.1f}" height="8"><title>{escape(label)}</title></rect></svg>')
