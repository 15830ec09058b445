"""sshd_config as OpenSSH's sshd reads it (sshd_config(5), servconf.c of OpenSSH 9.2), pure.

The agent reads the files (agent/facts/sshd.py) and hands each line to ``tokenize`` and
``normalize``; the result is a ConfigFile of settings in the order sshd meets them, each with
the chain of Match conditions it sits under (``scope``). This module then answers what
``sshd -T`` answers:

- ``resolve(conf, keyword, conn)``: the value for one connection (``conn=None`` is ``sshd -T``
  without ``-C``: only ``Match all`` matches). sshd reads the file twice: once globally, where
  lines under ``Match all`` count and any other Match block is skipped, the first value
  winning; then per connection into a fresh set of options, where only lines under Match
  blocks that match count, the first winning, and what they set replaces the global value.
  Keywords sshd does not allow in Match blocks only ever take the global value.
- ``reachable(conf, keyword)``: every value some connection can get, for judging a host
  without enumerating its users and networks: the value of a connection that matches no
  conditional block, plus each conditional line not shadowed by an earlier line whose
  conditions it implies.

Values are normalized as ``sshd -T`` prints them (times in seconds, ``prohibit-password`` as
``without-password``, algorithm lists with ``+``/``-``/``^`` resolved against OpenSSH 9.2's
defaults). ``DisableForwarding yes`` overrides X11, agent, TCP and StreamLocal forwarding
(``forwarding_override``).
"""
from __future__ import annotations

import fnmatch
import ipaddress
import re
from typing import Any, Iterable, Mapping, Sequence

from checks import expect
from checks.facts import ConfigFile, ConfigSetting, FileInfo
from checks.model import Evidence, Outcome, Status
from checks.record import record

INT_MAX = 2**31 - 1
WHITESPACE = " \t\r\n"

# Keywords sshd knows (servconf.c keywords[], plus Debian's and Red Hat's GSSAPI additions):
# True = also allowed inside a Match block. Aliases map to the keyword sshd -T prints.
_MATCH_OK = """acceptenv allowagentforwarding allowgroups allowstreamlocalforwarding allowtcpforwarding
allowusers authenticationmethods authorizedkeyscommand authorizedkeyscommanduser authorizedkeysfile
authorizedkeysfile2 authorizedprincipalscommand authorizedprincipalscommanduser authorizedprincipalsfile
banner casignaturealgorithms challengeresponseauthentication channeltimeout chrootdirectory
clientalivecountmax clientaliveinterval denygroups denyusers disableforwarding exposeauthinfo
forcecommand gatewayports gssapiauthentication hostbasedacceptedalgorithms hostbasedacceptedkeytypes
hostbasedauthentication hostbasedusesnamefrompacketonly ignorerhosts include ipqos
kbdinteractiveauthentication kerberosauthentication loglevel logverbose match maxauthtries maxsessions
passwordauthentication permitemptypasswords permitlisten permitopen permitrootlogin permittty
permittunnel permituserrc pubkeyacceptedalgorithms pubkeyacceptedkeytypes pubkeyauthentication
pubkeyauthoptions rdomain rekeylimit requiredrsasize revokedkeys rhostsrsaauthentication rsaauthentication
setenv skeyauthentication streamlocalbindmask streamlocalbindunlink trustedusercakeys
unusedconnectiontimeout x11displayoffset x11forwarding x11uselocalhost""".split()
_GLOBAL_ONLY = """addressfamily afstokenpassing checkmail ciphers compression dsaauthentication
fingerprinthash gssapicleanupcredentials gssapistrictacceptorcheck hostcertificate hostdsakey hostkey
hostkeyagent hostkeyalgorithms ignoreuserknownhosts kerberosgetafstoken kerberosorlocalpasswd
kerberostgtpassing kerberosticketcleanup kexalgorithms keyregenerationinterval listenaddress
logingracetime macs maxstartups modulifile pamauthenticationviakbdint permituserenvironment
persourcemaxstartups persourcenetblocksize pidfile port printlastlog printmotd protocol reversemappingcheck
rhostsauthentication securitykeyprovider serverkeybits strictmodes subsystem syslogfacility tcpkeepalive
usedns uselogin usepam verifyreversemapping versionaddendum xauthlocation keepalive
debianbanner gssapikeyexchange gssapistorecredentialsonrekey gssapikexalgorithms gssapienablek5users
kerberosusekuserok""".split()
KEYWORDS: dict[str, bool] = {**{k: False for k in _GLOBAL_ONLY}, **{k: True for k in _MATCH_OK}}
ALIASES = {"challengeresponseauthentication": "kbdinteractiveauthentication",
           "skeyauthentication": "kbdinteractiveauthentication", "hostdsakey": "hostkey",
           "keepalive": "tcpkeepalive", "dsaauthentication": "pubkeyauthentication",
           "hostbasedacceptedkeytypes": "hostbasedacceptedalgorithms",
           "pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms"}
