"""The simulated fleet: N fake Pis on 127.0.0.1, each a real SSH server running the real agent.

Each simulated Pi has its own port, its own host key, a fake Pi filesystem tree that the
agent reads (via FLEET_AGENT_ROOT and a `vcgencmd` script on PATH), and a real zeroconf
`_ssh._tcp` advertisement bound to 127.0.0.1. Nothing here talks to any other address.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from core.sim.pi_models import MODELS, PiModel
from core.sim.pi_tree import SimPiState, build_pi_tree, write_dynamic
from core.ssh import ConnectOptions

LOOPBACK = "127.0.0.1"
SIM_USER = "pi"
MODEL_MIX = ("4b", "5", "3b+", "zero2w", "cm4")


@dataclass
class SimPi:
    index: int
    hostname: str
    model: PiModel
    serial: str
    base: Path
    state: SimPiState
    host_key: asyncssh.SSHKey
    port: int = 0
    server: asyncssh.SSHAcceptor | None = None
    service: ServiceInfo | None = None
    processes: set[asyncio.subprocess.Process] = field(default_factory=set)

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"


class _SimServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True  # always require a key


class SimLab:
    """Start with `await lab.start()`; stop with `await lab.stop()` (also on failure)."""

    def __init__(
        self,
        count: int,
        workdir: Path | None = None,
        seed: int = 1,
        advertise: bool = True,
        tick_seconds: float = 1.0,
    ) -> None:
        self.count = count
        self.seed = seed
        self.advertise = advertise
        self.tick_seconds = tick_seconds
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="fleet-lab-"))
        self.pis: list[SimPi] = []
        self._zeroconf: AsyncZeroconf | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_path = self.workdir / "client_ed25519"

    def connect_options(self) -> ConnectOptions:
        """How a client reaches the lab: its own key, no ssh-agent, no ~/.ssh/config."""
        return ConnectOptions(
            username=SIM_USER,
            client_keys=[self.client_key_path],
            use_ssh_agent=False,
            use_ssh_config=False,
            connect_timeout=5.0,
        )

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._client_key.write_private_key(str(self.client_key_path))
        self.client_key_path.chmod(0o600)
        rng = random.Random(self.seed)
        self.pis = [self._make_pi(i, rng) for i in range(self.count)]
        try:
            await asyncio.gather(*(self._start_server(pi) for pi in self.pis))
            if self.advertise:
                self._zeroconf = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
                await asyncio.gather(*(self._advertise(pi) for pi in self.pis))
        except BaseException:
            await self.stop()
            raise
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def _make_pi(self, index: int, rng: random.Random) -> SimPi:
        model = MODELS[MODEL_MIX[index % len(MODEL_MIX)]]
        hostname = f"pi-{model.key.replace('+', 'p')}-{index + 1:03d}"
        serial = f"{rng.getrandbits(64):016x}" if model.key == "5" else f"10000000{rng.getrandbits(32):08x}"
        base = self.workdir / "pis" / hostname
        state = SimPiState(temperature_c=38.0 + rng.random() * 12, uptime_s=rng.uniform(600, 900_000))
        (base / "home").mkdir(parents=True, exist_ok=True)
        build_pi_tree(base / "root", model, hostname, serial, state)
        self._link_python(base / "root" / "bin")
        key = asyncssh.generate_private_key("ssh-ed25519")
        return SimPi(index, hostname, model, serial, base, state, key)

    @staticmethod
    def _link_python(bindir: Path) -> None:
        # The device's `python3` is whatever runs us; the agent is stdlib-only.
        bindir.mkdir(parents=True, exist_ok=True)
        link = bindir / "python3"
        if not link.exists():
            link.symlink_to(sys.executable)

    async def _start_server(self, pi: SimPi) -> None:
        authorized = asyncssh.import_authorized_keys(
            self._client_key.export_public_key().decode()
        )

        async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
            await self._run_command(pi, process)

        pi.server = await asyncssh.create_server(
            _SimServer,
            LOOPBACK,
            pi.port,
            server_host_keys=[pi.host_key],
            authorized_client_keys=authorized,
            process_factory=handle,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(pi.home).encode()),
            encoding=None,
            allow_scp=False,
        )
        pi.port = pi.server.sockets[0].getsockname()[1]

    async def _run_command(self, pi: SimPi, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command
        if not command:
            process.stderr.write(b"interactive shells are not simulated\n")
            process.exit(1)
            return
        env = {
            "HOME": str(pi.home),
            "PATH": f"{pi.root / 'bin'}:/usr/bin:/bin",
            "FLEET_AGENT_ROOT": str(pi.root),
            "LANG": "C.UTF-8",
        }
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            cwd=pi.home,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        pi.processes.add(proc)
        try:
            await process.redirect(stdin=proc.stdin, stdout=proc.stdout, stderr=proc.stderr)
            process.exit(await proc.wait())
            # Let asyncssh finish its own pipe-forwarding cleanup before we go.
            await asyncio.wait_for(process.wait_closed(), 5.0)
        except (asyncssh.Error, OSError, BrokenPipeError, TimeoutError):
            pass
        finally:
            _kill(proc)
            pi.processes.discard(proc)

    async def change_host_key(self, pi: SimPi) -> None:
        """Restart a Pi's SSH server on the same port with a new host key (a re-imaged card)."""
        if pi.server is not None:
            pi.server.close()
            await pi.server.wait_closed()
        pi.host_key = asyncssh.generate_private_key("ssh-ed25519")
        await self._start_server(pi)

    async def _advertise(self, pi: SimPi) -> None:
        assert self._zeroconf is not None
        pi.service = ServiceInfo(
            "_ssh._tcp.local.",
            f"{pi.hostname}._ssh._tcp.local.",
            addresses=[socket.inet_aton(LOOPBACK)],
            port=pi.port,
            server=f"{pi.hostname}.local.",
            properties={},
        )
        await self._zeroconf.async_register_service(pi.service)

    async def _tick(self) -> None:
        rng = random.Random(self.seed + 7)
        while True:
            await asyncio.sleep(self.tick_seconds)
            for pi in self.pis:
                _drift(pi.state, rng, self.tick_seconds)
                write_dynamic(pi.root, pi.state)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._zeroconf is not None:
            with contextlib.suppress(Exception):
                await self._zeroconf.async_unregister_all_services()
            await self._zeroconf.async_close()
            self._zeroconf = None
        for pi in self.pis:
            if pi.server is not None:
                pi.server.close()
            for proc in list(pi.processes):
                _kill(proc)
        for pi in self.pis:
            if pi.server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pi.server.wait_closed(), 2.0)
                pi.server = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _drift(state: SimPiState, rng: random.Random, dt: float) -> None:
    state.uptime_s += dt
    state.temperature_c = max(30.0, min(85.0, state.temperature_c + rng.uniform(-0.6, 0.6)))


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
