"""Candidates from the kernel's neighbour table: entries whose MAC has a Raspberry Pi OUI.

We only read the table the kernel already has (`/proc/net/arp`, `ip neigh` output); we never
probe or scan a network to fill it. The same parsers run on the text a jump host's agent
returns, so everything here treats its input as untrusted.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet_tui.core.net.oui import is_pi_mac, normalise_mac

MAX_ENTRIES = 4096  # a neighbour table bigger than this is cut, not parsed forever
_DEAD_STATES = {"FAILED", "INCOMPLETE", "NOARP"}
_IFACE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")


@dataclass(frozen=True)
class Neighbour:
    address: str  # IPv4, or IPv6 (link-local ones carry `%iface`)
    mac: str  # normalised, lower case
    device: str
    state: str = ""

    @property
    def is_pi(self) -> bool:
        return is_pi_mac(self.mac)


def _address(text: str, device: str) -> str | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback:
        return None
    if ip.version == 6 and ip.is_link_local:
        return f"{ip.compressed}%{device}"
    return ip.compressed


def _device(text: str) -> str | None:
    return text if _IFACE.match(text) else None


def parse_proc_arp(text: str) -> list[Neighbour]:
    """`/proc/net/arp`: IP, HW type, flags, HW address, mask, device (first line: header)."""
    out: list[Neighbour] = []
    for line in text.splitlines()[1 : MAX_ENTRIES + 1]:
        cols = line.split()
        if len(cols) < 6:
            continue
        ip_text, _hw_type, flags, mac_text, _mask, dev_text = cols[:6]
        try:
            complete = int(flags, 16) & 0x2
        except ValueError:
            continue
        device = _device(dev_text)
        mac = normalise_mac(mac_text)
        if not complete or device is None or mac is None:
            continue
        address = _address(ip_text, device)
        if address is not None:
            out.append(
                Neighbour(
                    address, mac, device, "REACHABLE" if int(flags, 16) & 0x4 == 0 else "PERMANENT"
                )
            )
    return out


def parse_ip_neigh(text: str) -> list[Neighbour]:
    """`ip neigh show` lines: `ADDR dev DEV lladdr MAC [router] [proxy] STATE`."""
    out: list[Neighbour] = []
    for line in text.splitlines()[:MAX_ENTRIES]:
        cols = line.split()
        if len(cols) < 3:
            continue
        fields = dict(zip(cols[1::2], cols[2::2], strict=False))
        state = cols[-1].upper() if cols[-1].isalpha() and cols[-1].isupper() else ""
        if state in _DEAD_STATES:
            continue
        device = _device(fields.get("dev", ""))
        mac = normalise_mac(_after(cols, "lladdr") or "")
        if device is None or mac is None:
            continue
        address = _address(cols[0], device)
        if address is not None:
            out.append(Neighbour(address, mac, device, state))
    return out


def _after(cols: list[str], word: str) -> str | None:
    try:
        return cols[cols.index(word) + 1]
    except (ValueError, IndexError):
        return None


def parse_agent_table(reply: Any) -> list[Neighbour]:
    """The agent's `neighbours` answer (a jump host's table): its `proc_arp` and `ip_neigh`
    texts, anything else ignored."""
    if not isinstance(reply, dict):
        return []
    arp, neigh = reply.get("proc_arp"), reply.get("ip_neigh")
    return (parse_proc_arp(arp) if isinstance(arp, str) else []) + (
        parse_ip_neigh(neigh) if isinstance(neigh, str) else []
    )


def pi_neighbours(entries: list[Neighbour]) -> list[Neighbour]:
    """Entries with a Pi OUI, one per address (the first seen wins)."""
    seen: dict[str, Neighbour] = {}
    for entry in entries:
        if entry.is_pi and entry.address not in seen:
            seen[entry.address] = entry
    return list(seen.values())


def read_local(proc_arp: Path = Path("/proc/net/arp"), timeout: float = 2.0) -> list[Neighbour]:
    """This machine's IPv4 table from /proc, plus IPv6 from `ip -6 neigh` when `ip` exists."""
    entries: list[Neighbour] = []
    try:
        entries += parse_proc_arp(proc_arp.read_text(errors="replace"))
    except OSError:
        pass
    ip = shutil.which("ip")
    if ip:
        try:
            done = subprocess.run(
                [ip, "-6", "neigh", "show"], capture_output=True, text=True, timeout=timeout
            )
            entries += parse_ip_neigh(done.stdout)
        except (OSError, subprocess.TimeoutExpired):
            pass
    return entries


def mac_of(address: str, entries: list[Neighbour]) -> str | None:
    for entry in entries:
        if entry.address == address or entry.address.split("%")[0] == address:
            return entry.mac
    return None
