"""Fact families: the typed, host-independent view of a target that checks judge.

The agent's gatherers (agent/facts) produce these values from any Host (local, a root
filesystem, SSH); checks only read them. A fact is addressed by a ``FactKey``: a family
name and, for families with many members (files, config files), an argument.
"""
from __future__ import annotations

from dataclasses import field

from checks.record import record
from typing import Mapping


@record(order=True)
class FactKey:
    """The address of one fact: its family and, for many-membered families, an argument."""

    family: str
    arg: str = ""

    def __str__(self) -> str:
        return f"{self.family}:{self.arg}" if self.arg else self.family


@record
class Unavailable:
    """Why a fact could not be had. ``not_applicable`` marks facts that cannot exist on
    this kind of target (runtime state of an offline image); otherwise it is an error."""

    reason: str
    not_applicable: bool = False


class FactUnavailable(Exception):
    def __init__(self, key: FactKey, why: Unavailable) -> None:
        super().__init__(why.reason)
        self.key = key
        self.why = why


_NOT_GATHERED = object()


class Facts:
    """Gathered facts, read-only. ``need`` returns a value or raises FactUnavailable."""

    def __init__(self, values: Mapping[FactKey, object]) -> None:
        self._values = dict(values)

    def need(self, key: FactKey) -> object:
        value = self.get(key)
        if isinstance(value, Unavailable):
            raise FactUnavailable(key, value)
        return value

    def runtime(self, key: FactKey, notes: list[str], what: str) -> object:
        """A fact of the running system: its value, or its ``Unavailable`` when it cannot exist
        on this target (an offline image), with ``"<what> not judged: <reason>"`` added to
        ``notes``. A runtime fact that failed for another reason raises, as ``need`` does."""
        value = self.get(key)
        if isinstance(value, Unavailable):
            if not value.not_applicable:
                raise FactUnavailable(key, value)
            notes.append(f"{what} not judged: {value.reason}")
        return value

    def get(self, key: FactKey) -> object:
        """The value or its ``Unavailable``; for checks that degrade gracefully."""
        value = self._values.get(key, _NOT_GATHERED)
        # the reason is made only when asked for: most facts asked for were gathered
        return Unavailable(f"fact {key} was not gathered") if value is _NOT_GATHERED else value

    def keys(self) -> set[FactKey]:
        return set(self._values)


# --- fact values -------------------------------------------------------------------------


@record
class FileInfo:
    """A path's metadata on the target (``exists`` False when there is nothing there)."""

    path: str
    exists: bool
    kind: str = ""  # file, dir, link, other
    mode: int = 0  # permission bits incl. setuid/setgid/sticky
    uid: int = -1
    gid: int = -1
    owner: str = ""  # resolved from the target's own /etc/passwd; "" if unknown
    group: str = ""
    target: str = ""  # symlink target


@record
class ConfigSetting:
    """One setting of a configuration file, where it was written."""

    key: str  # lower-cased, unless the file's dialect is case-sensitive (ConfigFile.case_sensitive)
    value: str
    file: str
    line: int
    match: str = ""  # sshd "Match" condition the setting is scoped to; "" = global
    scope: tuple[str, ...] = ()  # sshd: every Match condition it sits under (Include in Match nests)


@record
class ConfigFile:
    """A configuration file parsed as its program reads it (includes followed)."""

    path: str
    dialect: str
    exists: bool
    settings: tuple[ConfigSetting, ...] = ()
    first_wins: bool = False  # sshd: the first value obtained wins; others: the last
    problems: tuple[str, ...] = ()  # unreadable includes and the like
    notes: tuple[str, ...] = ()  # sshd: what it reads but fedharden does not know (unknown keywords)
    case_sensitive: bool = False  # systemd, postfix, shell and keyfile: keys as written (``ntp=`` is not ``NTP=``)

    def _key(self, key: str) -> str:
        return key if self.case_sensitive else key.lower()

    def effective(self, key: str) -> ConfigSetting | None:
        """The value in force outside any Match block."""
        hits = [s for s in self.settings if s.key == self._key(key) and not s.match]
        if not hits:
            return None
        return hits[0] if self.first_wins else hits[-1]

    def scoped(self, key: str) -> list[ConfigSetting]:
        return [s for s in self.settings if s.key == self._key(key) and s.match]


@record
class SysctlSetting:
    """One line of the sysctl.d files systemd-sysctl would apply."""

    key: str  # as written (dots or slashes); may be a glob (net.ipv4.conf.*.rp_filter)
    value: str | None  # None: a ``-key`` exclusion, which keeps globs off the key
    file: str
    line: int


@record
class Package:
    """One installed package (a binary package, with its source)."""

    name: str
    version: str
    arch: str = ""
    source: str = ""
    source_version: str = ""


