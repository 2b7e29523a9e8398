"""Jump hosts: OpenSSH config (Host/HostName/Port/User/IdentityFile/ProxyJump), ssh-agent,
and discovery through the jump host's agent — all against real SSH servers on 127.0.0.1.

The jump host here is an asyncssh server that forwards only to the lab's ports on 127.0.0.1
and runs commands (the agent) with this machine's /usr/bin/python3, like any Linux host.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest

from fleet_tui.core.discovery.jump import JumpDiscoveryError, discover_via
from fleet_tui.core.discovery.mdns import SERVICE_TYPES
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.pool import ConnectionPool, Timeouts, Unreachable
from fleet_tui.core.net.routes import Target
from fleet_tui.core.net.ssh import ConnectOptions
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store


@dataclass
class JumpHost:
    port: int
    key: asyncssh.SSHKey
    home: Path
    forwards: list[tuple[str, int]] = field(default_factory=list)
    allowed: set[int] = field(default_factory=set)
    server: asyncssh.SSHAcceptor | None = None
    procs: set[asyncio.subprocess.Process] = field(default_factory=set)


async def _start_jump(
    lab: SimLab, home: Path, key: asyncssh.SSHKey | None = None, port: int = 0
) -> JumpHost:
    os.makedirs(home, exist_ok=True)
    client_pub = asyncssh.read_private_key(str(lab.client_key_path)).export_public_key().decode()
    jump = JumpHost(port, key or asyncssh.generate_private_key("ssh-ed25519"), home)
    jump.allowed = {pi.port for pi in lab.pis}

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def connection_requested(
            self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
        ) -> bool:
            jump.forwards.append((dest_host, dest_port))
            if dest_host == LOOPBACK and dest_port in jump.allowed:
                return True
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, "Connection refused")

    async def run(process: asyncssh.SSHServerProcess[bytes]) -> None:
        env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            process.command or "exit 1",
            cwd=home,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        jump.procs.add(proc)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        # Our own pumps: asyncssh's redirect() drops the whole connection when the client
        # closes a channel whose command is still being fed, which no sshd does.
        feeder = asyncio.get_running_loop().create_task(_pump_in(process.stdin, proc.stdin))
        try:
            await asyncio.gather(
                _pump_out(proc.stdout, process.stdout), _pump_out(proc.stderr, process.stderr)
            )
            process.exit(await proc.wait())
        except (asyncssh.Error, OSError):
            pass
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feeder
            _kill(proc)
            jump.procs.discard(proc)

    jump.server = await asyncssh.create_server(
        Server,
        LOOPBACK,
        port,
        server_host_keys=[jump.key],
        authorized_client_keys=asyncssh.import_authorized_keys(client_pub),
        process_factory=run,
        sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(home).encode()),
        encoding=None,
        allow_scp=False,
    )
    jump.port = jump.server.sockets[0].getsockname()[1]
    return jump


async def _stop_jump(jump: JumpHost) -> None:
    for proc in list(jump.procs):
        _kill(proc)
    if jump.server is not None:
        jump.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(jump.server.wait_closed(), 3.0)
        jump.server = None


async def _pump_in(source: asyncssh.SSHReader[bytes], sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (asyncssh.Error, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.close()


async def _pump_out(source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes]) -> None:
    with contextlib.suppress(asyncssh.Error, OSError):
        while chunk := await source.read(65536):
            sink.write(chunk)


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
async def adlab(tmp_path: Path) -> AsyncIterator[SimLab]:
    """Three Pis that advertise on loopback (for discovery through the jump host)."""
    lab = SimLab(3, workdir=tmp_path / "adlab", advertise=True)
    await lab.start()
    try:
        yield lab
    finally:
        await lab.stop()


@pytest.fixture
async def jump(lab: SimLab, tmp_path: Path) -> AsyncIterator[JumpHost]:
    j = await _start_jump(lab, tmp_path / "jump-home")
    try:
        yield j
    finally:
        await _stop_jump(j)


def _pool(store: Store, options: ConnectOptions) -> ConnectionPool:
    return ConnectionPool(
        store, options, timeouts=Timeouts(tcp=2.0, handshake=8.0, agent=20.0, call=8.0)
    )


async def test_devices_behind_a_jump_host_share_its_connection(
    lab: SimLab, jump: JumpHost, store: Store
) -> None:
    pool = _pool(store, lab.connect_options())
    try:
        via = f"pi@{LOOPBACK}:{jump.port}"
        links = await asyncio.gather(
            *(pool.link(Target(LOOPBACK, pi.port, jump=via)) for pi in lab.pis)
        )
        assert [link.facts.serial for link in links] == [pi.serial for pi in lab.pis]
        assert sorted(p for _, p in jump.forwards) == sorted(pi.port for pi in lab.pis)
        keys = {link.route.key for link in links}
        assert keys == {f"{LOOPBACK}:{pi.port} via {LOOPBACK}:{jump.port}" for pi in lab.pis}
        assert (
            HostKeys(store).pinned(f"{LOOPBACK}:{jump.port}") is not None
        )  # the jump is pinned too
        # a destination the jump host cannot reach is one device's clear error
        with pytest.raises(Unreachable, match="jump host could not reach it"):
            await pool.link(Target(LOOPBACK, 1, jump=via))
    finally:
        await pool.close()


async def test_openssh_config_hostname_port_user_identityfile_and_proxyjump(
    lab: SimLab, jump: JumpHost, store: Store, tmp_path: Path
) -> None:
    pi = lab.pis[0]
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host door-pi\n  HostName {LOOPBACK}\n  Port {pi.port}\n  User pi\n"
        f"  IdentityFile {lab.client_key_path}\n  ProxyJump gateway\n\n"
        f"Host gateway\n  HostName {LOOPBACK}\n  Port {jump.port}\n  User pi\n"
        f"  IdentityFile {lab.client_key_path}\n\n"
        f"Host direct-pi\n  HostName {LOOPBACK}\n  Port {lab.pis[1].port}\n  User pi\n"
        f"  IdentityFile {lab.client_key_path}\n"
    )
    options = ConnectOptions(use_ssh_agent=False, config_paths=[config], connect_timeout=8.0)
    pool = _pool(store, options)
    try:
        link = await pool.link(Target("door-pi"))
        assert link.facts.serial == pi.serial
        assert link.route.key == f"{LOOPBACK}:{pi.port} via {LOOPBACK}:{jump.port}"
        assert (LOOPBACK, pi.port) in jump.forwards
        direct = await pool.link(Target("direct-pi"))
        assert direct.facts.serial == lab.pis[1].serial and direct.route.jump is None
    finally:
        await pool.close()


@pytest.fixture
def ssh_agent(tmp_path: Path, lab: SimLab) -> Iterator[str]:
    if not (shutil.which("ssh-agent") and shutil.which("ssh-add")):
        pytest.skip("ssh-agent/ssh-add not installed (openssh-client)")
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if sock.exists():
                break
            agent.poll()
            subprocess.run(["sleep", "0.02"], check=False)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(
            ["ssh-add", str(lab.client_key_path)],
            env=env,
            check=True,
            capture_output=True,
            timeout=10,
        )
        yield str(sock)
    finally:
        agent.terminate()
        agent.wait(timeout=5)


async def test_keys_from_ssh_agent(
    lab: SimLab, store: Store, ssh_agent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", ssh_agent)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh keys to fall back on
    options = ConnectOptions(
        username="pi", use_ssh_agent=True, use_ssh_config=False, connect_timeout=8.0
    )
    pool = _pool(store, options)
    try:
        link = await pool.link(Target(LOOPBACK, lab.pis[2].port))
        assert link.facts.serial == lab.pis[2].serial
    finally:
        await pool.close()
    monkeypatch.delenv("SSH_AUTH_SOCK")
    pool = _pool(store, options)
    try:
        with pytest.raises(Unreachable, match="permission denied"):
            await pool.link(Target(LOOPBACK, lab.pis[2].port))
    finally:
        await pool.close()


async def test_discovery_through_the_jump_host_agent(
    adlab: SimLab, store: Store, tmp_path: Path
) -> None:
    jump = await _start_jump(adlab, tmp_path / "jump2")
    pool = _pool(store, adlab.connect_options())
    try:
        via = f"pi@{LOOPBACK}:{jump.port}"
        found = await discover_via(
            pool,
            via,
            seconds=1.5,
            interfaces=[LOOPBACK],
            service_types=SERVICE_TYPES,
            neighbours=False,  # this machine's own table is no test fixture
        )
        ours = {c.port: c for c in found.candidates if c.port in {pi.port for pi in adlab.pis}}
        assert set(ours) == {pi.port for pi in adlab.pis}
        assert all(
            c.jump == via and c.source == "jump" and c.address == LOOPBACK for c in ours.values()
        )
        # and they are reached through that jump host
        link = await pool.link(Target(LOOPBACK, adlab.pis[0].port, jump=via))
        assert link.facts.serial == adlab.pis[0].serial
        assert link.route.via == f"{LOOPBACK}:{jump.port}"
        with pytest.raises(JumpDiscoveryError, match="jump host"):
            await discover_via(pool, f"pi@{LOOPBACK}:1", seconds=0.5)
    finally:
        await pool.close()
        await _stop_jump(jump)


async def test_a_changed_jump_host_key_is_refused(
    lab: SimLab, store: Store, tmp_path: Path
) -> None:
    jump = await _start_jump(lab, tmp_path / "j3")
    pool = _pool(store, lab.connect_options())
    via = f"pi@{LOOPBACK}:{jump.port}"
    try:
        await pool.link(Target(LOOPBACK, lab.pis[0].port, jump=via))
    finally:
        await pool.close()
        await _stop_jump(jump)
    impostor = await _start_jump(lab, tmp_path / "j4", port=jump.port)
    pool = _pool(store, lab.connect_options())
    try:
        with pytest.raises(Unreachable, match="jump host host key of .* changed"):
            await pool.link(Target(LOOPBACK, lab.pis[1].port, jump=via))
        assert impostor.forwards == []  # nothing was forwarded through the impostor
    finally:
        await pool.close()
        await _stop_jump(impostor)
