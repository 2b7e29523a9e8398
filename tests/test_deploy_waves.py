"""Releases deployed in waves to simulated Pis over real SSH, through the real agent: v1 then
v2 (one changed file: one file sent per Pi), a broken v3 that stops after the canary and
leaves it on v2, a device already on the version skipped, status and CSV export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from deploy_support import answers, current, give_ports, make_release
from lab_support import cli, known_fleet, ssh_args

from fleet_tui.core.sim.lab import SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog


def finished(rows: list[dict]) -> dict:
    return next(r["deployment"] for r in rows if r.get("event") == "finished")


async def test_waves_v1_v2_one_file_broken_v3_stops_after_canary(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await known_fleet(lab, tmp_path, capsys)
    ssh = ssh_args(lab, tmp_path)
    ports = give_ports(lab.pis)
    rel = tmp_path / "rel"
    for version, kw in (("1.0", {}), ("2.0", {}), ("3.0", {"broken": True})):
        code, _, err = await cli(
            capsys, db, "release", "add", str(make_release(rel, version, **kw))
        )
        assert code == 0, err

    wave = ["--to", "*", "--canary", "1", "--batch", "1", "--yes", "--json", *ssh]
    code, rows, err = await cli(capsys, db, "deploy", "web@1.0", *wave)
    assert code == 0, err
    v1 = finished(rows)
    assert v1["status"] == "done" and len(v1["plan"]["waves"]) == 3
    assert v1["sent_files"] == 3 * 4  # every file to every Pi the first time
    for pi in lab.pis:
        assert current(pi) == "1.0"
        assert await answers(ports[pi.serial], "1.0")

    # v2 changes one file (VERSION): one file, a few bytes, per Pi
    code, rows, err = await cli(capsys, db, "deploy", "web@2.0", *wave)
    assert code == 0, err
    v2 = finished(rows)
    assert v2["status"] == "done"
    assert v2["sent_files"] == 3 and v2["sent_bytes"] == 3 * len("2.0\n")
    for pi in lab.pis:
        assert await answers(ports[pi.serial], "2.0")
    code, rows, _ = await cli(capsys, db, "deploy", "status", v2["id"], "--json")
    sends = [s for d in rows[0]["devices"] for s in d["steps"] if s["step"] == "send"]
    assert len(sends) == 3 and all("1 of 4 files sent" in s["message"] for s in sends)

    # a broken v3: the canary's health check fails, the Pi rolls back, nothing else is touched
    code, rows, err = await cli(capsys, db, "deploy", "web@3.0", *wave)
    assert code == 1, err
    v3 = finished(rows)
    assert v3["status"] == "stopped" and "canary" in v3["message"]
    canary = v3["plan"]["waves"][0][0]
    by_serial = {pi.serial: pi for pi in lab.pis}
    assert current(by_serial[canary]) == "2.0"
    assert await answers(ports[canary], "2.0")
    code, rows, _ = await cli(capsys, db, "deploy", "status", v3["id"], "--json")
    devices = {d["serial"]: d for d in rows[0]["devices"]}
    assert devices[canary]["status"] == "ok" and devices[canary]["step"] == "rollback"
    health = next(s for s in devices[canary]["steps"] if s["step"] == "health")
    assert health["status"] == "failed" and "health command exited 1" in health["message"]
    assert "back on 2.0" in devices[canary]["rollback"]
    for serial, d in devices.items():
        if serial != canary:
            assert d["steps"] == [] and current(by_serial[serial]) == "2.0"

    # the same version again: every device skipped, nothing sent
    code, rows, err = await cli(capsys, db, "deploy", "web@2.0", *wave)
    assert code == 0, err
    again = finished(rows)
    assert again["sent_files"] == 0
    code, rows, _ = await cli(capsys, db, "deploy", "status", again["id"], "--json")
    assert {d["step"] for d in rows[0]["devices"]} == {"skip"}

    # the human status view, the CSV export and the event log
    code, _, _ = await cli(capsys, db, "deploy", "status")
    assert code == 0
    out_file = tmp_path / "deployments.csv"
    code, _, err = await cli(capsys, db, "export", "deployments", "--csv", "--out", str(out_file))
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert {r["deployment"] for r in table} == {v1["id"], v2["id"], v3["id"], again["id"]}
    assert any(r["step"] == "rollback" and "back on 2.0" in r["rollback"] for r in table)
    with Store.open(db) as store:
        kinds = [e.kind for e in EventLog(store).recent(None, limit=500)]
    assert "deploy_stopped" in kinds and "deploy_done" in kinds


async def test_readonly_and_confirmation_refuse_before_anything_is_sent(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await known_fleet(lab, tmp_path, capsys)
    ssh = ssh_args(lab, tmp_path)
    code, _, _ = await cli(capsys, db, "release", "add", str(make_release(tmp_path, "1.0")))
    assert code == 0
    code, _, err = await cli(capsys, db, "deploy", "web@1.0", "--to", "*", *ssh)
    assert code == 64 and "--yes" in err
    code, _, err = await cli(
        capsys, db, "--readonly", "deploy", "web@1.0", "--to", "*", "--yes", *ssh
    )
    assert code == 2 and "--readonly" in err
    code, _, err = await cli(capsys, db, "deploy", "web@1.0", "--to", "nomatch-xyz", "--yes", *ssh)
    assert code == 2 and "no known device matches" in err
    code, _, err = await cli(
        capsys, db, "deploy", "web@1.0", "--to", "*", "--batch", "x", "--yes", *ssh
    )
    assert code == 64 and "--batch" in err
    assert all(current(pi) is None for pi in lab.pis)
    code, rows, _ = await cli(capsys, db, "deploy", "status", "--json")
    assert rows == []
