"""Postfix's main.cf read as Postfix reads it (postconf(5)).

A logical line starts with non-whitespace text; a line that starts with whitespace continues
it; empty lines, whitespace-only lines and lines whose first non-whitespace character is ``#``
are ignored (also between continued lines). ``name = value``: whitespace around ``=`` and at the
end is dropped; the last definition of a name wins. A logical line that starts with whitespace
(at the top of the file) is ignored with a warning; one without ``=`` is fatal: postconf and
every Postfix daemon refuse the file (MainCfError, which the scan reports as an error). Values are recorded
expanded, as the daemons use them (``postconf -x``): ``$name``, ``${name}`` and ``$(name)``
are replaced by that parameter's value, recursively. A reference to a parameter main.cf does
not set (a built-in default fedharden does not know) is left as written, so a check that
wants a loopback value sees ``$name`` and does not pass.
"""
from __future__ import annotations

import re

from checks.facts import ConfigFile, ConfigSetting

REFERENCE = re.compile(r"\$(?:\{(\w+)\}|\((\w+)\)|(\w+))")
MAX_DEPTH = 20


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, logical line) in file order."""
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if raw[0] in " \t" and out:
            out[-1] = (out[-1][0], f"{out[-1][1]} {stripped}")
        else:
            out.append((number, raw if raw[0] not in " \t" else ""))  # a leading continuation is dropped
    return [(n, line) for n, line in out if line]


class MainCfError(ValueError):
    """A main.cf Postfix refuses to run with."""


def parse_main_cf(text: str, path: str) -> ConfigFile:
    """Raises MainCfError for a file Postfix refuses."""
    raw: dict[str, tuple[str, int]] = {}
    for number, line in logical_lines(text):
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise MainCfError(f"{path}:{number}: missing '=' after parameter name: Postfix refuses the file")
        raw[name.strip()] = (" ".join(value.split()), number)

    def expand(value: str, depth: int) -> str:
        def one(found: re.Match[str]) -> str:
            name = found.group(1) or found.group(2) or found.group(3)
            if name not in raw or depth >= MAX_DEPTH:
                return found.group(0)  # shown as written: the evidence names what is unknown
            return expand(raw[name][0], depth + 1)

        return REFERENCE.sub(one, value)

    settings = tuple(ConfigSetting(name, expand(value, 0), path, number)
                     for name, (value, number) in sorted(raw.items(), key=lambda item: item[1][1]))
    return ConfigFile(path, "postfix", True, settings, case_sensitive=True)
