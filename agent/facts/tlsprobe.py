"""Probes of the host's own web and mail listeners for BOD 18-01 (fact family ``tls_probe``).

A fact key names a kind and a port: ``tls:443`` (protocol versions and weak ciphers of an
implicit-TLS listener), ``smtp:25`` (STARTTLS offered; then versions and ciphers through it),
``http:80`` (what a plain GET / answers), ``https:443`` (the HSTS header). Only listeners in
the host's own socket table are probed, and only on the address they are bound to (loopback
for a wildcard bind); connections go through the Host (``Host.connect``), so a remote host is
probed from itself. Every probe has short timeouts and reads a bounded number of bytes. A
probe sends what a client would: a ClientHello, EHLO/STARTTLS/QUIT, or GET / with
``Connection: close``; nothing is written to the host.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Callable

from agent.facts import tlswire
from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError
from checks.facts import Probe, Probes, Unavailable

TIMEOUT = 3.0
MAX_READ = 16 * 1024
MAX_LISTENERS = 8  # distinct addresses probed per port
LEGACY = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")
EHLO = b"EHLO fedharden.invalid\r\n"


class ProbeFailed(Exception):
    pass


def _recv_until(sock: Any, done: Callable[[bytes], bool]) -> bytes:
    data = b""
    while len(data) < MAX_READ and not done(data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _smtp_reply(sock: Any) -> bytes:
    """One SMTP reply, multi-line included (the last line has a space after the code)."""
    def complete(data: bytes) -> bool:
        lines = data.split(b"\r\n")
        return len(lines) > 1 and any(len(line) >= 4 and line[3:4] == b" " for line in lines[:-1])
    return _recv_until(sock, complete)


def _smtp_starttls(sock: Any) -> bool:
    """Greeting, EHLO; STARTTLS when offered. True when the server is now expecting a ClientHello."""
    if not _smtp_reply(sock).startswith(b"220"):
        raise ProbeFailed("no SMTP greeting")
    sock.sendall(EHLO)
    answer = _smtp_reply(sock)
    if not answer.startswith(b"250"):
        raise ProbeFailed("EHLO refused")
    if b"STARTTLS" not in answer.upper():
        return False
    sock.sendall(b"STARTTLS\r\n")
    return _smtp_reply(sock).startswith(b"220")


class Prober:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.connect: Callable[[str, int, float], Any] = getattr(ctx.host, "connect")  # noqa: B009 (optional on Host)

    def open(self, target: str, port: int, starttls: bool) -> Any:
        sock = self.connect(target, port, TIMEOUT)
        sock.settimeout(TIMEOUT)
        if starttls and not _smtp_starttls(sock):
            sock.close()
            raise ProbeFailed("STARTTLS not offered")
        return sock

    def hello(self, target: str, port: int, starttls: bool, version: str,
              suites: tuple[int, ...] = tlswire.LEGACY_SUITES) -> tuple[str, int, int]:
        sock = self.open(target, port, starttls)
        try:
            sock.sendall(tlswire.client_hello(version, suites))
            data = _recv_until(sock, lambda d: len(d) > 0 and tlswire.needed(d) == 0)
        except (ConnectionError, TimeoutError):  # socket.timeout is TimeoutError
            return "other", 0, 0
        finally:
            sock.close()
        return tlswire.server_answer(data)

    def tls(self, probe: Probe, starttls: bool) -> Probe:
        accepted = []
        for version in (*LEGACY, "TLSv1.2"):
            answer, number, _ = self.hello(probe.target, probe.port, starttls, version)
            if answer == "ssl2-hello" and version == "SSLv2":
                accepted.append(version)
            elif answer == "hello" and number == tlswire.VERSIONS.get(version):
                accepted.append(version)
        weak = []
        for version in ("TLSv1.2", "TLSv1.0"):
            answer, number, suite = self.hello(probe.target, probe.port, starttls, version, tuple(tlswire.WEAK_SUITES))
            if answer == "hello" and suite in tlswire.WEAK_SUITES:
                weak.append(f"{tlswire.WEAK_SUITES[suite]} ({version})")
        return _replace(probe, accepted=tuple(accepted), weak_ciphers=tuple(weak), starttls=starttls)

    def smtp(self, probe: Probe) -> Probe:
        sock = self.open(probe.target, probe.port, starttls=False)
        try:
            offered = _smtp_starttls(sock)
            if not offered:
                sock.sendall(b"QUIT\r\n")
        finally:
            sock.close()
        if not offered:
            return _replace(probe, starttls=False)
        return self.tls(probe, starttls=True)

    def http(self, probe: Probe, secure: bool) -> Probe:
        sock = self.open(probe.target, probe.port, starttls=False)
        try:
            if secure:
                import ssl  # only when an HTTPS listener is probed

                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE  # only the headers are read; identity is not the question
                sock = context.wrap_socket(sock, server_hostname=None)
            host = probe.target if ":" not in probe.target else f"[{probe.target}]"
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: fedharden-probe\r\n"
                         "Connection: close\r\n\r\n".encode())
            head = _recv_until(sock, lambda d: b"\r\n\r\n" in d)
        finally:
            sock.close()
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProbeFailed("not an HTTP answer")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), value.strip())
        return _replace(probe, status=int(parts[1]), location=headers.get("location", ""),
                        hsts=headers.get("strict-transport-security"))


def _replace(probe: Probe, **changes: Any) -> Probe:
    import dataclasses

    return dataclasses.replace(probe, **changes)


def target_of(address: str) -> str:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.is_unspecified:
        return "::1" if ip.version == 6 else "127.0.0.1"
    return str(ip)


def listeners(ctx: Context, kind: str, port: int) -> list[Probe]:
    seen: dict[str, Probe] = {}
    for proto, address, sport, process, _pid in ctx.memo("host:sockets", ctx.host.sockets):
        if sport != port or not proto.startswith("tcp"):
            continue
        target = target_of(address)
        if target not in seen and len(seen) < MAX_LISTENERS:
            seen[target] = Probe(kind, port, address, target, process)
    return list(seen.values())


def probe(prober: Prober, item: Probe) -> Probe:
    try:
        if item.kind == "tls":
            return prober.tls(item, starttls=False)
        if item.kind == "smtp":
            return prober.smtp(item)
        return prober.http(item, secure=item.kind == "https")
    except (OSError, ProbeFailed, HostError) as exc:  # ssl.SSLError is an OSError
        reason = getattr(exc, "reason", None) or str(exc) or exc.__class__.__name__
        return _replace(item, error=f"{item.target}:{item.port}: {reason}")


def gather_probes(ctx: Context, args: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        reason = "listeners exist only on a running system"
        return {a: Unavailable(reason, not_applicable=True) for a in args}
    if getattr(ctx.host, "connect", None) is None:
        return {a: Unavailable(f"{ctx.host.name}: this transport cannot open connections to probe listeners")
                for a in args}
    prober = Prober(ctx)
    out: dict[str, object] = {}
    for arg in args:
        kind, _, port = arg.partition(":")
        try:
            found = listeners(ctx, kind, int(port))
        except HostError as exc:
            out[arg] = unavailable(exc)
            continue
        out[arg] = Probes(kind, int(port), tuple(probe(prober, item) for item in found))
    return out


FAMILIES = {"tls_probe": gather_probes}
