"""The manifest of validated shipped directives must match the files, or scans would trust
unvalidated data (or pay for validation on every start)."""
from __future__ import annotations

import hashlib
import json
import os
from importlib import resources

from directives.loader import HEADER, MANIFEST, digest_of, library_paths, load_file, validated_digests
from directives.yamldoc import YamlDoc, read_text


def documented_digest(path: str) -> str:
    """The digest as docs/directives.md defines it, computed here independently of the loader: a
    file's bytes; a folder's directive.yaml then its sections in order, each as name NUL length NUL bytes."""
    if not os.path.isdir(path):
        return digest_of(read_text(path))
    sha = hashlib.sha256()
    sections = YamlDoc(read_text(os.path.join(path, HEADER)), HEADER).data["sections"]
    for name in [HEADER, *(f"{stem}.yaml" for stem in sections)]:
        with open(os.path.join(path, name), "rb") as fh:
            data = fh.read()
        sha.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + sha.hexdigest()


def test_manifest_lists_exactly_the_shipped_files() -> None:
    manifest = json.loads(resources.files("directives").joinpath(MANIFEST).read_text())
    actual = {os.path.basename(path): documented_digest(path) for path in library_paths()}
    assert any(os.path.isdir(path) for path in library_paths())
    assert manifest == actual, "the directive library changed: run `python -m directives` to re-validate it"


def test_a_loaded_directive_carries_its_documented_digest() -> None:
    for path in library_paths():
        assert load_file(path).digest == documented_digest(path), path


def test_an_edited_shipped_file_is_validated_in_full() -> None:
    assert digest_of("id: X\n") not in validated_digests()
