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