DEPRECATED = {"afstokenpassing", "checkmail", "keyregenerationinterval", "pamauthenticationviakbdint",
              "protocol", "reversemappingcheck", "rhostsauthentication", "rhostsrsaauthentication",
              "rsaauthentication", "serverkeybits", "uselogin", "verifyreversemapping", "authorizedkeysfile2",
              "kerberostgtpassing", "printlastlog"}

# Multistate keywords: accepted words (case-insensitive) -> the word sshd -T prints.
_FLAG = {"yes": "yes", "no": "no"}
MULTISTATE: dict[str, dict[str, str]] = {
    "permitrootlogin": {"without-password": "without-password", "prohibit-password": "without-password",
                        "forced-commands-only": "forced-commands-only", "yes": "yes", "no": "no"},
    "ignorerhosts": {"yes": "yes", "no": "no", "shosts-only": "shosts-only"},
    "allowtcpforwarding": {"yes": "yes", "all": "yes", "no": "no", "remote": "remote", "local": "local"},
    "allowstreamlocalforwarding": {"yes": "yes", "all": "yes", "no": "no", "remote": "remote", "local": "local"},
    **{k: _FLAG for k in ("permitemptypasswords", "x11forwarding", "hostbasedauthentication",
                          "allowagentforwarding", "disableforwarding", "passwordauthentication",
                          "pubkeyauthentication", "kbdinteractiveauthentication", "strictmodes", "usepam")},
}
LOG_LEVELS = {"silent": "SILENT", "quiet": "SILENT", "fatal": "FATAL", "error": "ERROR", "info": "INFO",
              "verbose": "VERBOSE", "debug": "DEBUG", "debug1": "DEBUG", "debug2": "DEBUG2", "debug3": "DEBUG3"}
TIMES = {"logingracetime", "clientaliveinterval"}
INTEGERS = {"maxauthtries", "maxsessions", "clientalivecountmax"}
FILENAMES = {"banner"}

# OpenSSH 9.2 as Debian 12 builds it: every algorithm (ssh -Q) and the server's defaults.
ALL_ALGORITHMS = {
    "ciphers": ("3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,"
                "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com"),
    "macs": ("hmac-sha1,hmac-sha1-96,hmac-sha2-256,hmac-sha2-512,hmac-md5,hmac-md5-96,umac-64@openssh.com,"
             "umac-128@openssh.com,hmac-sha1-etm@openssh.com,hmac-sha1-96-etm@openssh.com,"
             "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-md5-etm@openssh.com,"
             "hmac-md5-96-etm@openssh.com,umac-64-etm@openssh.com,umac-128-etm@openssh.com"),
    "kexalgorithms": ("diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,"
                      "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
                      "diffie-hellman-group-exchange-sha1,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp256,"
                      "ecdh-sha2-nistp384,ecdh-sha2-nistp521,curve25519-sha256,curve25519-sha256@libssh.org,"
                      "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com"),
}
DEFAULTS: dict[str, str] = {
    "ciphers": ("chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
                "aes256-gcm@openssh.com"),
    "macs": ("umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
             "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,"
             "hmac-sha2-256,hmac-sha2-512,hmac-sha1"),
    "kexalgorithms": ("sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
                      "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
                      "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
                      "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"),
    "permitrootlogin": "without-password", "permitemptypasswords": "no", "maxauthtries": "6",
    "x11forwarding": "no", "hostbasedauthentication": "no", "ignorerhosts": "yes",
    "clientaliveinterval": "0", "clientalivecountmax": "3", "logingracetime": "120", "loglevel": "INFO",
    "permituserenvironment": "no", "maxsessions": "10", "banner": "none", "allowtcpforwarding": "yes",
    "allowagentforwarding": "yes", "allowstreamlocalforwarding": "yes", "disableforwarding": "no",
    "usepam": "no", "maxstartups": "10:30:100",
}
DEFAULT_HOST_KEYS = ("/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ed25519_key")
FORWARDING = ("x11forwarding", "allowtcpforwarding", "allowagentforwarding", "allowstreamlocalforwarding")
MATCH_ATTRIBUTES = ("user", "group", "host", "address", "localaddress", "localport", "rdomain")


