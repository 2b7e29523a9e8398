"""`fleet-tui thermal`, `policy`, `fan` and `export thermal|power` against the simulated
fleet (real SSH on 127.0.0.1): what a technician reads and what is refused."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from lab_support import cli, ssh_args

from fleet_tui.cli import main
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.sim.lab import SimLab
from fleet_tui.core.sim.pi_paths import fan_hwmon_dir
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog


async def _fleet(lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The lab's Pis known and polled once, placed in rack R1 (the Pi 5 with a power budget)."""
    db = tmp_path / "fleet.db"
    listing = tmp_path / "hosts.txt"
    listing.write_text("".join(f"127.0.0.1:{pi.port} {pi.hostname}\n" for pi in lab.pis))
    assert (await cli(capsys, db, "hosts", "import", str(listing)))[0] == 0
    assert (await cli(capsys, db, "poll", *ssh_args(lab, tmp_path)))[0] == 0
    with Store.open(db) as store:
        book = RackBook(store)
        rack = book.add_rack("R1", room="lab", site="home", budget_w=10.0)
        book.set_tray(rack, 10, 4)
        for slot, pi in enumerate(lab.pis, start=1):
            book.place(pi.serial, rack, 10, slot)
    return db


async def test_thermal_policy_fan_and_exports(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(lab, tmp_path, capsys)
    pi4, pi5 = lab.pis[0], lab.pis[1]

    code, rows, _ = await cli(capsys, db, "thermal", "--json")
    assert code == 0
    devices = {r["serial"]: r for r in rows if r["type"] == "device"}
    assert set(devices) == {pi.serial for pi in lab.pis}
    assert all(r["state"] in ("ok", "warm", "hot", "critical") for r in devices.values())
    assert devices[pi5.serial]["where"] == "R1 U10 slot 2"
    assert devices[pi5.serial]["fan_rpm"] is not None
    (rack,) = [r for r in rows if r["type"] == "rack"]
    assert {a["sensor"] for a in rack["ambient"]} >= {"inlet", "top of rack", "cabinet"}

    code, text = await _text(capsys, db, "thermal", pi5.hostname)
    assert code == 0
    assert pi5.hostname in text and pi4.hostname not in text
    assert "rack R1: inlet " in text and "top of rack" in text
    assert (await cli(capsys, db, "thermal", "no-such-thing"))[0] == 2

    # policies: list, set (validated, nothing written when wrong), disable, read-only refusal
    code, rows, _ = await cli(capsys, db, "policy", "list", "--json")
    assert code == 0 and {"hot", "critical", "unreachable-cycle"} <= {r["name"] for r in rows}
    assert next(r for r in rows if r["name"] == "unreachable-cycle")["enabled"] is False
    code, _, err = await cli(capsys, db, "policy", "set", "hot", "--clear-below", "85")
    assert code == 64 and "clear_below (85) must be under above (80)" in err
    code, rows, _ = await cli(
        capsys, db, "policy", "set", "hot", "--above", "75", "--clear-below", "70", "--json"
    )
    assert code == 0 and rows[0]["above"] == 75 and rows[0]["actions"] == ["notify", "fan_full"]
    assert (await cli(capsys, db, "--readonly", "policy", "disable", "hot"))[0] == 2
    code, rows, _ = await cli(capsys, db, "policy", "disable", "hot", "--json")
    assert code == 0 and rows[0]["enabled"] is False and rows[0]["origin"] == "store"
    with Store.open(db) as store:
        said = [e.message for e in EventLog(store).recent() if e.kind == "policy"]
    assert any(m.startswith("policy hot disabled by ") for m in said)

    # fan: a Pi 5 through the agent (an operation, logged); any other model refused clearly
    code, _, err = await cli(capsys, db, "fan", pi4.hostname, "50", *ssh_args(lab, tmp_path))
    assert code == 2 and "fan control is for a Pi 5's fan; this is Raspberry Pi 4" in err
    assert (await cli(capsys, db, "fan", pi5.hostname, "150"))[0] == 64
    assert (await cli(capsys, db, "--readonly", "fan", pi5.hostname, "auto"))[0] == 2
    code, rows, _ = await cli(
        capsys, db, "fan", pi5.hostname, "60", "--json", *ssh_args(lab, tmp_path)
    )
    assert code == 0, rows
    fan = fan_hwmon_dir(pi5.root)
    assert (fan / "pwm1_enable").read_text().strip() == "1"
    assert (fan / "pwm1").read_text().strip() == "153"
    assert any(r.get("step", {}).get("message") == "fan held at 60 %" for r in rows)
    assert (await cli(capsys, db, "fan", pi5.hostname, "auto", *ssh_args(lab, tmp_path)))[0] == 0
    assert (fan / "pwm1_enable").read_text().strip() == "2"

    # exports: power marks measured (the Pi 5's PMIC) and estimates apart
    out = tmp_path / "power.csv"
    assert (await cli(capsys, db, "export", "power", "--csv", "--out", str(out)))[0] == 0
    power = {r["serial"]: r for r in csv.DictReader(out.open())}
    assert power[pi5.serial]["kind"] == "measured" and power[pi5.serial]["basis"] == "PMIC"
    assert power[pi4.serial]["kind"] == "estimate"
    assert power[pi4.serial]["basis"].startswith("estimate: idle 2.7 W")
    assert power[pi4.serial]["rack_budget_w"] == "10.0"
    out = tmp_path / "thermal.csv"
    assert (await cli(capsys, db, "export", "thermal", "--csv", "--out", str(out)))[0] == 0
    thermal = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["kind"] for r in thermal} == {"device", "ambient"}
    assert any(r["sensor"] == "inlet" and r["rack"] == "R1" for r in thermal)
    assert json.dumps(thermal)  # plain text cells


async def _text(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["--db", str(db), *argv])
    return code, capsys.readouterr().out
