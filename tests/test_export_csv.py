"""CSV reports: the format rules, the headless `fleet-tui export` kinds, and `x` in the TUI
exporting exactly what a table shows (filtered and sorted)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest
from test_tui_support import (
    FLEET,
    HOSTILE_HOST,
    NOW,
    exported_csv,
    make_app,
    post_fleet,
    seed_store,
    utc,
    wait_for,
)

from fleet_tui import cli
from fleet_tui.core.export import CsvRow, InventoryRow, cell, write_csv
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.screens.common.dialogs import ExportDialog
from fleet_tui.screens.fleet.fleet import FleetScreen

_ = utc


class _Row(CsvRow):
    when: datetime | None
    name: str
    value: float | None
    tags: list[str]
    ok: bool


def test_format_rules_iso_zone_plain_values_no_escapes_no_formulas(utc: None) -> None:
    out = io.StringIO()
    rows = [
        _Row(
            when=datetime.fromtimestamp(NOW).astimezone(),
            name='=HYPERLINK("x")',
            value=71.25,
            tags=["lab", "poe"],
            ok=True,
        ),
        _Row(when=None, name="[bold]pi[/]\x1b[31m", value=None, tags=[], ok=False),
    ]
    assert write_csv(_Row, rows, out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == "when,name,value,tags,ok"
    assert lines[1] == '2024-05-01T10:00:00+00:00,"\'=HYPERLINK(""x"")",71.25,lab;poe,true'
    assert lines[2] == ",[bold]pi[/]\\x1b[31m,,,false"
    assert cell(-3.5) == "-3.5"  # numbers are numbers, not guarded text
    assert cell("-rf") == "'-rf"


def _cli_export(db: Path, kind: str, out: Path) -> list[dict[str, str]]:
    assert cli.main(["--db", str(db), "export", kind, "--csv", "--out", str(out)]) == 0
    raw = out.read_bytes()
    raw.decode("utf-8")  # UTF-8, strictly
    assert b"\x1b" not in raw
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def test_export_inventory(tmp_path: Path, utc: None) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    rows = _cli_export(db, "inventory", tmp_path / "inv.csv")
    assert list(rows[0]) == list(InventoryRow.model_fields)
    by_serial = {r["serial"]: r for r in rows}
    first = by_serial[FLEET[0][1]]
    assert first["hostname"] == "pi-4b-001" and first["label"] == "front door"
    assert first["rack"] == "R1" and first["tags"] == "lab;poe" and first["port"] == "2201"
    assert first["last_seen"] == "2024-05-01T09:59:00+00:00"
    assert len(rows) == 10
    assert [r["hostname"] for r in rows if r["hostname"].startswith("[")] == [
        "[bold red]evil[/]\\x1b[2J"
    ]


def test_export_health_has_the_policy_status_of_the_newest_sample(
    tmp_path: Path, utc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # default thresholds
    db = tmp_path / "fleet.db"
    seed_store(db)
    rows = _cli_export(db, "health", tmp_path / "health.csv")
    first = next(r for r in rows if r["serial"] == FLEET[0][1])
    assert first["time"] == "2024-05-01T09:59:30+00:00"
    assert first["status"] == "warn" and "past under_voltage,throttled" in first["reasons"]
    assert first["throttled_now"] == "" and first["throttled_past"] == "under_voltage;throttled"
    assert float(first["temperature_c"]) == pytest.approx(54.5)
    others = [r for r in rows if r["serial"] != FLEET[0][1]]
    assert {r["status"] for r in others} == {"unknown"}  # no samples stored for them


def test_export_events_oldest_first_with_hostnames(tmp_path: Path, utc: None) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    with Store.open(db) as store:
        EventLog(store).record(FLEET[1][1], "reboot", "reboot requested by tech")
    rows = _cli_export(db, "events", tmp_path / "events.csv")
    assert [r["kind"] for r in rows][-1] == "reboot"
    assert rows[-1]["hostname"] == "pi-5-002"
    assert rows[0]["time"] == "2024-05-01T09:58:00+00:00"
    assert "output: [red]x[/red] \\x1b[31m" in [r["message"] for r in rows]


def test_export_to_stdout_and_unknown_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    assert cli.main(["--db", str(db), "export", "inventory"]) == 0
    assert capsys.readouterr().out.startswith("serial,hostname,label,")
    assert cli.main(["--db", str(db), "export", "nonsense"]) == 64


async def test_x_exports_the_table_as_shown_filtered_and_sorted(
    tmp_path: Path, utc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "docs"))
    exports = tmp_path / "docs" / "fleet-tui-exports"  # the default place, made on first use
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app)
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(
            pilot, lambda: "critical" in str(fleet.query_one("#fleet-summary").render())
        )
        await pilot.press("slash", *"!status:ok", "enter", "s", "s", "S")  # not ok, hottest first
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: any(n.title == "Exported" for n in app._notifications))
        shown = [fleet.model.rows[k].hostname for k in fleet.table.order]  # type: ignore[union-attr]
        default = exported_csv(exports)
        assert default is not None and exported_csv(tmp_path) is None  # never the cwd
        (note,) = [n for n in app._notifications if n.title == "Exported"]
        assert note.message == f"6 rows written to {default}"  # the full path
    rows = list(csv.DictReader(default.open(encoding="utf-8")))
    assert [r["hostname"] for r in rows] == shown
    assert [r["hostname"] for r in rows] == [
        "pi-cm4-005",
        "pi-5-002",
        "pi-3bp-003",
        "pi-zero2w-004",
        "pi-4b-006",
        "pi-old-099",
    ]
    assert rows[0]["status"] == "critical" and rows[0]["temperature_c"] == "83.1"
    assert rows[0]["last_seen"] == "2024-05-01T09:59:58+00:00"
    assert HOSTILE_HOST not in default.read_text(encoding="utf-8")
