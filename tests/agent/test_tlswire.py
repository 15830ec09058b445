"""Hand-built TLS handshake messages: what the BOD 18-01 probes send and how answers are read."""
from __future__ import annotations

import struct

from agent.facts import tlswire
from agent.facts.tlsprobe import target_of
from tests.directives.servers import offered_suites, server_hello


def test_client_hello_offers_exactly_one_version_and_the_given_suites() -> None:
    hello = tlswire.client_hello("TLSv1.1", (0x000A, 0x0005))
    version, suites = offered_suites(hello)
    assert version == 0x0302 and suites == {0x000A, 0x0005, tlswire.SCSV_RENEGOTIATION}
    assert tlswire.needed(hello) == 0 and tlswire.needed(hello[:7]) == len(hello) - 7
    assert tlswire.client_hello("SSLv3")[1:3] == b"\x03\x00"  # SSLv3 record, no extensions


def test_server_answers() -> None:
    assert tlswire.server_answer(server_hello(0x0301, 0xC013)) == ("hello", 0x0301, 0xC013)
    assert tlswire.server_answer(b"\x15\x03\x03\x00\x02\x02\x46") == ("alert", 2, 70)
    assert tlswire.server_answer(b"") == ("other", 0, 0)
    assert tlswire.server_answer(b"SSH-2.0-OpenSSH_9.2\r\n") == ("other", 0, 0)
    ssl2 = tlswire.ssl2_client_hello()
    assert struct.unpack("!H", ssl2[:2])[0] & 0x7FFF == len(ssl2) - 2 and ssl2[2] == 0x01


def test_wildcard_binds_are_probed_on_loopback() -> None:
    assert target_of("0.0.0.0") == "127.0.0.1" and target_of("::") == "::1"
    assert target_of("10.0.0.5") == "10.0.0.5"
