"""Reading sockets, their owners and the host's addresses out of /proc text."""
from __future__ import annotations

from agent.hosts import procfs

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1
   1: 0100007F:9C40 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 2222 1
   2: 00000000:0050 00000000:0000 06 00000000:00000000 00:00000000 00000000     0        0 0 1
"""
UDP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3333 2 0 0
  2: 0100007F:A000 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 4444 2 0 0
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5555 1
"""
FIB = """\
Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     |-- 192.0.2.2
        /32 host LOCAL
"""


def test_listening_tcp_and_unconnected_udp_only() -> None:
    assert procfs.parse_net(TCP, "tcp", little_endian=True) == [("tcp", "127.0.0.1", 22, "1111")]
    assert procfs.parse_net(UDP, "udp", little_endian=True) == [("udp", "0.0.0.0", 68, "3333")]
    assert procfs.parse_net(TCP6, "tcp6", little_endian=True) == [("tcp6", "::1", 8080, "5555")]


def test_addresses_in_the_target_byte_order() -> None:
    assert procfs.decode_address("0100007F", little_endian=True) == "127.0.0.1"
    assert procfs.decode_address("7F000001", little_endian=False) == "127.0.0.1"
    assert procfs.decode_address("00000000000000000000000001000000", little_endian=True) == "::1"
    assert procfs.decode_address("00000000000000000000000000000001", little_endian=False) == "::1"
    assert procfs.is_little_endian(b"\x7fELF\x02\x01") and not procfs.is_little_endian(b"\x7fELF\x02\x02")


def test_process_names_as_ps_shows_them() -> None:
    assert procfs.process_name(b"42 (sshd) S 1 42", None) == "sshd"
    assert procfs.process_name(b"7 (a (weird) name) S 1", None) == "a (weird) name"
    cut = b"9 (gnome-keyring-d) S 1"
    assert procfs.process_name(cut, b"/usr/bin/gnome-keyring-daemon\x00--start\x00") == "gnome-keyring-daemon"
    assert procfs.process_name(cut, b"/usr/bin/other\x00") == "gnome-keyring-d"
    assert procfs.process_name(cut, b"gnome-keyring-daemon: worker process") == "gnome-keyring-daemon:"


def test_own_addresses() -> None:
    assert procfs.parse_fib_trie(FIB) == ["127.0.0.1", "192.0.2.2"]
    assert procfs.parse_if_inet6("00000000000000000000000000000001 01 80 10 80       lo\n"
                                 "fe8000000000000000fc00fffe000001 02 40 20 80     eth0\n") == ["::1", "fe80::fc:ff:fe00:1"]


def test_owners_are_the_lowest_pid_holding_the_socket() -> None:
    links: dict[str, object] = {"/proc/900/fd/3": "socket:[1111]", "/proc/12/fd/5": "socket:[1111]",
                                "/proc/12/fd/6": "pipe:[9]", "/proc/30/fd/1": "socket:[7777]"}
    assert procfs.socket_owners(links, {"1111"}) == {"1111": 12}  # type: ignore[arg-type]
