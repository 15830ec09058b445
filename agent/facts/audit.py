"""Audit rules as the system loads them: /etc/audit/rules.d merged as augenrules(8) merges it,
then the merged lines read as ``auditctl -R`` reads them (auditctl(8)).

augenrules: the names ``ls -1v`` lists (GNU version sort, no dot files) that end in
``.rules``, concatenated with cat (a file without a final newline runs into the next one),
blank and comment lines dropped; the last ``-e``, the last bare ``-D``, the last ``-b`` and
the last ``-f`` lines are taken out, and written D, b, f first and e last. It matches those
lines with ``^\\s*`` in awk: gawk reads ``\\s`` as white space, mawk (Debian's default awk) as
a literal ``s``, so an indented ``-e 2`` is moved to the end by one and left in place by the
other; the host's own awk decides.

auditctl: ``-w``/``-W`` add and remove watches, ``-a``/``-A`` add syscall rules and ``-d``
removes one, ``-D -k KEY`` removes the rules with that key; ``-F path=``/``dir=`` with
``perm=`` on the exit list is a watch; ``-C a!=b`` equals ``-C b!=a``. An option this model does
not know makes the file "not evaluated", never a guess.
"""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import AuditRule, AuditRules

RULES_DIR = "/etc/audit/rules.d"
ARCHES = {"b64": "b64", "x86_64": "b64", "aarch64": "b64", "ppc64": "b64", "ppc64le": "b64", "s390x": "b64",
          "b32": "b32", "i386": "b32", "i486": "b32", "i586": "b32", "i686": "b32", "arm": "b32", "armeb": "b32",
          "ppc": "b32", "s390": "b32"}
SYMMETRIC = ("!=", "=")  # -C operators for which the sides can swap
_FIELD = re.compile(r"^([A-Za-z0-9_]+)(!=|>=|<=|=|>|<|&=|&)(.*)$")
_NO_ARG = {"-D", "-i", "-l", "-s", "-v", "-h", "--loginuid-immutable", "--reset-lost"}
_IGNORED = {"-b", "-f", "-r", "--backlog_wait_time", "-c", "-q", "--signal"}


# --- augenrules --------------------------------------------------------------------------


def _order(c: str) -> int:
    if c.isdigit():
        return 0
    if c.isascii() and c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = 0 if i == len(a) else _order(a[i])
            bc = 0 if j == len(b) else _order(b[j])
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and j < len(b) and a[i].isdigit() and b[j].isdigit():
            first_diff = first_diff or ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _prefixlen(s: str) -> int:
    """gnulib file_prefixlen: the name without its suffixes (``(\\.[A-Za-z~][A-Za-z0-9~]*)*$``)."""
    n, i, prefix = len(s), 0, 0
    while True:
        if i == n:
            return prefix
        i += 1
        prefix = i
        while i + 1 < n and s[i] == "." and ((s[i + 1].isascii() and s[i + 1].isalpha()) or s[i + 1] == "~"):
            i += 2
            while i < n and ((s[i].isascii() and s[i].isalnum()) or s[i] == "~"):
                i += 1


def filevercmp(a: str, b: str) -> int:
    """GNU ``ls -v`` order (gnulib filevercmp) of two names that do not start with a dot."""
    if a == b:
        return 0
    pa, pb = _prefixlen(a), _prefixlen(b)
    result = _verrevcmp(a[:pa], b[:pb])
    if result or (pa == len(a) and pb == len(b)):
        return result
    return _verrevcmp(a, b)


def rule_files(ctx: Context, directory: str) -> list[str]:
    from functools import cmp_to_key

    names = [n for n in ctx.listdir(directory) if not n.startswith(".") and n.endswith(".rules")]
    out = []
    for name in sorted(names, key=cmp_to_key(filevercmp)):
        if any(c.isspace() for c in name):
            continue  # augenrules splits the list on white space: cat gets pieces that do not exist
        try:
            if ctx.host.stat(f"{directory}/{name}").kind == "file":
                out.append(f"{directory}/{name}")
        except NotFound:
            continue
    return out


def merge(texts: list[tuple[str, str]], awk: str) -> list[tuple[str, str]]:
    """augenrules' awk program over the concatenated files: (line, where) in output order."""
    ws = r"\s" if awk == "gawk" else "s"
    comment, minus_e = re.compile(f"^{ws}*#"), re.compile(f"^{ws}*-e")
    minus_d, minus_f, minus_b = re.compile(f"^{ws}*-D{ws}*$"), re.compile(f"^{ws}*-f"), re.compile(f"^{ws}*-b")
    lines: list[tuple[str, str]] = []
    carry, carry_where = "", ""
    for path, text in texts:
        pieces = text.split("\n")
        for number, piece in enumerate(pieces, 1):
            if number == len(pieces):  # no newline yet: cat runs it into the next file
                carry, carry_where = carry + piece, carry_where or f"{path}:{number}"
                continue
            lines.append((carry + piece, carry_where or f"{path}:{number}"))
            carry, carry_where = "", ""
    if carry:
        lines.append((carry, carry_where))
    last = {"e": ("", ""), "D": ("", ""), "f": ("", ""), "b": ("", "")}
    rest = []
    for line, where in lines:
        if not line or comment.search(line):
            continue
        for name, pattern in (("e", minus_e), ("D", minus_d), ("f", minus_f), ("b", minus_b)):
            if pattern.search(line):
                last[name] = (line, where)
                break
        else:
            rest.append((line, where))
    return [last["D"], last["b"], last["f"], *rest, last["e"]]