@record
class PackageDB:
    """The target's installed packages."""

    format: str  # dpkg or rpm
    packages: Mapping[str, tuple[Package, ...]] = field(default_factory=dict)  # by binary name


@record
class UnitFile:
    """A systemd unit's unit-file state, as ``systemctl is-enabled`` tells it."""

    name: str
    state: str  # enabled, disabled, static, masked, not-found
    path: str = ""
    active: str = ""  # active, inactive, failed, ...; "" when not known (offline image)


@record
class Socket:
    """A listening socket and the process that owns it."""

    proto: str  # tcp, tcp6, udp, udp6
    address: str
    port: int
    process: str = ""
    pid: int = 0


@record
class ModprobeRule:
    """One install or blacklist rule of the modprobe configuration."""

    kind: str  # install, blacklist
    module: str
    command: str
    file: str
    line: int


@record
class AptValue:
    """One apt configuration value, as apt-config would show it."""

    key: str  # as first spelled; apt compares keys without case
    value: str
    file: str
    line: int


@record
class AptConfig:
    """APT's configuration after every file apt reads (agent.facts.apt)."""
    values: Mapping[str, AptValue]  # by lower-cased full key (APT::Periodic::Enable)
    errors: tuple[str, ...] = ()  # syntax errors: apt refuses the whole configuration

    def find(self, key: str) -> AptValue | None:
        """apt's Find: the value, or None when unset or empty (the caller's default applies)."""
        found = self.values.get(key.lower())
        return found if found is not None and found.value != "" else None


@record
class Mount:
    """A filesystem mounted (or set to be mounted) at a mount point."""

    mountpoint: str
    device: str
    fstype: str
    options: tuple[str, ...]
    where: str  # /proc/self/mounts, or /etc/fstab:LINE


@record
class AuditRule:
    """One rule auditctl would load from the merged file, in auditctl(8) terms. A file watch
    (``-w PATH -p PERMS``, or ``-a always,exit -F path=PATH -F perm=PERMS``) has ``watch``
    set; a syscall rule has ``list``/``action``, the syscalls, the arch (``b64``/``b32``, or
    "" for the native one) and its other fields and comparisons, normalized
    (``uid!=euid`` and ``euid!=uid`` are one comparison)."""

    where: str  # file:line in rules.d
    text: str
    watch: str = ""
    perms: str = ""  # subset of rwxa; a watch without -p has all four
    list: str = ""  # exit, user, exclude, filesystem, task
    action: str = ""  # always, never
    arch: str = ""
    syscalls: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()  # "euid=0", "auid>=1000", as written after -F (arch, key, path, perm excluded)
    compares: tuple[str, ...] = ()  # normalized -C comparisons
    key: str = ""


@record
class AuditRules:
    """What ``augenrules`` merges from /etc/audit/rules.d (sorted with ``ls -v``, comments and
    blank lines dropped, the last bare ``-D``, ``-b``, ``-f`` first and the last ``-e`` at the
    end), then what ``auditctl -R`` would hold after running those lines in order."""

    directory: str
    files: tuple[str, ...] = ()
    merged: tuple[str, ...] = ()  # the lines of the audit.rules augenrules writes, header excluded
    rules: tuple[AuditRule, ...] = ()
    enabled: str = ""  # the value of the last -e; "" when none
    enabled_where: str = ""
    awk: str = ""  # gawk or mawk: how the host's awk reads augenrules' "\\s"
    problems: tuple[str, ...] = ()  # lines not evaluated


@record
class GrubDefaults:
    """The shell variables grub-mkconfig has after sourcing /etc/default/grub and
    /etc/default/grub.d/*.cfg; ``error`` says what could not be evaluated (nothing is executed)."""

    files: tuple[str, ...]
    values: tuple[tuple[str, str], ...] = ()
    where: tuple[tuple[str, str], ...] = ()  # name -> file:line of the assignment in force
    error: str = ""

    def get(self, name: str) -> str:
        return dict(self.values).get(name, "")

    def set_at(self, name: str) -> str:
        return dict(self.where).get(name, "")


@record
class NftChain:
    """A chain of the ruleset nft would load (nft(8) CHAINS). ``hook`` is "" for a regular chain."""

    family: str  # ip, ip6, inet, arp, bridge, netdev
    table: str
    name: str
    type: str = ""
    hook: str = ""
    priority: int | None = None
    policy: str = ""  # accept or drop for a base chain
    where: str = ""  # file:line of the declaration that set the policy (or created the chain)
    dormant: bool = False  # its table has "flags dormant": no hook is registered
    rules: tuple[NftRule, ...] = ()  # in the order the chain holds them


@record
class NftRule:
    """One rule of a chain, as its words (quotes removed; an anonymous set is one ``{...}`` word)."""

    words: tuple[str, ...]
    where: str


