"""The server-drawn SVG burn-down: geometry against the deadline, escaping, accessible text."""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("jinja2", reason="the collector extra is not installed")

from collectors.dashboard.charts import Point, _nice_max, burndown, meter  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
TODAY = dt.date(2026, 11, 26)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_burndown_draws_actual_ideal_and_deadline() -> None:
    points = [Point(TODAY - dt.timedelta(days=k), v) for k, v in ((4, 40), (2, 30), (0, 25))]
    svg = parse(burndown(points, due=TODAY + dt.timedelta(days=4), today=TODAY, label="X <b>", chart_id="c1"))
    assert svg.find(f"{SVG}title").text == "Burn-down: X <b>"  # escaped in the markup, text once parsed
    assert len(svg.findall(f"{SVG}circle")) == 3
    ideal = svg.find(f"{SVG}line[@class='ideal']")
    deadline = svg.find(f"{SVG}line[@class='deadline']")
    assert ideal is not None and deadline is not None
    assert ideal.get("x2") == deadline.get("x1") == "620.0"  # the deadline is the right edge
    assert float(ideal.get("y2")) == float(svg.find(f"{SVG}line[@class='axis']").get("y1"))  # zero on the deadline
    assert "25 hosts not yet compliant" in svg.find(f"{SVG}desc").text


def test_burndown_after_the_deadline_says_everything_left_is_overdue() -> None:
    svg = parse(burndown([Point(TODAY - dt.timedelta(days=1), 3), Point(TODAY, 2)], due=dt.date(2023, 6, 27),
                         today=TODAY, label="BOD", chart_id="c2"))
    assert svg.find(f"{SVG}line[@class='ideal']") is None
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert "deadline 2023-06-27 passed: everything left is overdue" in labels


def test_burndown_without_history_says_so() -> None:
    assert "No daily history yet" in burndown([], due=None, today=TODAY, label="x", chart_id="c3")


@pytest.mark.parametrize(("value", "top"), [(0, 4), (3, 4), (7, 8), (11, 12), (19, 20), (45, 60), (99, 100),
                                            (1234, 2000), (99_999, 100_000)])
def test_axis_tops_are_round_in_four_steps(value: int, top: int) -> None:
    assert _nice_max(value) == top


def test_meter_clamps_and_is_hidden_from_screen_readers() -> None:
    svg = parse(meter(140.0, "a & b"))
    assert svg.get("aria-hidden") == "true"
    assert svg.findall(f"{SVG}rect")[1].get("width") == "100.0"
    assert meter(None, "x") == ""
