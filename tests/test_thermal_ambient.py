"""Ambient sensors: the agent names hwmon and 1-wire probes (never the SoC), the simulator
wires plausible probes to some Pis, and readings are stored like samples (gated) per device."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fleet_tui.core.fleet.poll import poll
from fleet_tui.core.models import AmbientReading
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.routes import Target
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_state import SimPiState, SimProbe
from fleet_tui.core.sim.pi_tree import build_pi_tree
from fleet_tui.core.sim.probes import probes_for
from fleet_tui.core.store.ambient import AmbientLog, by_rack, summary
from fleet_tui.core.store.database import Store
from fleet_tui.hardware import sensors


def _tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, probes: tuple[SimProbe, ...]) -> Path:
    root = tmp_path / "root"
    state = SimPiState(probes=probes)
    build_pi_tree(root, MODELS["5"], "pi-5", "1234567812345678", state)
    monkeypatch.setenv("FLEET_AGENT_ROOT", str(root))
    return root


def _ambient(fields: tuple[str, ...] = ("ambient",)) -> dict:
    return sensors.health(sensors.Sampler(), True, list(fields))


def test_agent_names_probes_and_skips_the_soc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes = probes_for(0, random.Random(1)) + probes_for(2, random.Random(2))
    _tree(tmp_path, monkeypatch, probes)
    h = _ambient()
    got = {(r["name"], r["kind"]): r for r in h["ambient"]}
    assert set(got) == {
        ("inlet", "temp"),
        ("top of rack", "temp"),
        ("cabinet", "temp"),
        ("cabinet humidity", "humidity"),
    }
    # the DS18B20 on an older kernel is read from w1_slave; the newer one from temperature
    assert got[("top of rack", "temp")]["source"].endswith("/w1_slave")
    assert got[("inlet", "temp")]["source"].endswith("/temperature")
    assert 20 < got[("inlet", "temp")]["value"] < 30
    assert got[("top of rack", "temp")]["value"] > got[("inlet", "temp")]["value"]
    # the SoC's thermal zone hwmon and the Pi 5's RP1 ADC are never ambient
    assert not any("cpu_thermal" in r["id"] or "rp1_adc" in r["id"] for r in h["ambient"])


def test_bad_probes_are_reasons_not_readings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path, monkeypatch, ())
    w1 = root / "sys/bus/w1/devices"
    (w1 / "28-00000000aaaa").mkdir(parents=True)
    (w1 / "28-00000000aaaa/w1_slave").write_text(
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
    )
    (w1 / "28-00000000bbbb").mkdir()
    (w1 / "28-00000000bbbb/temperature").write_text("85000\n")  # power-on value
    h = _ambient()
    assert h["ambient"] is None
    reason = h["missing"]["ambient"]
    assert "CRC check failed" in reason and "power-on value" in reason
    (w1 / "28-00000000aaaa/w1_slave").write_text(
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
    )
    h = _ambient()
    assert [(r["name"], r["value"]) for r in h["ambient"]] == [("28-00000000aaaa", 23.12)]


def test_a_pi_without_probes_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, monkeypatch, ())
    h = _ambient(("ambient", "temperature_c"))
    assert h["ambient"] is None and "no ambient sensor" in h["missing"]["ambient"]
    assert h["temperature_c"] is not None


def test_readings_are_gated_like_samples(store: Store) -> None:
    log = AmbientLog(store)
    inlet = AmbientReading(name="inlet", kind="temp", value=24.0)
    evil = AmbientReading(name="[red]x[/red]\x1b[2J", kind="temp", value=30.0)
    assert log.record("s1", [inlet, evil], 1000.0) == 2
    assert log.record("s1", [inlet.model_copy(update={"value": 24.2}), evil], 1010.0) == 0
    assert log.record("s1", [inlet.model_copy(update={"value": 25.0})], 1020.0) == 1  # moved
    assert log.record("s1", [inlet.model_copy(update={"value": 25.0})], 1080.0) == 1  # a minute
    latest = log.latest(now=1100.0)
    assert [(a.sensor, a.value) for a in latest] == [("[red]x[/red]\x1b[2J", 30.0), ("inlet", 25.0)]
    racks = by_rack(latest, {"s1": "rack-r1"})
    assert summary(racks["rack-r1"]) == "inlet 25 °C, [red]x[/red]\x1b[2J 30 °C"  # literal
    assert log.latest(now=1100.0 + 3600) == []  # nothing fresh an hour later


async def test_polled_lab_stores_named_ambient_readings(
    lab: SimLab, store: Store, pool: ConnectionPool
) -> None:
    targets = [Target(LOOPBACK, pi.port, name=pi.hostname) for pi in lab.pis]
    rows = [row async for row in poll(pool, targets, timeout=30.0)]
    assert all(r.reachable for r in rows), [r.error for r in rows]
    stored = store.appended("ambient")
    by_pi = {(r["serial"], r["sensor"], r["kind"]) for r in stored}
    first, third = lab.pis[0].serial, lab.pis[2].serial
    assert {(first, "inlet", "temp"), (first, "top of rack", "temp")} <= by_pi
    assert (third, "cabinet humidity", "humidity") in by_pi
    assert not any(r["serial"] == lab.pis[1].serial for r in stored)  # no probes wired
