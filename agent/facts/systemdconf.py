"""systemd's own configuration files (timesyncd.conf, journald.conf, ...) read as systemd
reads them: the main file and its drop-ins.

The files are those ``systemd-analyze cat-config systemd/NAME.conf`` lists, in its order: the
main file is the first of /etc, /run, /usr/local/lib and /usr/lib that has it; then every
``NAME.conf.d/*.conf`` of the same four folders, sorted by file name, a name in an earlier
folder shadowing the same name in later ones (a link to /dev/null masks it). Within a file
(conf-parser.c): ``#`` and ``;`` start comment lines, a line ending in a backslash continues
on the next, ``[Section]`` opens a section, ``Key=Value`` assigns (both sides stripped; keys
are case-sensitive); an assignment outside any section, or a line without ``=``, is ignored;
an invalid section header ends the reading (systemd returns the error and reads no further
file). A setting is recorded as ``Section.Key``; the last assignment wins.
"""
from __future__ import annotations

from agent.facts.context import Context
from agent.facts.sysctl import dropin_texts
from agent.hosts.base import NotFound
from checks.facts import ConfigFile, ConfigSetting

CONF_ROOTS = ("/etc", "/run", "/usr/local/lib", "/usr/lib")
WHITESPACE = " \t\n\r"


def relative_name(path: str) -> str:
    """``systemd/timesyncd.conf`` of ``/etc/systemd/timesyncd.conf`` (or of any search root)."""
    for root in CONF_ROOTS:
        if path.startswith(root + "/"):
            return path[len(root) + 1:]
    return path.lstrip("/")


def _continues(line: str) -> bool:
    """Whether a line ends in an unescaped backslash (an odd run of them)."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def parse_unit_text(text: str, path: str) -> tuple[list[ConfigSetting], list[str], bool]:
    """Settings (``Section.Key``) in file order, the problems systemd would log, and whether
    the file was read to its end (an invalid section header makes systemd stop there)."""
    settings: list[ConfigSetting] = []
    problems: list[str] = []
    section = ""
    pending, start = "", 0
    for number, raw in enumerate(text.split("\n"), 1):
        if raw.lstrip(WHITESPACE)[:1] in ("#", ";"):
            continue  # comments are skipped even inside a continued line (systemd.syntax(7))
        if _continues(raw):
            start = start if pending else number
            pending += raw[:-1] + " "
            continue
        line = (pending + raw).strip(WHITESPACE)
        number, pending = (start if pending else number), ""
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                problems.append(f"{path}:{number}: invalid section header {line!r}; systemd stops reading here")
                return settings, problems, False
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep:
            problems.append(f"{path}:{number}: missing '=', line ignored")
            continue
        if not section:
            problems.append(f"{path}:{number}: assignment outside of any section, ignored")
            continue
        settings.append(ConfigSetting(f"{section}.{key.strip(WHITESPACE)}", value.strip(WHITESPACE), path, number))
    return settings, problems, True


def main_file(ctx: Context, path: str) -> tuple[str, str] | None:
    """(path, text) of the main file in force, or None."""
    name = relative_name(path)
    for root in CONF_ROOTS:
        try:
            return f"{root}/{name}", ctx.text(f"{root}/{name}")
        except NotFound:
            continue
    return None


def conf_files(ctx: Context, path: str) -> list[tuple[str, str]]:
    """(path, text) of the main file and the drop-ins, in the order systemd reads them.
    Raises HostError when a file exists but cannot be read."""
    main = main_file(ctx, path)
    name = relative_name(path)
    return ([main] if main else []) + dropin_texts(ctx, tuple(f"{root}/{name}.d" for root in CONF_ROOTS), ".conf")


def parse_systemd_conf(ctx: Context, path: str) -> ConfigFile:
    """Raises HostError when a file exists but cannot be read."""
    files = conf_files(ctx, path)
    found = main_file(ctx, path)
    main = found[0] if found else path
    settings: list[ConfigSetting] = []
    problems: list[str] = []
    for file, body in files:
        read, trouble, whole = parse_unit_text(body, file)
        settings += read
        problems += trouble
        if not whole:
            break
    return ConfigFile(main, "systemd", bool(files), tuple(settings), problems=tuple(problems), case_sensitive=True)


def hint(path: str) -> list[str]:
    name = relative_name(path)
    return [f"{root}/{suffix}" for root in CONF_ROOTS for suffix in (name, f"{name}.d")]