class SshdError(ValueError):
    """A line sshd refuses (it would not start): the message names what is wrong."""


# --- tokens (misc.c strdelim and argv_split) ---------------------------------------------


def strdelim(text: str | None) -> tuple[str | None, str | None]:
    """(token, rest) as OpenSSH's strdelim(): splits at whitespace or one '=', honours "quotes";
    token None when a quote is not closed, rest None when nothing follows."""
    if text is None:
        return None, None
    found = next((i for i, c in enumerate(text) if c in WHITESPACE + '"='), None)
    if found is None:
        return text, None
    if text[found] == '"':
        inner = text[:found] + text[found + 1:]
        close = inner.find('"', found)
        if close < 0:
            return None, None
        rest = inner[close + 1:]
        return inner[:close], rest.lstrip(WHITESPACE)
    token, rest = text[:found], text[found + 1:]
    equals = text[found] == "="
    rest = rest.lstrip(WHITESPACE)
    if not equals and rest.startswith("="):
        rest = rest[1:].lstrip(WHITESPACE)
    return token, rest


def argv_split(text: str) -> list[str]:
    """Arguments as OpenSSH's argv_split(..., terminate_on_comment=1); raises SshdError on an
    unterminated quote."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        if text[i] == "#":
            break
        quote, arg = "", []
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n and (text[i + 1] in "'\"\\" or (not quote and text[i + 1] == " ")):
                arg.append(text[i + 1])
                i += 2
                continue
            if not quote and c in " \t":
                break
            if not quote and c in "\"'":
                quote = c
            elif quote and c == quote:
                quote = ""
            else:
                arg.append(c)
            i += 1
        if i >= n and quote:
            raise SshdError("invalid quotes")
        out.append("".join(arg))
    return out


@record
class Line:
    """One keyword line of an sshd configuration."""

    keyword: str  # lower-cased as typed (an alias stays an alias)
    args: tuple[str, ...]
    rest: str  # the text after the keyword, for Match (which sshd splits with strdelim)


def tokenize(raw: str) -> Line | None:
    """One line of a file as sshd splits it; None for blank and comment lines."""
    line = raw.lstrip(" \t\r").rstrip(WHITESPACE + "\f")
    if not line:
        return None
    keyword, rest = strdelim(line)
    if keyword == "":
        keyword, rest = strdelim(rest)
    if not keyword or keyword.startswith("#"):
        return None
    if not rest:
        raise SshdError(f'no argument after keyword "{keyword}"')
    return Line(keyword.lower(), tuple(argv_split(rest)), rest)


# --- values --------------------------------------------------------------------------------


def convtime(text: str) -> int | None:
    """Seconds of an sshd time value (``90``, ``1m30s``, ``2h30m``, ``1w``), None if invalid."""
    if not text:
        return None
    total, pos = 0, 0
    units = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    while pos < len(text):
        found = re.match(r"[ \t\n\v\f\r]*[+-]?\d+", text[pos:])
        if not found:
            return None
        secs = int(found.group().strip())
        pos += found.end()
        unit = text[pos].lower() if pos < len(text) else ""
        if unit not in units:
            return None
        pos += 1 if unit else 0
        if secs < 0 or secs > INT_MAX // units[unit]:
            return None
        secs *= units[unit]
        if total > INT_MAX - secs:
            return None
        total += secs
    return total


def atoi(text: str) -> int | None:
    found = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?\d+)", text)
    if not found or not 0 <= int(found.group(1)) <= INT_MAX:
        return None
    return int(found.group(1))


def _pattern(name: str, pattern: str) -> bool:
    """OpenSSH match_pattern(): '*' and '?' wildcards, nothing else special."""
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


def algorithms(keyword: str, spec: str) -> str:
    """kex_assemble_names(): an explicit list, or +append / -remove (patterns) / ^prepend to the
    default list, deduplicated, as sshd -T prints it."""
    default, every = DEFAULTS[keyword].split(","), ALL_ALGORITHMS[keyword].split(",")
    if spec.startswith("-"):
        patterns = spec[1:].split(",")
        return ",".join(a for a in default if not any(_pattern(a, p) for p in patterns))
    head = spec[1:] if spec[:1] in "+^" else spec
    names = head.split(",")
    if any(n not in every for n in names):
        raise SshdError(f"bad {keyword} list {spec!r}")
    ordered = default + names if spec.startswith("+") else names + default if spec.startswith("^") else names
    return ",".join(dict.fromkeys(ordered))


def _scan_ints(text: str) -> list[int]:
    """sscanf(text, "%d:%d:%d"): the integers read before the first mismatch (each %d skips
    leading blanks and takes a sign and digits; the ':' must follow at once)."""
    out: list[int] = []
    rest = text
    for index in range(3):
        found = re.match(r"[ \t\n\v\f\r]*([+-]?\d+)", rest)
        if not found:
            break
        out.append(int(found.group(1)))
        rest = rest[found.end():]
        if index < 2:
            if not rest.startswith(":"):
                break
            rest = rest[1:]
    return out


def maxstartups(arg: str) -> str:
    """One MaxStartups line as servconf.c reads it: ``start:rate:full``, or ``N`` alone (start
    and full N, the rate left as it was: written ``N::N``). Raises SshdError where sshd refuses."""
    numbers = _scan_ints(arg)
    if len(numbers) == 3:
        start, rate, full = numbers
        if start > full or rate > 100 or rate < 1:
            raise SshdError(f"Invalid MaxStartups spec {arg!r}")
    elif len(numbers) == 1:
        start = full = numbers[0]
        rate = None
    else:
        raise SshdError(f"Invalid MaxStartups spec {arg!r}")
    if full <= 0 or start <= 0:
        raise SshdError(f"Invalid MaxStartups {arg!r}")
    return f"{start}:{'' if rate is None else rate}:{full}"


def canonical(keyword: str) -> str:
    return ALIASES.get(keyword, keyword)


def normalize(keyword: str, args: Sequence[str]) -> str:
    """The value of one line as ``sshd -T`` prints it, for the keywords fedharden judges (others:
    the arguments joined by spaces). Raises SshdError where sshd refuses the line."""
    keyword = canonical(keyword)
    judged = (keyword in MULTISTATE or keyword in TIMES or keyword in INTEGERS or keyword in ALL_ALGORITHMS
              or keyword in FILENAMES or keyword in ("loglevel", "permituserenvironment", "hostkey", "maxstartups"))
    if not judged:
        return " ".join(args)
    if not args or args[0] == "" and keyword not in INTEGERS:
        raise SshdError(f"{keyword}: missing argument")
    if len(args) > 1:
        raise SshdError(f"keyword {keyword} extra arguments at end of line")
    arg = args[0]
    if keyword in MULTISTATE:
        word = MULTISTATE[keyword].get(arg.lower())
        if word is None:
            raise SshdError(f'unsupported option "{arg}"')
        return word
    if keyword in TIMES:
        seconds = convtime(arg)
        if seconds is None:
            raise SshdError(f"invalid time value {arg!r}")
        return str(seconds)
    if keyword in INTEGERS:
        number = atoi(arg)
        if number is None:
            raise SshdError(f"{keyword} integer value {arg!r} invalid")
        return str(number)
    if keyword in ALL_ALGORITHMS:
        return algorithms(keyword, arg)
    if keyword == "maxstartups":
        return maxstartups(arg)
    if keyword == "loglevel":
        if arg.lower() not in LOG_LEVELS:
            raise SshdError(f"unsupported log level {arg!r}")
        return LOG_LEVELS[arg.lower()]
    if keyword == "permituserenvironment":
        return arg  # "yes", "no" (case-sensitive) or an allowlist of variable names
    if arg.lower() == "none" and keyword == "banner":
        return "none"
    # sshd makes a relative path relative to its working directory ("/" under systemd, but
    # wherever sshd -T is run from): kept as written.
    return arg


# --- Match ---------------------------------------------------------------------------------


def match_criteria(rest: str) -> tuple[tuple[str, str], ...]:
    """A Match line's criteria ((attribute, patterns), ...) or (("all", ""),), validated as
    match_cfg_line() does; raises SshdError for what sshd calls a bad Match condition."""
    out: list[tuple[str, str]] = []
    text: str | None = rest
    while True:
        attrib, text = strdelim(text)
        if attrib is None or attrib == "" or attrib.startswith("#"):
            break
        if attrib.lower() == "all":
            arg, _ = strdelim(text)
            if out or (arg and not arg.startswith("#")):
                raise SshdError("'all' cannot be combined with other Match attributes")
            return (("all", ""),)
        arg, text = strdelim(text)
        if not arg or arg.startswith("#"):
            raise SshdError(f"Missing Match criteria for {attrib}")
        name = attrib.lower()
        if name not in MATCH_ATTRIBUTES:
            raise SshdError(f"Unsupported Match attribute {attrib}")
        if name in ("address", "localaddress") and addr_match_list(None, arg) != 0:
            raise SshdError(f"Invalid Match {name} argument '{arg}'")
        if name == "localport" and atoi(arg) is None:
            raise SshdError(f"Invalid LocalPort '{arg}' on Match line")
        out.append((attrib, arg))
    if not out:
        raise SshdError("One or more attributes required for Match")
    return tuple(out)


def scope_text(criteria: Iterable[tuple[str, str]]) -> str:
    return " ".join(f"{a} {p}".strip() for a, p in criteria)


def parse_scope(text: str) -> tuple[tuple[str, str], ...]:
    words = text.split()
    if words == ["all"]:
        return (("all", ""),)
    return tuple((words[i].lower(), words[i + 1]) for i in range(0, len(words) - 1, 2))


def match_pattern_list(name: str, patterns: str, lower: bool) -> int:
    """OpenSSH match_pattern_list(): 1 a positive pattern matched, -1 a negated one, 0 none."""
    if lower:
        name = name.lower()
    positive = 0
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        pattern = pattern[1:] if negated else pattern
        if _pattern(name, pattern.lower() if lower else pattern):
            if negated:
                return -1
            positive = 1
    return positive


def addr_match_list(address: str | None, patterns: str) -> int:
    """OpenSSH addr_match_list(): 1 match, 0 none, -1 negated match, -2 invalid list."""
    result = 0
    addr = None
    if address is not None:
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            addr = None
    for entry in patterns.split(","):
        negated = entry.startswith("!")
        entry = entry[1:] if negated else entry
        if not entry:
            return -2
        if any(c in entry for c in "*?"):
            if address is not None and _pattern(address, entry):
                if negated:
                    return -1
                result = 1
            continue
        try:
            network = ipaddress.ip_network(entry, strict=True)
        except ValueError:
            return -2
        if addr is not None and addr.version == network.version and addr in network:
            if negated:
                return -1
            result = 1
    return result


@record
class Connection:
    """What ``sshd -T -C`` is told about a connection."""
    user: str
    host: str
    addr: str
    laddr: str = "127.0.0.1"
    lport: int = 22
    rdomain: str | None = None

    def spec(self) -> str:
        return f"user={self.user},host={self.host},addr={self.addr},laddr={self.laddr},lport={self.lport}"


def criteria_match(criteria: Sequence[tuple[str, str]], conn: Connection | None) -> bool:
    """Whether a Match line matches ``conn``; ``None`` is sshd -T's blank test connection."""
    if criteria and criteria[0][0].lower() == "all":
        return True
    if conn is None:
        return False
    for typed, arg in criteria:
        attrib = typed.lower()
        if attrib == "user" and match_pattern_list(conn.user, arg, False) != 1:
            return False
        if attrib == "host" and match_pattern_list(conn.host, arg, True) != 1:
            return False
        if attrib == "address" and addr_match_list(conn.addr, arg) != 1:
            return False
        if attrib == "localaddress" and addr_match_list(conn.laddr, arg) != 1:
            return False
        if attrib == "localport" and atoi(arg) != conn.lport:
            return False
        if attrib == "rdomain" and (conn.rdomain is None or match_pattern_list(conn.rdomain, arg, False) != 1):
            return False
        if attrib == "group":
            return False  # needs the host's group database; never generated by the tests
    return True


