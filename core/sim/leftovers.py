"""What a stopped lab left behind, if anything: processes, sockets, files.

Used by the tests and by bench/bench_lab.py to prove that ``SimLab.stop`` cleans up: no
process whose working directory or ``FLEET_AGENT_ROOT`` lies in the lab's workdir (agents,
their detached helpers), no socket of this process on a lab port or on mDNS port 5353, no
workdir and no control socket on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MDNS_PORT = 5353


@dataclass
class Leftovers:
    processes: list[int] = field(default_factory=list)
    tcp_sockets: list[int] = field(default_factory=list)  # lab ports still bound here
    mdns_sockets: int = 0
    paths: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.processes or self.tcp_sockets or self.mdns_sockets or self.paths)


def lab_processes(workdir: Path) -> list[int]:
    root = str(workdir.resolve())
    found = []
    for proc in psutil.process_iter(["pid", "cwd", "environ"]):
        info = proc.info
        env = info.get("environ") or {}
        places = (info.get("cwd") or "", env.get("FLEET_AGENT_ROOT", ""))
        if info["pid"] != os.getpid() and any(p.startswith(root) for p in places if p):
            found.append(info["pid"])
    return found


def mdns_sockets() -> int:
    me = psutil.Process()
    return sum(1 for c in me.net_connections(kind="udp") if c.laddr and c.laddr.port == MDNS_PORT)


def find_leftovers(
    workdir: Path,
    ports: Iterable[int],
    paths: Iterable[Path] = (),
    mdns_before: int = 0,
) -> Leftovers:
    wanted = set(ports)
    tcp = sorted(
        {
            c.laddr.port
            for c in psutil.Process().net_connections(kind="tcp")
            if c.laddr and c.laddr.port in wanted
        }
    )
    return Leftovers(
        processes=lab_processes(workdir),
        tcp_sockets=tcp,
        mdns_sockets=max(0, mdns_sockets() - mdns_before),
        paths=[p for p in (workdir, *paths) if p.exists()],
    )
