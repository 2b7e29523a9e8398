"""What the command line prints for people: a header over every table, a sentence when a table
is empty, and times as the CSVs write them (ISO-8601 with the zone offset)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_tui.cli import main
from fleet_tui.commands.store_cmds import DEVICE_CSV_COLUMNS
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge


def run(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_hosts_list_has_a_header_and_says_when_there_are_no_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    Store.open(db).close()
    code, out, err = run(capsys, db, "hosts", "list", "--no-ssh-config")
    assert code == 0 and err == ""
    assert out == "no hosts yet — fleet-tui discover or hosts add\n"
    code, out, _ = run(capsys, db, "hosts", "list", "--json")
    assert code == 0 and out == ""  # JSON lines: no rows, no header, no prose
    assert run(capsys, db, "hosts", "add", "pi@10.0.0.7:2222", "--name", "door")[0] == 0
    code, out, _ = run(capsys, db, "hosts", "list", "--no-ssh-config")
    header, row = out.splitlines()
    assert header.split() == ["HOST", "USER", "NAME", "SOURCE", "SERIAL", "HOST", "KEY"]
    assert row.split()[:4] == ["10.0.0.7:2222", "pi", "door", "manual"]
    assert row.index("pi") == header.index("USER") and row.index("door") == header.index("NAME")
    code, out, _ = run(capsys, db, "hosts", "list", "--json", "--no-ssh-config")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["10.0.0.7:2222"]


def test_poll_prints_a_header_over_its_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    # nothing listens on port 1 of loopback: refused at once, a row all the same
    argv = ["poll", "--host", "127.0.0.1:1", "--timeout", "5", "--connect-timeout", "2"]
    code, out, _ = run(capsys, db, *argv)
    assert code == 2
    header, row = out.splitlines()
    assert header.split() == ["DEVICE", "ROUTE", "MODEL", "TEMP", "THROTTLED"]
    assert row.startswith("127.0.0.1") and "unreachable" in row
    code, out, _ = run(capsys, db, *argv, "--json")
    assert code == 2 and [json.loads(line)["reachable"] for line in out.splitlines()] == [False]


def test_ops_show_has_a_header_over_the_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        op = OperationJournal(store).create(
            "identify", "Identify 1 device", [DeviceTarget("10000000aaaa0001", "pi-a")]
        )
    code, out, _ = run(capsys, db, "ops", "show", op.id)
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["DEVICE"])
    assert lines[header].split() == ["DEVICE", "SERIAL", "STATUS", "MESSAGE"]
    assert lines[header + 1].split()[:3] == ["pi-a", "10000000aaaa0001", "pending"]


# ---- times: ISO-8601 with the zone offset, as the CSVs write them --------------------------------

T_OURS, T_THEIRS = 1_700_000_000.25, 1_699_990_000.5  # 2023-11-14 23:13:20 / 20:26:40 CET


@pytest.fixture
def cet() -> Iterator[None]:
    """Central European time (a POSIX rule: no tz database needed), an offset that is not 0."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "CET-1CEST,M3.5.0,M10.5.0/3"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def _both_saw_the_device(tmp_path: Path) -> tuple[Path, Path]:
    """Our database and a peer's snapshot in which both of us wrote s1's last_seen (ours
    later, so ours is kept)."""
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    with Store.open(ours) as a:
        DeviceBook(a).upsert("s1", hostname="pi-one")
        base = Exchange(a).snapshot(tmp_path / "base.db")
    with Store.open(theirs) as b:
        PeerMerge(b).merge(base)
        DeviceBook(b).upsert("s1", last_seen=T_THEIRS)
        peer = Exchange(b).snapshot(tmp_path / "peer.db")
    with Store.open(ours) as a:
        DeviceBook(a).upsert("s1", last_seen=T_OURS)
    return ours, peer


RAW_EPOCH = re.compile(r"\b1[67]\d{8}(\.\d+)?\b")


def test_merge_shows_times_as_iso_with_the_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cet: None
) -> None:
    db, peer = _both_saw_the_device(tmp_path)
    code, out, _ = run(capsys, db, "merge", str(peer), "--dry-run")
    assert code == 0
    assert (
        "    devices s1 last_seen: ours=2023-11-14T23:13:20+01:00 "
        "theirs=2023-11-14T20:26:40+01:00 -> 2023-11-14T23:13:20+01:00 (ours)"
    ) in out.splitlines()
    assert not RAW_EPOCH.search(out), out
    code, out, _ = run(capsys, db, "merge", str(peer), "--dry-run", "--json")
    (cell,) = json.loads(out)["overwrites"]
    assert cell["ours"] == T_OURS  # --json is for programs: the number itself


async def test_the_sync_screen_shows_times_as_iso_with_the_zone(tmp_path: Path, cet: None) -> None:
    from test_tui_support import make_app, wait_for
    from textual.widgets import DataTable

    from fleet_tui.screens.sync.sync import SyncScreen

    db, peer = _both_saw_the_device(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(SyncScreen(str(peer)))
        assert await wait_for(pilot, lambda: isinstance(app.screen, SyncScreen))
        screen = app.screen
        assert isinstance(screen, SyncScreen)
        assert await wait_for(pilot, lambda: screen.outcome is not None, 10.0)
        table = screen.query_one("#sync-edits", DataTable)
        assert [str(c) for c in table.get_row_at(0)] == [
            "devices",
            "s1",
            "last_seen",
            "2023-11-14T23:13:20+01:00",
            "2023-11-14T20:26:40+01:00",
            "ours",
        ]


def test_ops_and_device_exports_write_times_as_iso_with_the_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cet: None
) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        DeviceBook(store).upsert("s1", hostname="pi-one", last_seen=T_OURS)
        op = OperationJournal(store).create(
            "identify", "Identify 1 device", [DeviceTarget("s1", "pi-one")]
        )
        store.set_row("operations", op.id, created=T_OURS)
    code, out, _ = run(capsys, db, "ops")
    header, row = out.splitlines()
    assert row.split()[:2] == [op.id, "2023-11-14T23:13:20+01:00"]
    assert row.index("2023-11-14T") == header.index("WHEN")
    code, out, _ = run(capsys, db, "ops", "show", op.id)
    assert "at 2023-11-14T23:13:20+01:00" in out.splitlines()[0]
    code, out, _ = run(capsys, db, "export", "devices")
    assert out.splitlines()[1].split(",")[DEVICE_CSV_COLUMNS.index("last_seen")] == (
        "2023-11-14T23:13:20+01:00"
    )
