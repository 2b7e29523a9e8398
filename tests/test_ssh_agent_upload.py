"""Agent upload on the exec channel: only when missing, verified by the agent's own hash."""

from __future__ import annotations

import asyncssh
import pytest

from fleet_tui.core.agent.bundle import build_agent
from fleet_tui.core.agent.client import REMOTE_DIR, AgentFailure, AgentSession, start_command
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.ssh import Endpoint, connect
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store


async def test_a_wrong_file_under_our_name_is_refused_removed_and_replaced(
    lab: SimLab, store: Store
) -> None:
    pi = lab.pis[0]
    remote = pi.home / REMOTE_DIR / build_agent().filename
    remote.parent.mkdir(parents=True, exist_ok=True)
    # a valid zipapp, but not our build: an old agent copied over, or a tampered file
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "__main__.py",
            'import sys, json\nprint(json.dumps({"hello": {"protocol": 1, "agent_version": "0", "agent_hash": "f" * 64}}), flush=True)\nsys.stdin.read()\n',
        )
    remote.write_bytes(buf.getvalue())
    conn = await connect(Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options())
    try:
        with pytest.raises(AgentFailure, match="not this build"):
            await AgentSession.start(conn, timeout=10)
        assert not remote.exists()
        session = await AgentSession.start(conn, timeout=10)  # uploads our build now
        assert session.hello.agent_hash == build_agent().sha256
        assert remote.read_bytes() == build_agent().data
        await session.close()
    finally:
        conn.close()


async def test_a_failed_upload_leaves_no_agent_under_the_real_name(
    lab: SimLab, store: Store
) -> None:
    pi = lab.pis[1]
    conn = await connect(Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options())
    path = f"{REMOTE_DIR}/{build_agent().filename}"
    try:
        process = await conn.create_process(start_command(path, 100_000), encoding=None)
        assert (await process.stdout.readline()).startswith(b"fleet-tui: agent upload needed")
        process.stdin.write(b"x" * 1000)  # the link drops after 1000 of 100000 bytes
        process.stdin.write_eof()
        result = await process.wait(check=False)
        assert result.exit_status == 97
        assert (
            result.stderr
            == f"agent upload failed ({path}): received 1000 of 100000 bytes\n".encode()
        )
    except asyncssh.Error:
        pass
    finally:
        conn.close()
    leftovers = list((pi.home / REMOTE_DIR).iterdir())
    assert not (pi.home / path).exists() and leftovers == []
