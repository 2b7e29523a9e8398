"""Neighbour-table candidates from recorded outputs (never by scanning a network)."""

from __future__ import annotations

from pathlib import Path

from fleet_tui.core.net.neighbours import (
    mac_of,
    parse_ip_neigh,
    parse_proc_arp,
    pi_neighbours,
    read_local,
)
from fleet_tui.core.net.oui import is_pi_mac, normalise_mac

# Recorded on a site LAN (addresses and MACs edited, layout kept byte for byte).
PROC_NET_ARP = """\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         f4:92:bf:1a:2b:3c     *        eth0
192.168.1.21     0x1         0x2         dc:a6:32:0a:0b:0c     *        eth0
192.168.1.22     0x1         0x2         B8:27:EB:11:22:33     *        eth0
192.168.1.23     0x1         0x0         00:00:00:00:00:00     *        eth0
192.168.1.24     0x1         0x2         d8:3a:dd:44:55:66     *        wlan0
192.168.1.25     0x1         0x6         2c:cf:67:77:88:99     *        eth0
192.168.1.26     0x1         0x2         e4:5f:01:aa:bb:cc     *        eth0
garbage line
192.168.1.27     0x1         0xZZ        88:a2:9e:00:00:01     *        eth0
"""

IP_NEIGH = """\
192.168.1.1 dev eth0 lladdr f4:92:bf:1a:2b:3c REACHABLE
192.168.1.21 dev eth0 lladdr dc:a6:32:0a:0b:0c STALE
192.168.1.30 dev eth0 lladdr 28:cd:c1:01:02:03 DELAY
192.168.1.31 dev eth0  FAILED
192.168.1.32 dev eth0 INCOMPLETE
fe80::dea6:32ff:fe0a:b0c dev eth0 lladdr dc:a6:32:0a:0b:0c router STALE
2001:db8::21 dev eth0 lladdr dc:a6:32:0a:0b:0c REACHABLE
192.168.1.33 dev eth0 lladdr 88:a2:9e:00:00:02 PERMANENT
224.0.0.251 dev eth0 lladdr 01:00:5e:00:00:fb NOARP
192.168.1.34 dev eth0;rm lladdr dc:a6:32:00:00:09 STALE
"""


def test_pi_ouis_and_mac_forms() -> None:
    assert normalise_mac("DC-A6-32-0A-0B-0C") == "dc:a6:32:0a:0b:0c"
    assert normalise_mac("dca6320a0b0c") == "dc:a6:32:0a:0b:0c"
    assert normalise_mac("00:00:00:00:00:00") is None
    assert normalise_mac("dc:a6:32:0a:0b") is None
    assert normalise_mac("dc:a6-32:0a:0b:0c") is None  # mixed separators
    for oui in ("B8:27:EB", "DC:A6:32", "E4:5F:01", "28:CD:C1", "D8:3A:DD", "2C:CF:67", "88:A2:9E"):
        assert is_pi_mac(oui + ":01:02:03")
    assert not is_pi_mac("f4:92:bf:1a:2b:3c")


def test_proc_net_arp_gives_complete_pi_entries_only() -> None:
    entries = parse_proc_arp(PROC_NET_ARP)
    pis = pi_neighbours(entries)
    assert [n.address for n in pis] == [
        "192.168.1.21",
        "192.168.1.22",
        "192.168.1.24",
        "192.168.1.25",
        "192.168.1.26",
    ]
    assert pis[1].mac == "b8:27:eb:11:22:33" and pis[2].device == "wlan0"
    assert mac_of("192.168.1.1", entries) == "f4:92:bf:1a:2b:3c"  # the router: not a Pi


def test_ip_neigh_gives_live_pi_entries_with_scoped_link_local() -> None:
    pis = pi_neighbours(parse_ip_neigh(IP_NEIGH))
    assert [n.address for n in pis] == [
        "192.168.1.21",
        "192.168.1.30",
        "fe80::dea6:32ff:fe0a:b0c%eth0",
        "2001:db8::21",
        "192.168.1.33",
    ]
    # FAILED / INCOMPLETE / multicast / a device name with shell characters never appear
    assert all(n.device == "eth0" for n in pis)


def test_hostile_or_huge_input_is_cut_not_trusted() -> None:
    junk = "\n".join(
        f"10.0.{i // 256}.{i % 256} dev eth0 lladdr dc:a6:32:00:00:01 STALE" for i in range(10_000)
    )
    assert len(parse_ip_neigh(junk)) == 4096
    assert parse_ip_neigh("\x1b[2J dev eth0 lladdr dc:a6:32:00:00:01 STALE") == []
    assert parse_proc_arp("") == []


def test_reading_the_local_table_never_fails(tmp_path: Path) -> None:
    fake = tmp_path / "arp"
    fake.write_text(PROC_NET_ARP)
    entries = read_local(fake)
    assert {n.address for n in pi_neighbours(entries)} >= {"192.168.1.21", "192.168.1.26"}
    assert isinstance(read_local(tmp_path / "missing"), list)