def _universal(text: str) -> bool:
    """A Match condition every real connection meets: ``all``, or only ``*`` patterns."""
    criteria = parse_scope(text)
    return all(a.lower() == "all" or (a.lower() in ("user", "host", "address", "localaddress") and p == "*")
               for a, p in criteria)


# --- effective values -------------------------------------------------------------------


def scope_of(setting: ConfigSetting) -> tuple[str, ...]:
    return setting.scope or ((setting.match,) if setting.match else ())


def _lines(conf: ConfigFile, keyword: str) -> list[ConfigSetting]:
    keyword = canonical(keyword.lower())
    return [s for s in conf.settings if canonical(s.key) == keyword]


def _global(lines: list[ConfigSetting]) -> list[ConfigSetting]:
    """Lines of the global pass: outside Match blocks or only under ``Match all``."""
    return [s for s in lines if all(c == "all" for c in scope_of(s))]


def _conditional(keyword: str, lines: list[ConfigSetting]) -> list[ConfigSetting]:
    """Lines of the per-connection pass (under some Match), for keywords allowed there."""
    if not KEYWORDS.get(canonical(keyword.lower()), True):
        return []
    return [s for s in lines if scope_of(s)]


def resolve(conf: ConfigFile, keyword: str, conn: Connection | None,
            default: str | None = None) -> tuple[str | None, ConfigSetting | None]:
    """(value, the line that set it) for one connection, as ``sshd -T [-C ...]`` prints it;
    (default, None) when nothing sets it."""
    keyword = canonical(keyword.lower())
    lines = _lines(conf, keyword)
    if keyword == "maxstartups":
        return _fold_maxstartups(_global(lines), DEFAULTS[keyword] if default is None else default)
    if keyword == "hostkey":
        keys = [s for s in _global(lines)]
        return (" ".join(s.value for s in keys) if keys else " ".join(DEFAULT_HOST_KEYS)), (keys[0] if keys else None)
    for setting in _conditional(keyword, lines):
        if all(criteria_match(parse_scope(c), conn) for c in scope_of(setting)):
            return setting.value, setting
    chosen = _global(lines)
    if chosen:
        return chosen[0].value, chosen[0]
    return (DEFAULTS.get(keyword) if default is None else default), None


