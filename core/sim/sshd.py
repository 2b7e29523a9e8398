"""The SSH server of one simulated Pi: asyncssh on 127.0.0.1, commands run in its fake tree.

Every command runs under ``/bin/sh -c`` with ``FLEET_AGENT_ROOT`` and ``PATH`` pointing into
the Pi's tree, in its own process group (so a kill takes the agent's helpers too). The
command's output is relayed through a queue that can hold each write back by the Pi's
``link_delay`` (the slow-link fault). SFTP is chrooted to the Pi's home and refuses writes
with ENOSPC while its simulated disk is full (commands then get a zero file-size limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
from typing import Any

import asyncssh

from fleet_tui.core.sim.device import LOOPBACK, SimPi

SIM_USER = "pi"
CHUNK = 65536
CLOSE_TIMEOUT = 2.0
CRASH_EXIT = 139  # what a shell reports for a process killed by SIGSEGV


class _Server(asyncssh.SSHServer):
    def __init__(self, pi: SimPi) -> None:
        self._pi = pi
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._pi.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._pi.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always require a key


class _SFTP(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[Any], pi: SimPi) -> None:
        super().__init__(chan, chroot=bytes(pi.home))
        self._pi = pi

    def write(self, file_obj: object, offset: int, data: bytes) -> Any:
        if self._pi.state.disk_free_mb <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(file_obj, offset, data)


async def start_server(pi: SimPi, authorized: asyncssh.SSHAuthorizedKeys) -> None:
    """Listen on the Pi's port (a free one the first time, the same one afterwards)."""

    async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
        await run_command(pi, process)

    pi.server = await asyncssh.create_server(
        lambda: _Server(pi),
        LOOPBACK,
        pi.port,
        server_host_keys=[pi.host_key],
        authorized_client_keys=authorized,
        process_factory=handle,
        sftp_factory=lambda chan: _SFTP(chan, pi),
        encoding=None,
        allow_scp=False,
    )
    pi.port = pi.server.sockets[0].getsockname()[1]


async def stop_server(pi: SimPi) -> None:
    """Stop listening and drop every open connection (a stopped sshd, or a dead Pi)."""
    server, pi.server = pi.server, None
    if server is not None:
        server.close()
    for conn in list(pi.connections):
        conn.abort()
    if server is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT)


def kill_agents(pi: SimPi) -> int:
    """Kill every running agent of this Pi (its process group); return how many."""
    victims = list(pi.agents)
    for proc in victims:
        kill_group(proc)
    return len(victims)


def kill_all(pi: SimPi) -> None:
    for proc in list(pi.processes):
        kill_group(proc)


def kill_group(proc: asyncio.subprocess.Process) -> None:
    # The group may outlive its leader (a detached helper of the agent): always signal it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, 9)


def _is_agent(command: str) -> bool:
    return ".pyz" in command and "agent-" in command


async def run_command(pi: SimPi, process: asyncssh.SSHServerProcess[bytes]) -> None:
    command = process.command
    if not command:
        process.stderr.write(b"interactive shells are not simulated\n")
        process.exit(1)
        return
    agent = _is_agent(command)
    if agent and pi.crash_agents:
        process.stderr.write(b"Segmentation fault\n")
        process.exit(CRASH_EXIT)
        return
    env = {
        "HOME": str(pi.home),
        "PATH": f"{pi.root / 'bin'}:/usr/bin:/bin",
        "FLEET_AGENT_ROOT": str(pi.root),
        "LANG": "C.UTF-8",
    }
    argv = ["/bin/sh", "-c", command]
    if pi.state.disk_free_mb <= 0:
        # Disk full: the kernel refuses every byte a command writes to a file (EFBIG: short of
        # a size-limited mount, no way to get ENOSPC); pipes and the SSH channel still work.
        argv = ["/bin/sh", "-c", 'ulimit -f 0; trap "" XFSZ; eval "$1"', "sh", command]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=pi.home,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    pi.processes.add(proc)
    if agent:
        pi.agents.add(proc)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    # Our own pumps, not process.redirect(): asyncssh's stdin feeder treats a write to a
    # command that has died (an agent crash) as an internal error and drops the whole
    # connection, which no sshd does.
    feeder = asyncio.get_running_loop().create_task(_feed(process.stdin, proc.stdin))
    try:
        await asyncio.gather(
            _relay(pi, proc.stdout, process.stdout), _relay(pi, proc.stderr, process.stderr)
        )
        _report_exit(process, await proc.wait())
        await asyncio.wait_for(process.wait_closed(), CLOSE_TIMEOUT)
    except (asyncssh.Error, OSError, TimeoutError):
        pass
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await feeder
        kill_group(proc)
        pi.processes.discard(proc)
        pi.agents.discard(proc)


async def _feed(source: asyncssh.SSHReader[bytes], sink: asyncio.StreamWriter) -> None:
    """Client input to the command; EOF (or a lost client) closes the command's stdin."""
    try:
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
    except (asyncssh.Error, OSError):
        pass  # the command died (agent crash) or the client went away
    finally:
        with contextlib.suppress(OSError):
            sink.close()


def _report_exit(process: asyncssh.SSHServerProcess[bytes], returncode: int) -> None:
    """An exit status, or the signal that killed the command (as sshd reports it)."""
    if returncode >= 0:
        process.exit(returncode)
        return
    try:
        name = signal.Signals(-returncode).name.removeprefix("SIG")
    except ValueError:
        name = "KILL"
    process.exit_with_signal(name)


async def _relay(pi: SimPi, source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes]) -> None:
    """Copy ``source`` to ``sink``, each chunk due ``pi.link_delay`` after it was read.

    Chunks keep their order and their delays overlap (latency, not a bandwidth cap).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def read() -> None:
        try:
            while chunk := await source.read(CHUNK):
                queue.put_nowait((loop.time() + pi.link_delay, chunk))
        finally:
            queue.put_nowait(None)

    reader = loop.create_task(read())
    broken = False  # the client went away: keep draining so the command never blocks
    try:
        while (item := await queue.get()) is not None:
            due, chunk = item
            if broken:
                continue
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            try:
                sink.write(chunk)
                await sink.drain()
            except (asyncssh.Error, OSError):
                broken = True
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def start_hung(pi: SimPi) -> None:
    """A hung sshd on the Pi's port: it accepts connections and never sends a byte (the SSH
    banner never comes), as one stuck in D state or behind a wedged PAM module."""
    if pi.hang_server is not None:
        return

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pi.hung.add(writer)
        try:
            while await reader.read(CHUNK):
                pass
        except OSError:
            pass
        finally:
            pi.hung.discard(writer)
            writer.close()

    pi.hang_server = await asyncio.start_server(hold, LOOPBACK, pi.port)


async def stop_hung(pi: SimPi) -> None:
    server, pi.hang_server = pi.hang_server, None
    if server is None:
        return
    server.close()
    for writer in list(pi.hung):
        writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT)
