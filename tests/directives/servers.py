"""Real servers on 127.0.0.1 for the BOD 18-01 scenarios: TLS (modern or accepting legacy
protocols), HTTP and HTTPS (redirect, HSTS; ``https_legacy`` is HTTPS without HSTS that still
accepts TLS 1.0), SMTP with and without STARTTLS. Certificates
are made in the test with the openssl command line.

The one stand-in is ``tls_3des``: OpenSSL 3 as shipped cannot negotiate RC4 or 3DES at all,
so that server reads the ClientHello itself and answers with a ServerHello choosing 3DES, as
an old server does; that first flight is all the probe reads.
"""
from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import struct
import subprocess
import tempfile
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Iterator

TIMEOUT = 5.0
_KEEP: list[tempfile.TemporaryDirectory[str]] = []


@lru_cache(maxsize=None)
def certificate() -> tuple[str, str]:
    """(certificate, key) files of a self-signed certificate for localhost."""
    tmp = tempfile.TemporaryDirectory(prefix="fedharden-cert-")
    _KEEP.append(tmp)
    cert, key = str(Path(tmp.name, "cert.pem")), str(Path(tmp.name, "key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    return cert, key


def context(legacy: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certificate())
    if legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1  # an old configuration: TLS 1.0 and 1.1 still on
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


def http_answer(kind: str) -> bytes:
    if kind == "http_redirect":
        return b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://localhost/\r\nContent-Length: 0\r\n\r\n"
    headers = b""
    if kind == "https_hsts":
        headers = b"Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
    elif kind == "https_short_hsts":
        headers = b"Strict-Transport-Security: max-age=86400\r\n"
    return b"HTTP/1.1 200 OK\r\n" + headers + b"Content-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def offered_suites(hello: bytes) -> tuple[int, set[int]]:
    """(client version, cipher suites) of a TLS ClientHello record."""
    if len(hello) < 5 + 4 + 2 + 32 + 1 or hello[0] != 0x16 or hello[5] != 0x01:
        return 0, set()
    version = struct.unpack("!H", hello[9:11])[0]
    offset = 43 + 1 + hello[43]
    count = struct.unpack("!H", hello[offset:offset + 2])[0] // 2
    return version, set(struct.unpack(f"!{count}H", hello[offset + 2:offset + 2 + count * 2]))


def server_hello(version: int, suite: int) -> bytes:
    body = struct.pack("!H", version) + bytes(32) + b"\x00" + struct.pack("!H", suite) + b"\x00"
    handshake = b"\x02" + struct.pack("!I", len(body))[1:] + body
    return struct.pack("!BHH", 0x16, version, len(handshake)) + handshake


class Handler(socketserver.BaseRequestHandler):
    server: Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(TIMEOUT)
        kind = self.server.kind
        try:
            if kind == "tls_3des":
                version, suites = offered_suites(sock.recv(65536))
                if 0x000A in suites:
                    sock.sendall(server_hello(min(version, 0x0303), 0x000A))
                else:
                    sock.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # fatal handshake_failure
            elif kind.startswith("smtp"):
                self.smtp(sock, kind)
            elif kind.startswith("http_"):
                read_head(sock)
                sock.sendall(http_answer(kind))
            else:  # tls_modern, tls_legacy, https_*
                tls = context(kind in ("tls_legacy", "https_legacy")).wrap_socket(sock, server_side=True)
                if kind.startswith("https") or kind == "tls_modern_http":
                    read_head(tls)
                    tls.sendall(http_answer(kind))
                tls.close()
        except (OSError, ssl.SSLError):
            pass  # a probe that hangs up after the first flight

    def smtp(self, sock: socket.socket, kind: str) -> None:
        sock.sendall(b"220 mail.test ESMTP ready\r\n")
        for _ in range(10):
            line = b""
            while not line.endswith(b"\r\n") and len(line) < 1024:
                chunk = sock.recv(1)
                if not chunk:
                    return
                line += chunk
            verb = line.strip().upper()
            if verb.startswith(b"EHLO"):
                extra = b"250-STARTTLS\r\n" if kind != "smtp_plain" else b""
                sock.sendall(b"250-mail.test\r\n250-PIPELINING\r\n" + extra + b"250 8BITMIME\r\n")
            elif verb == b"STARTTLS" and kind != "smtp_plain":
                sock.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                context(kind == "smtp_starttls_legacy").wrap_socket(sock, server_side=True).close()
                return
            elif verb == b"QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, kind: str, address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        super().__init__(address, Handler)
        self.kind = kind


@contextlib.contextmanager
def serve(kind: str) -> Iterator[int]:
    """Run one server of this kind on 127.0.0.1; yields its port."""
    server = Server(kind)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
