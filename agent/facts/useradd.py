"""/etc/default/useradd as useradd reads it (shadow 4.13 useradd.c get_defaults): the ``useradd``
dialect of the ``config`` check.

- Each line is ``NAME=value`` split at the first ``=``; the name must be exactly a known one
  (no blanks around it, no comments: ``#INACTIVE=30``, ``INACTIVE =30`` and `` INACTIVE=30``
  set nothing); the value is the rest of the line as written (quotes are characters).
- The last line for a name wins.
- INACTIVE is read with getlong (strtol base 0 over the whole value: `` 30``, ``030`` (24),
  ``0x1e``); a value that is not a whole number or is below -1 is reported and ignored, and
  useradd then uses -1 (never disable), which is what the setting reads here.
"""
from __future__ import annotations

from agent.facts.logindefs import strtol0
from checks.facts import ConfigSetting

NAMES = {"GROUP", "GROUPS", "HOME", "INACTIVE", "EXPIRE", "SHELL", "SKEL", "USRSKEL", "CREATE_MAIL_SPOOL", "LOG_INIT"}


def parse(text: str, path: str) -> list[ConfigSetting]:
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        name, sep, value = line.partition("=")
        if not sep or name not in NAMES:
            continue
        if name == "INACTIVE":
            days = strtol0(value)
            value = str(days) if days is not None and -1 <= days < 2**63 else "-1"
        out.append(ConfigSetting(name.lower(), value, path, number))
    return out