def _fold_maxstartups(lines: list[ConfigSetting], default: str) -> tuple[str, ConfigSetting | None]:
    """MaxStartups is not first-wins: every line overwrites what came before (a bare ``N`` keeps
    the rate), -o options first, then the files."""
    start, rate, full = default.split(":")
    last = None
    for setting in lines:
        start, new_rate, full = setting.value.split(":")
        rate, last = new_rate or rate, setting
    return f"{start}:{rate}:{full}", last


@record
class Reached:
    """A value some connections get, and the setting that gives it."""

    value: str
    setting: ConfigSetting | None  # None: the built-in default
    condition: str = ""  # the Match conditions of the connections that get it; "" = all others


def reachable(conf: ConfigFile, keyword: str, default: str | None) -> list[Reached]:
    """Every value some connection gets: first the value of connections no conditional Match
    block matches, then each Match line not shadowed by an earlier one it implies."""
    keyword = canonical(keyword.lower())
    lines = _lines(conf, keyword)
    if keyword == "maxstartups":
        if not _global(lines) and default is None:
            return []
        value, setting = _fold_maxstartups(_global(lines), DEFAULTS[keyword] if default is None else default)
        return [Reached(value, setting)]
    conditional = _conditional(keyword, lines)
    baseline = next((s for s in conditional if all(_universal(c) for c in scope_of(s))), None)
    if baseline is None:
        baseline = next(iter(_global(lines)), None)
    out: list[Reached] = []
    if baseline is not None:
        out.append(Reached(baseline.value, baseline, " / ".join(scope_of(baseline))))
    elif default is not None:
        out.append(Reached(default, None))
    for index, setting in enumerate(conditional):
        if all(_universal(c) for c in scope_of(setting)):
            continue
        mine = _criteria(setting)
        if any(_criteria(e) <= mine for e in conditional[:index]):
            continue  # every connection this line applies to already took an earlier value
        out.append(Reached(setting.value, setting, " / ".join(c for c in scope_of(setting) if not _universal(c))))
    return out


