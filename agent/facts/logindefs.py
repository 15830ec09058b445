"""/etc/login.defs as the shadow tools read it (shadow 4.13 lib/getdef.c, login.defs(5)).

- Blank lines and lines whose first non-blank character is ``#`` are skipped; there are no
  trailing comments (``PASS_MAX_DAYS 90 # days`` is the value ``90 # days``, which is not a
  number, so the tool falls back to its built-in default).
- ``NAME VALUE``: the name ends at the first blank; leading blanks and double quotes are
  skipped before the value, which ends at the next double quote; trailing blanks dropped.
- Names are case-sensitive and all upper case; the last line for a name wins.
- Numbers are read with strtol base 0 (``0x1f`` hexadecimal, ``027`` octal), must be whole
  and, for most items, fit an int; anything else is a configuration error and the tool uses
  its built-in default.
- ENCRYPT_METHOD must be exactly one of the method names; any other value hashes with DES.

The values are given as the tools end up using them: numbers in decimal (UMASK and HOME_MODE
in octal with a leading 0), and a value the tools reject is marked so that no expectation
can be met by it, with the reason in the text.
"""
from __future__ import annotations

import re

from checks.facts import ConfigSetting

NUMERIC = {"PASS_MAX_DAYS", "PASS_MIN_DAYS", "PASS_WARN_AGE", "PASS_MIN_LEN", "PASS_MAX_LEN", "UMASK",
           "HOME_MODE", "UID_MIN", "UID_MAX", "GID_MIN", "GID_MAX", "SYS_UID_MIN", "SYS_UID_MAX", "SYS_GID_MIN",
           "SYS_GID_MAX", "LOGIN_RETRIES", "LOGIN_TIMEOUT", "ERASECHAR", "KILLCHAR", "ULIMIT", "FAIL_DELAY",
           "SHA_CRYPT_MIN_ROUNDS", "SHA_CRYPT_MAX_ROUNDS", "BCRYPT_MIN_ROUNDS", "BCRYPT_MAX_ROUNDS",
           "YESCRYPT_COST_FACTOR", "MAX_MEMBERS_PER_GROUP", "SUB_UID_MIN", "SUB_UID_MAX", "SUB_UID_COUNT",
           "SUB_GID_MIN", "SUB_GID_MAX", "SUB_GID_COUNT"}
OCTAL = {"UMASK", "HOME_MODE"}
LONG = {"SHA_CRYPT_MIN_ROUNDS", "SHA_CRYPT_MAX_ROUNDS", "BCRYPT_MIN_ROUNDS", "BCRYPT_MAX_ROUNDS"}
METHODS = {"DES", "MD5", "SHA256", "SHA512", "BCRYPT", "YESCRYPT"}
REJECTED = "rejected:"  # prefix of a value the tools do not accept (never a number or a method)


def strtol0(text: str) -> int | None:
    """C strtol(text, &end, 0) that must consume the whole string; None when it does not."""
    found = re.fullmatch(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if not found:
        return None
    sign, digits = found.groups()
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if sign == "-" else value


def as_read(name: str, value: str) -> str:
    if name in NUMERIC:
        number = strtol0(value)
        bound = 2**63 if name in LONG else 2**31  # getdef_long, else getdef_num (an int)
        if number is not None and not -bound <= number < bound:
            return f"{REJECTED} {value!r} is out of range; the tools use their built-in default"
        if number is None:
            return f"{REJECTED} {value!r} is not a number; the tools use their built-in default"
        return f"0{number:o}" if name in OCTAL and number >= 0 else str(number)
    if name == "ENCRYPT_METHOD" and value not in METHODS:
        return f"{REJECTED} {value!r} is not a method; the tools hash with DES"
    return value


def parse(text: str, path: str) -> list[ConfigSetting]:
    out = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip()
        name = line.lstrip(" \t")
        if not name or name.startswith("#"):
            continue
        cut = re.search(r"[ \t]", name)
        if cut is None:
            continue  # a name without a value
        key, rest = name[:cut.start()], name[cut.end():]
        value = rest.lstrip(' "\t').split('"', 1)[0]
        if key != key.upper():
            continue  # not an item shadow knows (names are upper case and compared exactly)
        out.append(ConfigSetting(key.lower(), as_read(key, value), path, number))
    return out
