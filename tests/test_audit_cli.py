"""`fleet-tui audit record`, `export audits` and `report visit` on a real store file: what a
script or a customer gets, and bad input refused in one line with nothing written."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from walk_support import PI1, PI2, PI3, build_rack

from fleet_tui import cli
from fleet_tui.core.racks.audits import AuditLog
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.samples import SampleLog


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    (config / "fleet-tui").mkdir(parents=True)
    (config / "fleet-tui" / "config.toml").write_text('technician = "Ana Lopes"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    path = tmp_path / "fleet.db"
    with Store.open(path) as store:
        build_rack(store)
    return path


def _audits(db: Path) -> int:
    with Store.open(db) as store:
        return len(AuditLog(store).rows())


def test_audit_record_found_and_empty_then_export(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--db", str(db), "audit", "record", "R2:10/4", "--found", "ASSET-002"]) == 0
    out = capsys.readouterr().out
    assert "moved: this is pi-5-002, which should be in R2 U10 slot 3" in out
    assert cli.main(["--db", str(db), "audit", "record", "R2:8", "--empty", "--json"]) == 0
    assert '"result": "missing"' in capsys.readouterr().out
    assert cli.main(["--db", str(db), "audit", "record", "R2:10/1", "--found", "00" + PI1]) == 0
    capsys.readouterr()
    assert cli.main(["--db", str(db), "export", "audits", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["rack"], r["unit"], r["slot"], r["result"]) for r in rows] == [
        ("R2", "10", "4", "moved"),
        ("R2", "8", "", "missing"),
        ("R2", "10", "1", "ok"),
    ]
    assert rows[0]["found"] == PI2 and rows[0]["found_hostname"] == "pi-5-002"
    assert rows[1]["expected"] == PI3 and rows[0]["scanned"] == "ASSET-002"
    assert {r["who"] for r in rows} == {"Ana Lopes"} and len({r["session"] for r in rows}) == 1
    assert rows[0]["time"].endswith(("+00:00", "Z")) or rows[0]["time"][-6] in "+-"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["R7:10/1", "--empty"], "unknown rack 'R7'"),
        (["R2:13", "--empty"], "unit 13 is out of range: rack R2 has 12 units"),
        (["R2:10/5", "--empty"], "U10 of R2 is a tray of 4 slots"),
        (["R2:5", "--empty"], "holds switch 'core-sw'"),
        (["R2:10/1", "--found", "NOPE-1"], "'NOPE-1' matches no known device"),
        (["R2-10", "--empty"], "'R2-10' is not RACK:UNIT or RACK:UNIT/SLOT"),
    ],
)
def test_audit_record_bad_input_is_one_line_and_writes_nothing(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = cli.main(["--db", str(db), "audit", "record", *argv])
    err = capsys.readouterr().err
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1
    assert _audits(db) == 0
    with Store.open(db) as store:
        assert store.rows("walkthroughs") == []


def test_audit_record_refused_readonly(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--db", str(db), "--readonly", "audit", "record", "R2:8", "--empty"]) == 2
    assert "--readonly" in capsys.readouterr().err and _audits(db) == 0


def test_report_visit_sections_in_csv_and_markdown(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    with Store.open(db) as store:
        devices = DeviceBook(store)
        devices.upsert(PI1, last_seen=now, clock_skew_s=900.0)
        devices.upsert(PI2, last_seen=now - 30 * 86400)  # not seen since
        SampleLog(store).record_many(
            [
                (PI1, {"time": now - 3600, "temperature_c": 71.5, "throttled": 0x50005}),
                (PI3, {"time": now - 600, "temperature_c": 48.0}),
            ]
        )
        RackBook(store).place(PI3, RackBook(store).find_rack("R2").id, 10, 2)  # moved
    assert cli.main(["--db", str(db), "audit", "record", "R2:10/4", "--empty"]) == 0
    assert cli.main(["--db", str(db), "audit", "record", "R2:10/3", "--empty"]) == 0
    since = time.strftime("%Y-%m-%d", time.localtime(now - 86400))
    out = tmp_path / "visit.csv"
    capsys.readouterr()
    argv = ["--db", str(db), "report", "visit", "--since", since]
    assert cli.main([*argv, "--csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    by = {(r["section"], r["hostname"]) for r in rows}
    assert ("gone", "pi-5-002") in by and ("moved", "pi-zero-3") in by
    assert ("failed audit", "pi-5-002") in by and ("clock skew", "pi-4b-017") in by
    assert ("throttle", "pi-4b-017") in by and ("hottest", "pi-4b-017") in by
    assert ("added", "pi-loose") in by  # everything was first written today
    moved = next(r for r in rows if r["section"] == "moved")
    assert moved["detail"] == "moved from R2 U8 to R2 U10 slot 2"
    throttle = next(r for r in rows if r["section"] == "throttle")
    assert throttle["detail"] == "new: under_voltage; throttled"
    hot = next(r for r in rows if r["section"] == "hottest" and r["hostname"] == "pi-zero-3")
    assert (hot["rack"], hot["where"]) == ("R2", "R2 U10 slot 2")  # where it is now
    added = next(r for r in rows if r["section"] == "added" and r["hostname"] == "pi-loose")
    assert added["rack"] == "" and added["where"] == ""  # not placed: no place
    assert any(r["section"] == "rack temperature" and r["rack"] == "R2" for r in rows)
    assert cli.main([*argv, "--md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Site visit report") and "## Moved (4)" in md  # all placed today
    assert "## Conflict (0)\n\nNone." in md
    # bad input: one line, nothing written
    assert cli.main([*argv[:-2], "--since", "last tuesday", "--md"]) == 64
    assert "ISO-8601" in capsys.readouterr().err
    assert cli.main([*argv, "--md", "--out", str(tmp_path / "no" / "x.md")]) == 2
    assert not (tmp_path / "no").exists()


def test_report_visit_last_visit_runs_from_the_end_of_an_earlier_walk(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yesterday = time.time() - 2 * 86400
    with Store.open(db) as store:
        store.set_row(
            "walkthroughs",
            "walk-old",
            rack_id="x",
            status="finished",
            started=yesterday,
            finished=yesterday + 600,
        )
    assert cli.main(["--db", str(db), "report", "visit", "--last-visit", "--md"]) == 0
    out = capsys.readouterr().out
    assert "the end of the last visit" in out and "## Added (0)" not in out