@record
class NftRuleset:
    """What ``nft -f PATH`` would load: every chain of every table after includes, flushes
    and deletions. ``error`` is why nft would refuse the file (nothing is loaded then) or why
    fedharden cannot evaluate it; ``files`` are the files read, in order."""

    path: str
    exists: bool
    chains: tuple[NftChain, ...] = ()
    tables: tuple[tuple[str, str, bool], ...] = ()  # (family, name, dormant)
    files: tuple[str, ...] = ()
    refused: str = ""  # nft would reject the file: nothing is loaded
    error: str = ""  # fedharden cannot evaluate the file


@record
class IptRule:
    """One rule of an iptables-restore file: its chain and its words after ``-A CHAIN``
    (quotes removed, as iptables-restore splits them)."""

    chain: str
    args: tuple[str, ...]
    where: str  # file:line


@record
class IptChain:
    """One iptables chain: its policy and rules."""

    table: str
    name: str
    policy: str = ""  # ACCEPT or DROP for a built-in chain; "" for a user-defined one
    rules: tuple[IptRule, ...] = ()
    where: str = ""  # file:line that set the policy; "" when it is the kernel's default


@record
class IptRuleset:
    """What ``iptables-restore < PATH`` (or ip6tables-restore) would load: every chain of every
    table the file commits. ``refused`` is why iptables-restore rejects the file (its loaders
    test it first and then load nothing); ``error`` why fedharden cannot evaluate it."""

    path: str
    exists: bool
    chains: tuple[IptChain, ...] = ()
    refused: str = ""
    error: str = ""

    def chain(self, name: str, table: str = "filter") -> IptChain | None:
        return next((c for c in self.chains if c.table == table and c.name == name), None)


@record
class DconfValue:
    """A dconf key's value from the system databases' keyfiles."""

    value: str  # as written after "=" (GVariant text), surrounding blanks dropped
    where: str  # file:line


@record
class DconfSource:
    """One database of a dconf profile: a system database's keyfiles (/etc/dconf/db/NAME.d) as
    ``dconf update`` compiles them, or a database fedharden cannot read (``readable`` False:
    the user's own, a binary file-db)."""

    kind: str  # user-db, system-db, file-db, service-db
    name: str
    readable: bool
    values: Mapping[str, DconfValue] = field(default_factory=dict)  # by full key path /org/gnome/x/key
    locks: Mapping[str, str] = field(default_factory=dict)  # locked key -> file:line


@record
class DconfProfile:
    """A dconf profile (/etc/dconf/profile/NAME, else /usr/share/dconf/profile/NAME) and its
    databases, first (highest priority) first."""

    name: str
    path: str  # the profile file read; "" when none exists
    sources: tuple[DconfSource, ...] = ()


@record
class Account:
    """One /etc/passwd entry."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str
    line: int
    password: str = ""  # the passwd field: "x" when the hash is in /etc/shadow


@record
class Group:
    """One line of /etc/group."""

    name: str
    gid: int
    members: tuple[str, ...]
    line: int


@record
class HomeDir:
    """An interactive account's home directory and the dot files in it (lstat, never followed).
    ``truncated``: more dot files than the gatherer lists (the check must not pass on a part)."""

    user: str
    uid: int
    gid: int
    path: str
    info: FileInfo
    dotfiles: tuple[FileInfo, ...] = ()
    truncated: bool = False
    problem: str = ""  # the home could not be listed: the reason


@record
class Homes:
    """Every interactive account (a shell /etc/shells lists that is not nologin or false, UID
    from UID_MIN up, not nobody) with its home directory; ``truncated`` past the bound."""

    homes: tuple[HomeDir, ...]
    uid_min: int
    truncated: bool = False


@record
class ShadowEntry:
    """One /etc/shadow entry."""

    name: str
    hash: str
    last_change: int | None
    min_days: int | None
    max_days: int | None
    warn_days: int | None
    inactive: int | None
    line: int


@record
class OsRelease:
    """The target's os-release."""

    id: str
    version_id: str
    id_like: tuple[str, ...] = ()
    pretty_name: str = ""
    codename: str = ""

    @property
    def family(self) -> str:
        ids = (self.id, *self.id_like)
        if any(i in ("debian", "ubuntu") for i in ids):
            return "debian"
        if any(i in ("rhel", "fedora", "centos") for i in ids):
            return "rhel"
        return self.id


@record
class TextFile:
    """The meaningful lines of one text file: (line number, stripped text), comments and
    blank lines dropped."""

    path: str
    lines: tuple[tuple[int, str], ...]


@record
class TextFiles:
    """Every existing file a path or glob names, in the order the program reads them."""

    pattern: str
    files: tuple[TextFile, ...] = ()


