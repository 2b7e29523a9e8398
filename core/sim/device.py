"""One simulated Pi: identity, fake filesystem, simulated state and what runs for it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from zeroconf import ServiceInfo

from fleet_tui.core.sim.pi_models import PiModel
from fleet_tui.core.sim.pi_state import SimPiState
from fleet_tui.core.sim.workload import Workload

LOOPBACK = "127.0.0.1"


@dataclass
class SimPi:
    index: int
    hostname: str
    model: PiModel
    serial: str
    base: Path
    state: SimPiState
    host_key: asyncssh.SSHKey
    workload: Workload | None = None
    port: int = 0
    server: asyncssh.SSHAcceptor | None = None
    service: ServiceInfo | None = None
    processes: set[asyncio.subprocess.Process] = field(default_factory=set)
    agents: set[asyncio.subprocess.Process] = field(default_factory=set)  # running the agent
    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)
    faults: dict[str, str] = field(default_factory=dict)  # active fault kind -> its value
    link_delay: float = 0.0  # seconds added to every reply (slow-link)
    crash_agents: bool = False  # every new agent dies at start (agent-crash=persist)
    original_host_key: asyncssh.SSHKey | None = None  # kept while host-key-change is on
    powered: bool = True  # its supply is on (a PoE port or PDU outlet of the lab may cut it)
    running: bool = True  # its OS runs: false while off, halted (poweroff) or (re)booting
    hang_server: asyncio.AbstractServer | None = None  # a hung sshd (ssh-hang) on its port
    hung: set[asyncio.StreamWriter] = field(default_factory=set)  # connections it holds

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def ssh_wanted(self) -> bool:
        return (
            self.running
            and "ssh-down" not in self.faults
            and "device-gone" not in self.faults
            and "ssh-hang" not in self.faults
        )

    @property
    def advert_wanted(self) -> bool:
        return self.running and "device-gone" not in self.faults

    @property
    def hang_wanted(self) -> bool:
        """A hung sshd: the port accepts connections and never says a word."""
        return self.running and "ssh-hang" in self.faults and "device-gone" not in self.faults
