"""TLS handshake messages built and read byte by byte, so a probe can offer exactly one
protocol version or only weak cipher suites: things a modern TLS library refuses to send.
Only the first server flight is read; no key exchange is ever completed."""
from __future__ import annotations

import os
import struct

VERSIONS = {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303}
# Common suites of the SSLv3 to TLS 1.2 era, so a server that speaks the version finds one it knows.
LEGACY_SUITES = (0xC02F, 0xC030, 0xC02B, 0xC02C, 0xC013, 0xC014, 0xC009, 0xC00A, 0x009C, 0x009D, 0x002F, 0x0035,
                 0x0033, 0x0039, 0x000A, 0x0005, 0x0004)
WEAK_SUITES = {
    0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA", 0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", 0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
}
SCSV_RENEGOTIATION = 0x00FF
GROUPS = (0x001D, 0x0017, 0x0018)  # x25519, secp256r1, secp384r1
SIGALGS = (0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201)
# SSL 2.0 cipher specs: RC4_128_WITH_MD5, DES_192_EDE3_CBC_WITH_MD5, RC2_128_CBC_WITH_MD5, DES_64_CBC_WITH_MD5
SSL2_SPECS = (0x010080, 0x0700C0, 0x030080, 0x060040)


def _ext(kind: int, data: bytes) -> bytes:
    return struct.pack("!HH", kind, len(data)) + data


def _u16_list(values: tuple[int, ...]) -> bytes:
    return struct.pack(f"!H{len(values)}H", len(values) * 2, *values)


def client_hello(version: str, suites: tuple[int, ...] = LEGACY_SUITES, server_name: str = "") -> bytes:
    """One ClientHello record offering exactly ``version`` and ``suites``."""
    if version == "SSLv2":
        return ssl2_client_hello()
    number = VERSIONS[version]
    offered = (*suites, SCSV_RENEGOTIATION)
    body = struct.pack("!H", number) + os.urandom(32) + b"\x00" + _u16_list(offered) + b"\x01\x00"
    if number >= VERSIONS["TLSv1.0"]:
        extensions = _ext(0x000A, _u16_list(GROUPS)) + _ext(0x000B, b"\x01\x00")
        if number >= VERSIONS["TLSv1.2"]:
            extensions += _ext(0x000D, _u16_list(SIGALGS))
        if server_name:
            name = server_name.encode("idna")
            entry = b"\x00" + struct.pack("!H", len(name)) + name
            extensions += _ext(0x0000, struct.pack("!H", len(entry)) + entry)
        body += struct.pack("!H", len(extensions)) + extensions
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    record_version = VERSIONS["SSLv3"] if number == VERSIONS["SSLv3"] else VERSIONS["TLSv1.0"]
    return struct.pack("!BHH", 0x16, record_version, len(handshake)) + handshake


def ssl2_client_hello() -> bytes:
    specs = b"".join(spec.to_bytes(3, "big") for spec in SSL2_SPECS)
    challenge = os.urandom(16)
    body = b"\x01" + struct.pack("!HHHH", 0x0002, len(specs), 0, len(challenge)) + specs + challenge
    return struct.pack("!H", 0x8000 | len(body)) + body


def server_answer(data: bytes) -> tuple[str, int, int]:
    """Read the start of the server's first flight: ("hello", version, suite), ("alert", level,
    description), ("ssl2-hello", 2, 0), or ("other", 0, 0) for anything else (closed, not TLS)."""
    if len(data) >= 3 and data[0] & 0x80 and data[2] == 0x04:
        return "ssl2-hello", 2, 0
    if len(data) < 5:
        return "other", 0, 0
    kind = data[0]
    if kind == 0x15 and len(data) >= 7:
        return "alert", data[5], data[6]
    if kind != 0x16 or len(data) < 5 + 4 + 2 + 32 + 1 or data[5] != 0x02:
        return "other", 0, 0
    version = struct.unpack("!H", data[9:11])[0]
    session_len = data[43]
    offset = 44 + session_len
    if len(data) < offset + 2:
        return "other", 0, 0
    suite = struct.unpack("!H", data[offset:offset + 2])[0]
    return "hello", version, suite


def needed(data: bytes) -> int:
    """How many bytes of the first record are still missing (0 when it is complete)."""
    if len(data) >= 2 and data[0] & 0x80:
        return max(0, 2 + (((data[0] & 0x7F) << 8) | data[1]) - len(data))
    if len(data) < 5:
        return 5 - len(data)
    return max(0, 5 + int(struct.unpack("!H", data[3:5])[0]) - len(data))
