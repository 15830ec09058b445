"""python -m directives: validate the shipped library in full and refresh its manifest.

Run it after editing any file in directives/library/.
"""
from __future__ import annotations

from directives.loader import DirectiveError, write_manifest

try:
    print(f"wrote {write_manifest()}")
except DirectiveError as exc:
    raise SystemExit("\n".join(exc.problems)) from None
