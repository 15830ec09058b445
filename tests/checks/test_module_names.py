"""Each check type lives in the module named for it (checks/NAME.py), so a directive's
``type: NAME`` leads straight to its code; the compound checks share checks/compound.py."""
from __future__ import annotations

from checks.registry import CHECK_TYPES, COMPOUND_KEYS


def test_each_check_module_is_named_for_its_check_type() -> None:
    misnamed = {name: type(check).__module__ for name, check in CHECK_TYPES.items()
                if type(check).__module__ != ("checks.compound" if name in COMPOUND_KEYS else f"checks.{name}")}
    assert misnamed == {}
    assert len(CHECK_TYPES) > len(COMPOUND_KEYS)
