"""python -m directives: validate the shipped library in full, refresh its manifest, and rewrite
the shipped profiles (directives/profiles/) from it.

Run it after editing any file in directives/library/.
"""
from __future__ import annotations

from directives.cis_profiles import write as write_profiles
from directives.loader import DirectiveError, load_library, write_manifest

try:
    print(f"wrote {write_manifest()}")
    for path in write_profiles(load_library()):
        print(f"wrote {path}")
except DirectiveError as exc:
    raise SystemExit("\n".join(exc.problems)) from None