@record
class WalkEntry:
    """A file found by the filesystem walk."""

    path: str
    kind: str  # file, dir, other
    mode: int  # permission bits incl. setuid/setgid/sticky
    uid: int
    gid: int
    owner: str = ""  # "" when the target's passwd has no such user
    group: str = ""


@record
class FsWalk:
    """One walk of the target's local filesystems, shared by every requirement that needs it.

    Each list holds at most ``limit`` entries; ``counts`` has the full numbers."""

    roots: tuple[str, ...]  # where the walk started
    skipped: tuple[str, ...]  # pruned mount points, "path (fstype)"
    examined: int  # files and directories looked at
    errors: int  # directories that could not be read
    world_writable: tuple[WalkEntry, ...] = ()  # regular files writable by others
    sticky_missing: tuple[WalkEntry, ...] = ()  # directories writable by others without the sticky bit
    unowned: tuple[WalkEntry, ...] = ()  # owner or group unknown to the target's passwd/group
    setid: tuple[WalkEntry, ...] = ()  # set-user-ID or set-group-ID regular files
    counts: Mapping[str, int] = field(default_factory=dict)
    limit: int = 0
    seconds: float = 0.0


@record
class Lifecycle:
    """A release's row of the shipped end-of-support table."""

    name: str
    end_of_support: str  # YYYY-MM-DD, last day of regular security support
    extended_until: str = ""  # last day of an extended programme, "" when there is none
    extended: str = ""  # the programme's name (Debian LTS, Ubuntu Pro ESM, Red Hat ELS)


@record
class OsLifecycle:
    """The target's release against the shipped end-of-support table."""

    os_id: str
    version_id: str
    pretty_name: str
    entry: Lifecycle | None  # None: the release is not in the table
    table: str  # where the table is and its source note


@record
class FeedAge:
    """How old a vulnerability feed the scan used is."""

    name: str
    version: str
    age_hours: float | None  # at the time of the scan that used it


@record
class LastScan:
    """The agent's record of its last completed scan (<state dir>/last_scan.json)."""

    path: str
    finished_at: str  # ISO 8601 with offset
    directives: tuple[str, ...]
    feeds: tuple[FeedAge, ...] | None  # None: the record does not say which feeds were used


@record
class Probe:
    """What one local listener answered (BOD 18-01). Which fields are set depends on ``kind``:
    ``tls`` and ``smtp`` (STARTTLS) give protocol versions and weak ciphers accepted, ``http``
    the answer to a plain GET, ``https`` the HSTS header, ``smtp`` whether STARTTLS is offered."""

    kind: str  # tls, smtp, http, https
    port: int
    address: str  # the address the socket is bound to
    target: str  # the address connected to (loopback for a wildcard bind)
    process: str = ""
    error: str = ""  # why the listener could not be probed
    accepted: tuple[str, ...] = ()  # protocol versions accepted: SSLv2, SSLv3, TLSv1.0, TLSv1.1, TLSv1.2
    weak_ciphers: tuple[str, ...] = ()  # weak suites the server agreed to when offered nothing else
    starttls: bool = False
    status: int = 0  # HTTP status of GET /
    location: str = ""  # HTTP Location header
    hsts: str | None = None  # Strict-Transport-Security header; None when absent


@record
class Probes:
    """The probes of the listeners on one port."""

    kind: str
    port: int
    probes: tuple[Probe, ...] = ()  # one per distinct listener on the port; empty when none listens


@record
class FileTree:
    """Every regular file under ``top`` (agent.facts.filetree), as ``find -P TOP -type f``."""

    top: str
    exists: bool
    files: tuple[WalkEntry, ...] = ()
    unreadable: tuple[str, ...] = ()  # "path: reason" of what could not be listed or examined
    truncated: bool = False  # the walk stopped at its bound


@record
class AppArmorProfiles:
    """The profiles loaded in the running kernel, as /sys/kernel/security/apparmor/profiles
    lists them (``NAME (MODE)``); ``enabled`` is False when the kernel has no AppArmor."""

    enabled: bool
    profiles: tuple[tuple[str, str], ...] = ()  # (name, mode)
    where: str = "/sys/kernel/security/apparmor/profiles"


@record
class PathEntry:
    """One directory of a PATH value root can get, with where it is set and its metadata
    (``info`` None when the entry is not an absolute path, or names a variable)."""

    entry: str
    where: str
    info: FileInfo | None = None


@record
class RootPath:
    """Every PATH assignment that can shape root's PATH, split into its entries; ``sources``
    are the files read, ``unresolved`` the entries naming a variable or command."""

    entries: tuple[PathEntry, ...]
    sources: tuple[str, ...]
    unresolved: tuple[PathEntry, ...] = ()
