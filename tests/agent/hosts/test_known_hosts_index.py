"""A known_hosts file shared by an inventory's connections: parsed once and read again only
when it changes; a host's lines found through the index are exactly those OpenSSH's matching
finds line by line (wildcards, negation, hashed names, ports, case, revoked keys)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
from pathlib import Path

import pytest

from agent.hosts.known_hosts import host_matches, load_cached, parse


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three real ed25519 public keys, as known_hosts writes them (type and base64)."""
    out = []
    for i in range(3):
        path = tmp_path_factory.mktemp("keys") / f"k{i}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)
        out.append(" ".join(Path(f"{path}.pub").read_text().split()[:2]))
    return out


def hashed(name: str) -> str:
    salt = os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_the_index_finds_what_matching_every_line_finds(keys: list[str]) -> None:
    a, b, c = keys
    text = "\n".join([
        f"web1.example.org,10.0.0.1 {a}",
        f"WEB2.Example.org {b}",
        f"[127.1.0.5]:2222 {a}",
        f"*.example.org,!web3.example.org {c}",
        f"{hashed('db1.example.org')} {b}",
        f"[127.1.0.?]:* {c}",
        f"web1.example.org {b}",  # a second line for the same name: both kept, in file order
        f"@revoked [127.1.0.5]:2222 {c}",
        "broken line",
    ]) + "\n"
    known = parse(text, "known_hosts")
    names = ["web1.example.org", "Web2.EXAMPLE.org", "web3.example.org", "db1.example.org", "db2.example.org",
             "[127.1.0.5]:2222", "[127.1.0.6]:22", "[127.1.0.66]:22", "10.0.0.1", "nowhere"]
    for name in names:
        by_scan = [(n, k) for n, k in known.trusted(name) if host_matches(name, tuple(n))]
        assert known.matching(name) == by_scan, name
    assert [k.asbytes() for _, k in known.matching("web1.example.org")][:2] != []
    assert len(known.matching("web1.example.org")) == 3  # two literal lines and the wildcard
    assert all(k.get_base64() != c.split()[1] for _, k in known.matching("[127.1.0.5]:2222"))  # revoked there
    assert known.matching("nowhere") == []


def test_parsed_once_and_again_when_the_file_changes(tmp_path: Path, keys: list[str]) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(f"web1.example.org {keys[0]}\n")
    first = load_cached(str(path))
    assert load_cached(str(path)) is first  # unchanged: the same parse, shared
    with path.open("a") as fh:  # as --accept-new appends a host's key
        fh.write(f"web2.example.org {keys[1]}\n")
    second = load_cached(str(path))
    assert second is not first and [n for n, _ in second.matching("web2.example.org")] == [["web2.example.org"]]
    missing = tmp_path / "absent"
    assert load_cached(str(missing)).entries == []
    missing.write_text(f"web3.example.org {keys[2]}\n")  # created since: read
    assert len(load_cached(str(missing)).matching("web3.example.org")) == 1
