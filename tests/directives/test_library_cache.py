"""The compiled cache of the shipped library: what it gives back equals what the YAML gives,
and a file that is stale, corrupt, forged or writable by others is never used."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
from importlib import resources
from pathlib import Path

import pytest

from directives import library_cache, library_paths, load_paths
from directives.model import Directive
from directives.params import Parameter

LIBRARY = str(resources.files("directives").joinpath("library"))


def fresh() -> list[Directive]:
    return load_paths(library_paths())


def cache_file(folder: Path) -> Path:
    (only,) = [p for p in folder.iterdir() if p.name.endswith(".json")]
    return only


def built(tmp_path: Path) -> Path:
    """A cache folder holding the library's cache file, written by a first load."""
    library_cache.load(fresh, str(tmp_path))
    return cache_file(tmp_path)


def counted_build() -> tuple[list[int], object]:
    calls: list[int] = []

    def build() -> list[Directive]:
        calls.append(1)
        return fresh()

    return calls, build


def test_the_cached_library_equals_the_freshly_loaded_one(tmp_path: Path) -> None:
    path = built(tmp_path)
    cached = library_cache.read(str(path), library_cache.key(LIBRARY))
    loaded = fresh()
    assert cached == loaded
    # Equal field by field, types included: a tuple stays a tuple, a date a date.
    for a, b in zip(cached, loaded):
        for field in dataclasses.fields(Directive):
            assert type(getattr(a, field.name)) is type(getattr(b, field.name)), field.name
        for ra, rb in zip(a.requirements, b.requirements):
            assert ra == rb and type(ra.issued) is dt.date and type(ra.parameters) is tuple
            assert ra.template == rb.template


def test_a_second_load_reads_the_cache_and_builds_nothing(tmp_path: Path) -> None:
    built(tmp_path)
    calls, build = counted_build()
    assert library_cache.load(build, str(tmp_path)) == fresh()  # type: ignore[arg-type]
    assert calls == []


def test_a_tampered_payload_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    path = built(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"Enhance Email and Web Security", b"Enhance Email and Web Securitx"))
    with pytest.raises(library_cache.Stale):
        library_cache.read(str(path), library_cache.key(LIBRARY))
    calls, build = counted_build()
    assert library_cache.load(build, str(tmp_path)) == fresh()  # type: ignore[arg-type]
    assert calls == [1]
    assert path.read_bytes() == raw  # rewritten whole


def test_a_forged_payload_with_its_own_digest_is_used_only_with_a_matching_key(tmp_path: Path) -> None:
    path = built(tmp_path)
    head, _, payload = path.read_bytes().partition(b"\n")
    header = json.loads(head)
    header["key"] = "sha256:" + "0" * 64  # a library of another day
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)
    calls, build = counted_build()
    assert library_cache.load(build, str(tmp_path)) == fresh()  # type: ignore[arg-type]
    assert calls == [1]


@pytest.mark.parametrize("damage", [
    lambda raw: raw[: len(raw) // 2],  # truncated
    lambda raw: b"",  # empty
    lambda raw: b"not json\n" + raw,  # a foreign file
    lambda raw: raw.replace(b'"directives.model:Requirement"', b'"directives.model:Nothing"'),  # unknown class
    lambda raw: raw.replace(b'"directives.model:Requirement"', b'"agent.cli:main"'),  # outside the model
])
def test_a_corrupt_file_is_ignored(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    path = built(tmp_path)
    raw = path.read_bytes()
    damaged = damage(raw)
    if damaged != raw and b"\n" in damaged:  # keep the header's digest true, so only the content is wrong
        head, _, payload = damaged.partition(b"\n")
        try:
            header = json.loads(head)
            header["sha256"] = __import__("hashlib").sha256(payload).hexdigest()
            damaged = json.dumps(header).encode() + b"\n" + payload
        except ValueError:
            pass
    path.write_bytes(damaged)
    with pytest.raises(library_cache.Stale):
        library_cache.read(str(path), library_cache.key(LIBRARY))
    assert library_cache.load(fresh, str(tmp_path)) == fresh()


def test_a_file_others_can_write_is_not_read(tmp_path: Path) -> None:
    path = built(tmp_path)
    os.chmod(path, 0o664)
    with pytest.raises(library_cache.Stale):
        library_cache.read(str(path), library_cache.key(LIBRARY))
    os.chmod(path, 0o600)
    os.chmod(tmp_path, 0o777)
    with pytest.raises(library_cache.Stale):
        library_cache.read(str(path), library_cache.key(LIBRARY))


def test_a_symlinked_cache_file_is_not_followed(tmp_path: Path) -> None:
    path = built(tmp_path)
    real = tmp_path / "elsewhere.bin"
    path.rename(real)
    path.symlink_to(real)
    with pytest.raises(library_cache.Stale):
        library_cache.read(str(path), library_cache.key(LIBRARY))


def test_the_key_changes_with_any_library_file(tmp_path: Path) -> None:
    copy = tmp_path / "library"
    shutil.copytree(LIBRARY, copy)
    before = library_cache.key(str(copy))
    section = next((copy / "harden-30d").glob("ssh.yaml"))
    section.write_text(section.read_text() + "\n")
    assert library_cache.key(str(copy)) != before
    section.rename(copy / "harden-30d" / "ssh2.yaml")
    assert library_cache.key(str(copy)) != before


def test_an_unwritable_location_only_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert library_cache.load(fresh, str(blocker / "sub")) == fresh()


def test_values_the_codec_does_not_know_are_not_cached(tmp_path: Path) -> None:
    odd = Parameter(id="p", title="t", type="string", default=frozenset({"a"}))
    with pytest.raises(library_cache.Stale):
        library_cache._encode(odd)
    with pytest.raises(library_cache.Stale):
        library_cache.write(str(tmp_path / "c.json"), "k", [odd])  # type: ignore[list-item]
    assert not (tmp_path / "c.json").exists()


def test_any_model_field_and_tag_shaped_mappings_round_trip() -> None:
    # Generic over the model's fields: whatever a directive's dataclasses hold comes back.
    value = Parameter(id="p", title="t", type="object", default={"!t": [1, 2], "!c": "x", "n": (1, dt.date(2026, 1, 2))},
                      bounds={"enum": [{"!m": []}]})
    text = json.dumps(library_cache._encode(value))
    back = json.loads(text, object_hook=library_cache._decode)
    assert back == value and type(back) is Parameter
    assert back.default == {"!t": [1, 2], "!c": "x", "n": (1, dt.date(2026, 1, 2))}


def test_a_shipped_data_file_is_cached_as_parsed(tmp_path: Path) -> None:
    from agent.facts.lifecycle import TABLE, parse_table

    first = library_cache.data_file(TABLE, parse_table, str(tmp_path))
    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        return parse_table()

    assert library_cache.data_file(TABLE, build, str(tmp_path)) == first == parse_table()
    assert calls == []
