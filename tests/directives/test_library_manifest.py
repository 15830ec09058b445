"""The manifest of validated shipped directives must match the files, or scans would trust
unvalidated data (or pay for validation on every start)."""
from __future__ import annotations

import json
import os
from importlib import resources

from directives.loader import MANIFEST, digest_of, library_paths, validated_digests


def test_manifest_lists_exactly_the_shipped_files() -> None:
    manifest = json.loads(resources.files("directives").joinpath(MANIFEST).read_text())
    actual = {}
    for path in library_paths():
        with open(path, encoding="utf-8") as fh:
            actual[os.path.basename(path)] = digest_of(fh.read())
    assert manifest == actual, "the directive library changed: run `python -m directives` to re-validate it"


def test_an_edited_shipped_file_is_validated_in_full() -> None:
    assert digest_of("id: X\n") not in validated_digests()
