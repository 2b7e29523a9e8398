"""The agent's own discovery (hardware/discover.py): mDNS browse and neighbour table, as used
through a jump host. Real zeroconf adverts on 127.0.0.1; the parser is fed garbage too."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
from pathlib import Path

import pytest
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from fleet_tui.core.agent.bundle import write_agent
from fleet_tui.core.discovery.jump import candidates_from_browse
from fleet_tui.core.sim.lab import LOOPBACK
from fleet_tui.hardware import discover
from fleet_tui.hardware.protocol import ProtocolError, Request

try:
    from tests.test_agent_py39 import find_python39
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_py39 import find_python39  # type: ignore[no-redef]


def _info(kind: str, name: str, port: int, **txt: str) -> ServiceInfo:
    return ServiceInfo(
        kind,
        f"{name}.{kind}",
        addresses=[socket.inet_aton(LOOPBACK)],
        port=port,
        server=f"{name}.local.",
        properties={k.encode(): v.encode() for k, v in txt.items()},
    )


async def test_browse_finds_adverts_with_txt_and_addresses() -> None:
    tag = secrets.token_hex(3)
    kind = f"_fa{tag}._tcp.local."  # our own type: other runs' adverts do not count
    zc = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
    try:
        await asyncio.gather(
            *(
                zc.async_register_service(
                    _info(kind, f"pi{i}-{tag}", 4100 + i, serial=f"1000000000000a{i:02d}")
                )
                for i in range(5)
            )
        )
        req = Request(1, "browse", {"seconds": 1.0, "interfaces": [LOOPBACK], "types": [kind]})
        result = await asyncio.get_running_loop().run_in_executor(None, discover.browse, req)
    finally:
        await zc.async_unregister_all_services()
        await zc.async_close()
    ports = sorted(s["port"] for s in result["services"])
    assert ports == [4100, 4101, 4102, 4103, 4104]
    assert all(s["addresses"] == [LOOPBACK] for s in result["services"])
    cands = candidates_from_browse(result, "ops@jump:22")
    assert sorted(c.serial or "" for c in cands) == [f"1000000000000a{i:02d}" for i in range(5)]
    assert all(c.jump == "ops@jump:22" for c in cands)


def test_browse_validates_its_parameters() -> None:
    for params in ({"seconds": 99}, {"types": ["x"]}, {"interfaces": ["eth0"]}, {"seconds": True}):
        with pytest.raises(ProtocolError):
            discover.browse(Request(1, "browse", params))


def test_dns_parser_never_raises_anything_but_value_errors_on_garbage() -> None:
    rng = random.Random(4)
    good = discover.build_query([("_ssh._tcp.local.", discover.T_PTR)], 7)
    for _ in range(3000):
        blob = bytearray(good + bytes(rng.randrange(256) for _ in range(rng.randrange(64))))
        for _ in range(rng.randrange(1, 6)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        blob[2] |= 0x80  # make it look like a response
        try:
            discover.parse_packet(bytes(blob))
        except (ValueError, IndexError):
            pass
    loop = bytes([0, 0, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0]) + b"\xc0\x0c"
    with pytest.raises(ValueError, match="loop"):
        discover.parse_packet(loop)


def test_neighbours_reads_the_simulated_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/arp").write_text(
        "IP address HW type Flags HW address Mask Device\n10.9.0.5 0x1 0x2 dc:a6:32:01:02:03 * eth0\n"
    )
    monkeypatch.setenv("FLEET_AGENT_ROOT", str(tmp_path))
    out = discover.neighbours(Request(1, "neighbours", {}))
    assert "dc:a6:32:01:02:03" in out["proc_arp"]
    assert out["ip_neigh"] == "" and out["missing"]["ip_neigh"] == "simulated host"


async def test_browse_and_neighbours_run_under_python39_from_the_zipapp(tmp_path: Path) -> None:
    py39 = find_python39()
    if py39 is None:
        pytest.skip("no python3.9 on this machine")
    agent = tmp_path / "agent.pyz"
    write_agent(agent)
    tag = secrets.token_hex(3)
    kind = f"_fb{tag}._tcp.local."
    zc = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
    try:
        await zc.async_register_service(_info(kind, f"old-{tag}", 4200, serial="10000000000000ff"))
        requests = (
            json.dumps(
                {
                    "id": 1,
                    "method": "browse",
                    "params": {"seconds": 1.0, "interfaces": [LOOPBACK], "types": [kind]},
                }
            )
            + "\n"
            + json.dumps({"id": 2, "method": "neighbours"})
            + "\n"
        )
        proc = await asyncio.create_subprocess_exec(
            py39,
            str(agent),
            "serve",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        )
        out, err = await asyncio.wait_for(proc.communicate(requests.encode()), 30)
    finally:
        await zc.async_unregister_all_services()
        await zc.async_close()
    replies = {m.get("id"): m for m in map(json.loads, out.decode().splitlines()) if "id" in m}
    assert replies[1]["result"]["services"][0]["port"] == 4200, err.decode()
    assert "proc_arp" in replies[2]["result"]
