"""systemd's own configuration files (journald.conf, journal-upload.conf...) as systemd reads them.

Files (systemd.syntax(7), the "cat-config" order): the main file is the first of
/etc/systemd/NAME, /run/systemd/NAME, /usr/local/lib/systemd/NAME and /usr/lib/systemd/NAME
that exists; then the drop-ins ``*.conf`` of NAME.d in those four folders, a file name in an
earlier folder hiding the same name in later ones (a link to /dev/null hides it and adds
nothing; names starting with a dot are skipped), all read in file-name order. Lines
(conf-parser.c): blank lines and lines starting with ``#`` or ``;`` are skipped; a line ending
in a backslash continues on the next (the backslash becomes a space); ``[Section]`` starts a
section; ``Key=value`` splits at the first ``=`` with white space stripped around both; keys
are case-sensitive and count only inside a section. The last assignment wins. Settings are
kept as ``Section/Key`` so that checks.config can ask for one section's key.
"""
from __future__ import annotations

from agent.facts.context import Context
from agent.hosts.base import HostError, NotFound
from checks.facts import ConfigFile, ConfigSetting

FOLDERS = ("/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd")


def name_of(path: str) -> str:
    """journald.conf for /etc/systemd/journald.conf (what cat-config calls systemd/journald.conf)."""
    for folder in FOLDERS:
        if path.startswith(folder + "/"):
            return path[len(folder) + 1:]
    return path.rsplit("/", 1)[-1]


def places(path: str) -> list[str]:
    """Where systemd looks for the main file ``path`` and its drop-ins (to fetch them at once)."""
    name = name_of(path)
    return [f"{folder}/{name}" for folder in FOLDERS] + [f"{folder}/{name}.d" for folder in FOLDERS]


def files(ctx: Context, path: str) -> list[str]:
    """The files systemd reads for the main file ``path``, in order (raises HostError)."""
    name = name_of(path)
    ctx.host.prefetch(places(path))
    out: list[str] = []
    for folder in FOLDERS:
        candidate = f"{folder}/{name}"
        try:
            if ctx.host.stat(candidate).kind == "file":
                out.append(candidate)
                break
        except NotFound:
            continue
    dropins: dict[str, str] = {}
    for folder in FOLDERS:
        directory = f"{folder}/{name}.d"
        for entry in ctx.listdir(directory):
            if entry.endswith(".conf") and not entry.startswith(".") and entry not in dropins:
                dropins[entry] = f"{directory}/{entry}"
    ctx.host.prefetch([dropins[entry] for entry in sorted(dropins)])
    for entry in sorted(dropins):
        try:
            if ctx.host.stat(dropins[entry]).kind == "file":  # a link to /dev/null hides the name
                out.append(dropins[entry])
        except NotFound:
            continue
    return out


def parse_text(text: str, path: str) -> list[ConfigSetting]:
    out: list[ConfigSetting] = []
    section = ""
    pending = ""
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        stripped = line.strip()
        if not pending and (not stripped or stripped[0] in "#;"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        if whole.startswith("["):
            section = whole[1:-1] if whole.endswith("]") else ""
            continue
        key, sep, value = whole.partition("=")
        if not sep or not section:
            continue
        out.append(ConfigSetting(f"{section}/{key.strip()}", value.strip(), path, start))
    return out


def parse(ctx: Context, path: str) -> ConfigFile:
    """Raises HostError when a file systemd would read cannot be read."""
    read = files(ctx, path)
    settings: list[ConfigSetting] = []
    for file in read:
        settings.extend(parse_text(ctx.text(file), file))
    main = read[0] if read and not read[0].rsplit("/", 2)[-2].endswith(".d") else path
    return ConfigFile(main, "systemd", bool(read), tuple(settings), notes=tuple(read))