def host_awk(ctx: Context) -> str:
    """gawk or mawk: the awk /usr/bin/awk resolves to (Debian: an alternatives link)."""
    path = "/usr/bin/awk"
    for _ in range(8):
        try:
            if ctx.host.stat(path, follow=False).kind != "link":
                break
            target = ctx.host.readlink(path)
        except HostError:
            break
        path = target if target.startswith("/") else f"{path.rpartition('/')[0]}/{target}"
    return "gawk" if "gawk" in path.rpartition("/")[2] else "mawk"


# --- auditctl ----------------------------------------------------------------------------


class NotEvaluated(Exception):
    pass


def _compare(expr: str) -> str:
    found = _FIELD.match(expr)
    if not found:
        raise NotEvaluated(f"-C {expr}")
    left, op, right = found.groups()
    if op in SYMMETRIC and right < left:
        left, right = right, left
    return f"{left}{op}{right}"


def parse_rule(line: str, where: str) -> tuple[str, object]:
    """("add"|"remove"|"delete_key"|"enable"|"none", AuditRule or key/value)."""
    words = line.split()
    options: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _NO_ARG:
            options.append((word, ""))
            i += 1
        elif word.startswith("-") and i + 1 < len(words):
            options.append((word, words[i + 1]))
            i += 2
        else:
            raise NotEvaluated(f"{where}: {line!r}")
    first = options[0][0] if options else ""
    if first in _IGNORED or first in ("--loginuid-immutable", "--reset-lost"):
        return "none", None
    if first == "-e":
        return "enable", options[0][1]
    if first == "-D":
        key = next((v for o, v in options if o == "-k"), "")
        return ("delete_key", key) if key else ("delete_all", None)
    watch = perms = key = listed = action = arch = ""
    syscalls: list[str] = []
    fields: list[str] = []
    compares: list[str] = []
    verb = ""
    for option, value in options:
        if option in ("-w", "-W"):
            verb, watch = ("add" if option == "-w" else "remove"), value.rstrip("/") or "/"
        elif option in ("-a", "-A", "-d"):
            verb = "remove" if option == "-d" else "add"
            parts = value.split(",")
            if len(parts) != 2:
                raise NotEvaluated(f"{where}: {option} {value}")
            listed, action = (parts if parts[1] in ("always", "never") else parts[::-1])
        elif option == "-p":
            perms = value
        elif option == "-k":
            key = value
        elif option == "-S":
            syscalls.extend(s for s in value.split(",") if s)
        elif option == "-C":
            compares.append(_compare(value))
        elif option == "-F":
            found = _FIELD.match(value)
            if not found:
                raise NotEvaluated(f"{where}: -F {value}")
            name, op, arg = found.groups()
            if name == "arch" and op == "=":
                arch = ARCHES.get(arg, arg)
            elif name in ("path", "dir") and op == "=":
                watch = arg.rstrip("/") or "/"
            elif name == "perm" and op == "=":
                perms = arg
            elif name == "key" and op == "=":
                key = arg
            else:
                fields.append(f"{name}{op}{arg}")
        else:
            raise NotEvaluated(f"{where}: option {option}")
    if not verb:
        raise NotEvaluated(f"{where}: {line!r}")
    if watch and not syscalls:
        perms = "".join(sorted(set(perms or "rwxa")))
        rule = AuditRule(where, line, watch=watch, perms=perms, list=listed or "exit",
                         action=action or "always", key=key, fields=tuple(fields))
    else:
        rule = AuditRule(where, line, list=listed, action=action, arch=arch, syscalls=tuple(syscalls),
                         fields=tuple(fields), compares=tuple(compares), key=key)
    return verb, rule


def _same(a: AuditRule, b: AuditRule) -> bool:
    return (a.watch, a.perms, a.list, a.action, a.arch, set(a.syscalls), set(a.fields), set(a.compares), a.key) == \
        (b.watch, b.perms, b.list, b.action, b.arch, set(b.syscalls), set(b.fields), set(b.compares), b.key)


def load(ctx: Context, directory: str = RULES_DIR) -> AuditRules:
    """Raises HostError when a rules file cannot be read."""
    awk = host_awk(ctx)
    files = rule_files(ctx, directory)
    ctx.host.prefetch(files)
    texts = [(f, ctx.text(f)) for f in files]
    merged = merge(texts, awk)
    rules: list[AuditRule] = []
    problems: list[str] = []
    enabled, enabled_where = "", ""
    for line, where in merged:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            verb, value = parse_rule(stripped, where)
        except NotEvaluated as exc:
            problems.append(str(exc))
            continue
        if verb == "enable":
            enabled, enabled_where = str(value), where
        elif verb == "delete_all":
            rules = []
        elif verb == "delete_key":
            rules = [r for r in rules if r.key != value]
        elif verb == "add":
            assert isinstance(value, AuditRule)
            rules.append(value)
        elif verb == "remove":
            assert isinstance(value, AuditRule)
            rules = [r for r in rules if not _same(r, value)]
    return AuditRules(directory, tuple(files), tuple(line for line, _ in merged), tuple(rules), enabled,
                      enabled_where, awk, tuple(problems))


def gather_audit(ctx: Context, args: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for arg in args:
        try:
            out[arg] = load(ctx, arg or RULES_DIR)
        except HostError as exc:
            out[arg] = unavailable(exc)
    return out


FAMILIES = {"audit_rules": gather_audit}
PREFETCH_CONTENTS = {"audit_rules": lambda args: [a or RULES_DIR for a in args]}
# host_awk's links: Debian's alternatives link and the two awks it may name
PREFETCH_METADATA = {"audit_rules": lambda args: ["/usr/bin/awk", "/etc/alternatives/awk", "/usr/bin/gawk",
                                                  "/usr/bin/mawk"]}
