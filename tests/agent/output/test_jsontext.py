"""agent.output.common.indented_json writes exactly what json.dumps(indent=2, ensure_ascii=False) writes:
for a real report of this machine, and for every kind of value and key JSON has."""
from __future__ import annotations

import json
import math
from enum import IntEnum
from typing import Any

import pytest

from agent.output.common import indented_json as dumps


def reference(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


class Level(IntEnum):
    HIGH = 3


class Name(str):
    pass


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**70, 1.5, -0.0, 1e300, 1e-7, math.inf, -math.inf, math.nan, "", "plain",
    "quotes \" and \\ backslash", "controls \x00\x01\x1f\x7f\t\n", "é ü 日本 \u2028 \u202e \U0001F600",
    "lone \udc80 surrogate", [], {}, [[]], [{}], {"a": []}, {"a": {}}, (1, 2), [(), ()],
    {"nested": {"list": [1, "two", None, [True, {"x": 1.25}]], "empty": {}}},
    {7: "int key", 2.5: "float key", True: "true key", False: "false key", None: "null key", "s": "str key"},
    {Name("sub"): Name("string subclass"), "level": Level.HIGH}, [Level.HIGH, Name("n")],
    {"deep": [[[[[[[["eight"]]]]]]]]},
])
def test_the_same_text_as_json_dumps(value: Any) -> None:
    assert dumps(value) == reference(value)


def test_a_real_report(tmp_path: Any) -> None:
    from agent.hosts import LocalHost
    from agent.scan import Scan
    from directives import load_library

    report = Scan(LocalHost(), load_library()).run()
    assert dumps(report) == reference(report)


def test_what_json_refuses_it_refuses_the_same_way() -> None:
    # (a report is a tree: the writer does not look for cycles, as json.dumps does)
    for bad in ({"set": {1, 2}}, {(1, 2): "tuple key"}, [object()]):
        with pytest.raises((TypeError, ValueError)) as ours:
            dumps(bad)
        with pytest.raises((TypeError, ValueError)) as theirs:
            reference(bad)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
