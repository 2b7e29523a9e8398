"""The simulated lab itself: mixed models, load-driven heat and fans, start time, clean stop."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from pathlib import Path

import pytest

from fleet_tui.core.agent.client import AgentSession
from fleet_tui.core.discovery.mdns import Candidate
from fleet_tui.core.models import Facts, Health
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.ssh import Endpoint, connect
from fleet_tui.core.sim import pi_tree
from fleet_tui.core.sim.lab import LOOPBACK, LabOptions, SimLab
from fleet_tui.core.sim.leftovers import find_leftovers, mdns_sockets
from fleet_tui.core.sim.pi_tree import PI5_FAN_CURVE
from fleet_tui.core.store.database import Store


async def _facts_and_health(lab: SimLab, store: Store) -> list[tuple[Facts, Health]]:
    async def one(port: int) -> tuple[Facts, Health]:
        conn = await connect(Endpoint(LOOPBACK, port), HostKeys(store), lab.connect_options())
        try:
            session = await AgentSession.start(conn)
            try:
                return await session.facts(), await session.health()
            finally:
                await session.close()
        finally:
            conn.close()

    return list(await asyncio.gather(*(one(pi.port) for pi in lab.pis)))


async def test_five_models_with_their_identity_and_each_its_own_port_and_key(
    tmp_path: Path, store: Store
) -> None:
    lab = SimLab(5, workdir=tmp_path / "lab", advertise=False)
    await lab.start()
    try:
        results = await _facts_and_health(lab, store)
    finally:
        await lab.stop()
    models = {facts.model for facts, _ in results}
    assert models == {
        "Raspberry Pi 4 Model B Rev 1.4",
        "Raspberry Pi 5 Model B Rev 1.0",
        "Raspberry Pi 3 Model B Plus Rev 1.3",
        "Raspberry Pi Zero 2 W Rev 1.0",
        "Raspberry Pi Compute Module 4 Rev 1.0",
    }
    for pi, (facts, _) in zip(lab.pis, results, strict=True):
        assert facts.serial == pi.serial and facts.revision == pi.model.revision
    assert len({pi.port for pi in lab.pis}) == 5
    assert len({pi.host_key.export_public_key() for pi in lab.pis}) == 5


async def test_temperature_fan_and_throttling_follow_load_and_model_limits(
    tmp_path: Path, store: Store
) -> None:
    lab = SimLab(7, workdir=tmp_path / "lab", advertise=False)
    await lab.start()
    try:
        pi4, pi5, pi3 = lab.pis[0], lab.pis[1], lab.pis[2]
        assert pi3.workload is not None and pi3.workload.profile == "busy"
        for pi in (pi4, pi5):  # give both a saturating job
            assert pi.workload is not None
            pi.workload.base, pi.workload.burst = float(pi.model.cores), 0.0
        cool = {pi.hostname: pi.state.temperature_c for pi in lab.pis}
        await lab.advance(600)
        results = await _facts_and_health(lab, store)
    finally:
        await lab.stop()
    h4, h5, h3 = (results[i][1] for i in range(3))
    # Load heats a Pi towards its own steady state; the agent reads it over SSH.
    assert pi4.state.load > 3.5 and pi4.state.temperature_c > cool[pi4.hostname] + 10
    assert h4.temperature_c is not None and abs(h4.temperature_c - pi4.state.temperature_c) < 1.0
    # Pi 5: the firmware fan curve spins the cooler up under load.
    fan = h5.model_dump()["fan"]
    assert fan["rpm"] > 0 and pi5.state.fan_pwm in {speed for _, speed in PI5_FAN_CURVE}
    assert (pi5.state.fan_pwm or 0) >= 125 and pi5.state.temperature_c < pi5.model.throttle_temp_c
    # 3B+ busy: past its 60 °C soft limit, so soft_temp_limit and capped frequency.
    assert pi3.state.temperature_c > 60.0
    assert h3.throttled is not None
    assert {"soft_temp_limit", "freq_capped"} <= set(h3.throttled.current)
    # Power profile: each Pi draws between its model's idle and maximum.
    for pi in lab.pis:
        assert pi.model.idle_watts <= pi.state.power_w <= pi.model.max_watts


async def test_a_stopped_lab_leaves_nothing_behind(store: Store, tmp_path: Path) -> None:
    mdns_before = mdns_sockets()
    control = tmp_path / "demo.sock"
    lab = SimLab(
        12, options=LabOptions(faults=("3:slow-link", "5:device-gone"), control_socket=control)
    )
    await lab.start()
    workdir, ports = lab.workdir, [pi.port for pi in lab.pis]
    conns = []
    try:
        assert control.exists() and lab.pis[4].server is None
        for pi in lab.pis[:4]:  # agents running on some Pis, an identify helper on one
            conn = await connect(
                Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options()
            )
            conns.append(conn)
            session = await AgentSession.start(conn)
            await session.health()
        await session.call("identify", {"seconds": 30})
        assert len(find_leftovers(workdir, ports).processes) >= 4
    finally:
        await lab.stop()
        for conn in conns:
            conn.close()
    left = find_leftovers(workdir, ports, [control], mdns_before)
    assert not left, left
    cached = [
        k for k in (*pi_tree._known_dirs, *pi_tree._last_written) if k.startswith(str(workdir))
    ]
    assert not cached, "a stopped lab must not stay in the simulator's write caches"
    for port in ports:
        with socket.socket() as s:
            s.settimeout(1.0)
            assert s.connect_ex((LOOPBACK, port)) != 0, f"port {port} still accepts"


async def test_a_lab_never_started_touches_no_disk_and_stops_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `fleet-tui demo` makes its lab before the TUI starts the pipeline (which may never run)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    lab = SimLab(3, options=LabOptions(faults=("1:overheat",)))
    await lab.stop()
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))


async def test_started_it_hands_the_pipeline_loopback_its_key_and_only_its_own_pis(
    tmp_path: Path,
) -> None:
    lab = SimLab(2, workdir=tmp_path / "lab", advertise=False)
    access = await lab.start()
    try:
        assert list(access.interfaces) == [LOOPBACK]
        assert access.options.client_keys == [lab.client_key_path]
        assert access.options.use_ssh_config is False and access.options.use_ssh_agent is False
        mine = Candidate("pi", LOOPBACK, lab.pis[0].port, "_ssh._tcp.local.")
        other = Candidate("pi", LOOPBACK, 1, "_ssh._tcp.local.")
        assert access.accept(mine) and not access.accept(other)
    finally:
        await lab.stop()


async def test_a_hundred_pis_start_within_ten_seconds_and_stop_clean() -> None:
    mdns_before = mdns_sockets()
    lab = SimLab(100)
    t0 = time.perf_counter()
    await lab.start()
    started = time.perf_counter() - t0
    try:
        assert len({pi.port for pi in lab.pis}) == 100
        assert sum(pi.service is not None for pi in lab.pis) == 100
    finally:
        await lab.stop()
    assert started < 10.0, f"100 Pis took {started:.1f} s to start"
    left = find_leftovers(lab.workdir, [pi.port for pi in lab.pis], mdns_before=mdns_before)
    assert not left, left