def _criteria(setting: ConfigSetting) -> set[tuple[str, str]]:
    """Every criterion a connection must meet for the line to apply (nested Match lines AND)."""
    return {(a.lower(), p) for c in scope_of(setting) if not _universal(c) for a, p in parse_scope(c)}


def forwarding_override(conf: ConfigFile) -> Reached | None:
    """``DisableForwarding yes`` for every connection: it overrides all forwarding keywords."""
    reached = reachable(conf, "disableforwarding", "no")
    if reached and all(r.value == "yes" for r in reached):
        return reached[0]
    return None


# --- judging a config check ---------------------------------------------------------------


def _exact(name: str, params: Mapping[str, Any], value: str) -> bool:
    """``PermitUserEnvironment`` is case-sensitive: ``NO`` is an allowlist naming a variable NO."""
    if name != "permituserenvironment":
        return True
    return all(value in {str(w) for w in ([params[op]] if op == "equals" else params[op])}
               for op in ("equals", "one_of") if op in params)


def judge(params: Mapping[str, Any], conf: ConfigFile) -> Outcome:
    key = params["key"]
    name = canonical(key.lower())
    expected = f"{key} {expect.describe(params)}"
    if conf.problems:
        unknown = Evidence(expected, "not judged: the configuration cannot be evaluated", conf.path)
        return Outcome(Status.ERROR, (unknown,), "; ".join(conf.problems))
    default = str(params["default"]) if "default" in params else None
    if default is not None and name in MULTISTATE:
        default = MULTISTATE[name].get(default.lower(), default)
    if name in FORWARDING and (override := forwarding_override(conf)) is not None:
        where = f"{override.setting.file}:{override.setting.line}" if override.setting else conf.path
        good = expect.satisfied(params, "no")
        return Outcome.of(good, [Evidence(expected, f"{key} no (DisableForwarding yes overrides it)", where)])
    reached = reachable(conf, key, default)
    if not reached:
        return Outcome(Status.FAIL, (Evidence(expected, "not set", conf.path),))
    evidence: list[Evidence] = []
    ok = True
    for index, item in enumerate(reached):
        good = expect.satisfied(params, item.value) and _exact(name, params, item.value)
        ok &= good
        where = (f"{item.setting.file}:{item.setting.line}" if item.setting
                 else f"{conf.path} (not set; built-in default)")
        if index == 0:
            scoped = f" (Match {item.condition}: every connection)" if item.condition else ""
            evidence.append(Evidence(expected, f"{key} {item.value}{scoped}", where))
        elif not good:
            evidence.append(Evidence(expected, f"{key} {item.value} in Match {item.condition}", where))
    return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence), "; ".join(conf.notes))


@record
class HostKeys:
    """The host private keys of an sshd: those it is configured with (HostKey, -h, or the
    built-in list) and every /etc/ssh/ssh_host_*_key, with their metadata (existing ones only)."""
    configured: tuple[str, ...]
    files: tuple[FileInfo, ...]
    problems: tuple[str, ...] = ()
