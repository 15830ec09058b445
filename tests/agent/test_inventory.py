"""Inventory files: what they accept, and one line naming file:line and field for each mistake."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent import UsageError
from agent.inventory import Entry, load


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return str(path)


def test_defaults_short_and_long_entries(tmp_path: Path) -> None:
    path = write(tmp_path, """\
defaults:
  user: scanner
  sudo: true
  timeout: 60
hosts:
  - web1.example.gov
  - admin@web2.example.gov:2222
  - host: "[2001:db8::5]:22"
    name: v6
    sudo: false
    tags: [prod, dmz]
    jump: bastion.example.gov
""")
    assert load(path) == [
        Entry("web1.example.gov", "scanner@web1.example.gov:22", "scanner", 22, None, None, True, 60.0, (), 6),
        Entry("web2.example.gov_2222", "admin@web2.example.gov:2222", "admin", 2222, None, None, True, 60.0, (), 7),
        Entry("v6", "scanner@[2001:db8::5]:22", "scanner", 22, None, "bastion.example.gov", False, 60.0,
              ("prod", "dmz"), 8),
    ]


@pytest.mark.parametrize("text, message", [
    ("hosts:\n  - host: a\n    port: 70000\n", "hosts.yaml:3: hosts[0].port: must be an integer from 1 to 65535"),
    ("hosts:\n  - host: a\n    prot: 22\n", "hosts.yaml:3: hosts[0].prot: unknown field (known: "),
    ("hosts:\n  - a\n  - host: b\n    name: a\n", "hosts.yaml:3: hosts[1].name: 'a' is already used on line 2"),
    ("hosts:\n  - host: a\n    host: b\n", "hosts.yaml:3: $.hosts[0].host: duplicate key 'host' (first at line 2)"),
    ("hosts:\n  - host: a\n    sudo: maybe\n", "hosts.yaml:3: hosts[0].sudo: must be true or false"),
    ("hosts:\n  - host: a\n    tags: prod\n", "hosts.yaml:3: hosts[0].tags: must be a list of strings"),
    ("hosts:\n  - port: 22\n", "hosts.yaml:2: hosts[0].host: missing"),
    ("hosts:\n  - host: 'a b'\n", "hosts.yaml:2: hosts[0].host: 'a b': not a target"),
    ("hosts:\n  - host: a\n    name: ../evil\n", "hosts.yaml:3: hosts[0].name: must be letters, digits"),
    ("defaults:\n  name: x\nhosts: [a]\n", "hosts.yaml:2: defaults.name: unknown field"),
    ("hosts: []\n", "hosts.yaml:1: hosts: must be a non-empty list"),
    ("servers: [a]\n", "hosts.yaml:1: servers: unknown top-level key"),
    ("hosts:\n  - host: a\n   port: 2\n", "hosts.yaml:3: $: invalid YAML: "),
    ("", "hosts.yaml:1: hosts: missing"),
])
def test_mistakes_are_one_line_with_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        load(write(tmp_path, text))
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(str(tmp_path) + "/") and message in line, line


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--inventory: .*nope.yaml: cannot read: No such file"):
        load(str(tmp_path / "nope.yaml"))
