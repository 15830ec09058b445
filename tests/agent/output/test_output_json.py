"""The JSON report with waivers: valid against the report schema, and its golden file."""
from __future__ import annotations

import json
from typing import Any

from agent.output import FORMATS
from agent.contract import validation_errors


def test_json_report_with_waivers_is_valid(fixture_report: dict[str, Any], golden: Any) -> None:
    text = FORMATS["json"](fixture_report, False)
    report = json.loads(text)
    assert validation_errors(report) == []
    assert report["summary"]["counts"] == {"pass": 1, "fail": 2, "error": 1, "not_applicable": 1, "waived": 1,
                                           "manual": 0}
    assert report["summary"]["score"] == round(1 / 3, 4)  # waived is not pass
    assert [w["state"] for w in report["scan"]["waivers"]] == ["active", "expired"]  # the third is another host's
    golden("report.json", text)


def test_the_indenting_encoder_writes_what_json_dumps_writes(fixture_report: dict[str, Any]) -> None:
    import enum
    import random
    import string

    import pytest

    from agent.output.common import indented_json

    class Number(enum.IntEnum):
        THREE = 3

    edge: list[Any] = [{}, [], "", 0, None, True, False, 1.5, -0.0, 1e-300, 10**30, float("nan"), float("inf"),
                       -float("inf"), {"a": [], "b": {}}, [[], {}], (1, (2, 3)), {2: "x", 2.5: "y", True: "z", None: "n"},
                       {"k\u2028\x00\"\\": ["\udc80", "é", "\x1b[31m"]}, {"n": Number.THREE, Number.THREE: 1},
                       fixture_report]
    rnd = random.Random(23)

    def shape(depth: int) -> Any:
        r = rnd.random()
        if depth > 4 or r < 0.3:
            return rnd.choice([rnd.randint(-10**6, 10**6), rnd.random(), None, True, False,
                               "".join(rnd.choice(string.printable + "é\u2029") for _ in range(rnd.randint(0, 8)))])
        if r < 0.65:
            return [shape(depth + 1) for _ in range(rnd.randint(0, 4))]
        return {"".join(rnd.choice(string.ascii_letters) for _ in range(rnd.randint(0, 5))): shape(depth + 1)
                for _ in range(rnd.randint(0, 4))}

    for value in [*edge, *(shape(0) for _ in range(500))]:
        assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False)
    for bad in ({"a": object()}, {(1,): 2}, {1, 2}):
        with pytest.raises(TypeError):
            indented_json(bad)
