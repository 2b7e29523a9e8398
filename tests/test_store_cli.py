"""The store's command line: snapshot, merge, device edit/forget, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet_tui.cli import main
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.text import when


def run(db: Path, *argv: str) -> int:
    return main(["--db", str(db), *argv])


def test_snapshot_merge_edit_forget_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a" / "fleet.db", tmp_path / "b" / "fleet.db"
    a.parent.mkdir()
    b.parent.mkdir()
    with Store.open(a) as s:
        DeviceBook(s).upsert("100", hostname="pi-b", address="10.0.0.2")
        DeviceBook(s).upsert("200", hostname="pi-a", address="10.0.0.1", last_seen=0.0)
    with Store.open(b) as s:
        DeviceBook(s).upsert("300", hostname="pi-c")
    snap = tmp_path / "usb" / "b.db"
    assert run(b, "snapshot", str(snap)) == 2  # the stick is not mounted: no folder is made
    assert not snap.parent.exists()
    snap.parent.mkdir()
    assert run(b, "snapshot", str(snap)) == 0
    assert run(b, "snapshot", str(snap)) == 64  # exists
    capsys.readouterr()
    assert run(a, "merge", str(snap), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["tables"]["devices"]["added"] == 1
    assert (
        run(a, "device", "edit", "pi-a", "--label", "shelf 2", "--tag", "lab", "--tag", "hot") == 0
    )
    assert run(a, "device", "edit", "10.0.0.1", "--untag", "hot", "--note", "fan") == 0
    assert run(a, "device", "forget", "pi-c") == 0
    assert run(a, "device", "forget", "nope") == 2
    capsys.readouterr()
    out = tmp_path / "devices.csv"
    assert run(a, "export", "devices", "--csv", "--out", str(out)) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("serial,hostname,address")
    assert [line.split(",")[1] for line in lines[1:]] == ["pi-a", "pi-b"]
    assert "shelf 2" in lines[1] and ",lab," in lines[1] and when(0.0) in lines[1]
    assert run(a, "export", "devices") == 0
    assert capsys.readouterr().out.splitlines() == lines
    assert run(a, "export", "racks-nope") == 64


def test_bad_peer_and_readonly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "fleet.db"
    Store.open(a).close()
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all" * 20)
    before = a.read_bytes()
    assert run(a, "merge", str(junk)) == 2
    err = capsys.readouterr().err.strip()
    assert "not an SQLite database" in err and len(err.splitlines()) == 1
    assert main(["--db", str(a), "--readonly", "device", "forget", "x"]) == 2
    assert a.read_bytes() == before


def test_conflicts_listed_and_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a" / "fleet.db", tmp_path / "b" / "fleet.db"
    a.parent.mkdir()
    b.parent.mkdir()
    with Store.open(a) as s:
        s.set_row("racks", "r1", name="R1", height_u=42)
        DeviceBook(s).upsert("s1", hostname="pi-one")
        s.set_row("placements", "pa", serial="s1", rack_id="r1", unit=5, slot=0)
    with Store.open(b) as s:
        s.set_row("placements", "pb", serial="s2", rack_id="r1", unit=5, slot=0)
        snap = Exchange(s).snapshot(tmp_path / "b.db")
    assert run(a, "merge", str(snap)) == 0
    capsys.readouterr()
    assert run(a, "conflicts", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["subject"], [ch["placement"] for ch in c["choices"]]) for c in listed] == [
        ("r1/5/0", ["pa", "pb"])
    ]
    assert listed[0]["choices"][0]["where"] == "R1 U5"
    assert run(a, "conflicts", "resolve", "r1/5/0", "--keep", "pz") == 2  # not one of them
    assert run(a, "conflicts", "resolve", "r1/5/0", "--keep", "pb") == 0
    assert "kept pb, removed pa" in capsys.readouterr().out
    assert run(a, "conflicts") == 0
    assert capsys.readouterr().out.strip() == "no conflicts"
    with Store.open(a, readonly=True) as s:
        assert [p["id"] for p in s.rows("placements")] == ["pb"]
        assert EventLog(s).recent()[0].kind == "conflict"
