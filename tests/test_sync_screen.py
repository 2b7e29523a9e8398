"""The sync screen, driven by keys: `:sync PEER` previews a real peer file (nothing changes),
`m` merges after a confirmation, and a placement conflict is shown and resolved with `r`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_tui_support import make_app, wait_for
from textual.widgets import DataTable, Input, OptionList, Static

from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.screens.sync import KeepDialog, SyncScreen


def _peer_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Our database and a technician's snapshot that shares a rack with it, then diverged:
    3 new devices, a note on one of ours, a label both of us changed (ours is later), and
    the slot we both filled."""
    ours, theirs = tmp_path / "ours" / "fleet.db", tmp_path / "theirs" / "fleet.db"
    with Store.open(ours) as a:
        a.set_row("racks", "r1", name="R1", height_u=42)
        DeviceBook(a).upsert("s1", hostname="pi-one")
        DeviceBook(a).upsert("s2", hostname="pi-two")
        base = Exchange(a).snapshot(tmp_path / "usb" / "base.db")
    with Store.open(theirs) as b:
        PeerMerge(b).merge(base)
        DeviceBook(b).upsert("s2", label="shelf B")
        DeviceBook(b).upsert("s1", notes="fan noisy")
        for i in range(3):
            DeviceBook(b).upsert(f"n{i}", hostname=f"pi-new-{i}")
        b.set_row("placements", "pb", serial="s2", rack_id="r1", unit=5, slot=0)
        peer = Exchange(b).snapshot(tmp_path / "usb" / "theirs.db")
    with Store.open(ours) as a:
        DeviceBook(a).upsert("s2", label="shelf A")  # later than theirs: ours wins
        a.set_row("placements", "pa", serial="s1", rack_id="r1", unit=5, slot=0)
    return ours, peer


def _cells(table: DataTable[Any]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


async def test_preview_merge_and_resolve_a_placement_conflict(tmp_path: Path) -> None:
    db, peer = _peer_pair(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        # `:sync PEER` through the command line
        await pilot.press("colon")
        prompt = app.screen.query_one("#command-input", Input)
        prompt.value = f"sync {peer}"
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, SyncScreen))
        screen = app.screen
        assert isinstance(screen, SyncScreen)
        assert await wait_for(pilot, lambda: screen.outcome is not None, 10.0)

        # the preview: counts of the real file, nothing written yet
        changes = _cells(screen.query_one("#sync-changes", DataTable))
        assert ["devices", "3", "1"] in changes and ["placements", "1", "0"] in changes
        status = str(screen.query_one("#sync-status", Static).render())
        assert "Preview: 5 rows would change" in status and "1 conflicts" in status
        edits = _cells(screen.query_one("#sync-edits", DataTable))
        assert edits == [["devices", "s2", "label", "shelf A", "shelf B", "ours"]]
        with Store.open(db, readonly=True) as s:
            assert len(DeviceBook(s).all()) == 2 and len(s.rows("placements")) == 1

        # merge after the confirmation
        await pilot.press("m")
        assert await wait_for(pilot, lambda: app.screen.id != "sync")  # the dialog
        await pilot.press("enter")
        assert await wait_for(
            pilot, lambda: screen.outcome is not None and not screen.outcome.dry_run, 10.0
        )
        with Store.open(db, readonly=True) as s:
            assert len(DeviceBook(s).all()) == 5
            assert DeviceBook(s).get("s2").label == "shelf A"  # type: ignore[union-attr]
            assert DeviceBook(s).get("s1").notes == "fan noisy"  # type: ignore[union-attr]
            assert [e.kind for e in EventLog(s).recent()] == ["merge"]

        # the conflict: slot R1/5/0 holds s1 and s2; keep s2
        assert await wait_for(pilot, lambda: len(screen.conflicts) == 1)
        conflicts = _cells(screen.query_one("#sync-conflicts", DataTable))
        assert conflicts[0][0] == "slot-shared" and "s1, s2" in conflicts[0][1]
        await pilot.press("3", "r")
        assert await wait_for(pilot, lambda: isinstance(app.screen, KeepDialog))
        options = app.screen.query_one("#keep-options", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels == [
            "pi-one at R1 U5 (placement pa)",
            "pi-two at R1 U5 (placement pb)",
        ]
        await pilot.press("down", "enter")
        assert await wait_for(pilot, lambda: screen.conflicts == [], 10.0)
        assert _cells(screen.query_one("#sync-conflicts", DataTable))[0][0] == "none"
        with Store.open(db, readonly=True) as s:
            assert [p["id"] for p in s.rows("placements")] == ["pb"]
            event = EventLog(s).recent(limit=1)[0]
            assert event.kind == "conflict" and event.serial == "s2"
            assert "kept pi-two" in event.message and "removed pi-one" in event.message


async def test_bad_peer_is_one_line_and_read_only_mode_only_previews(tmp_path: Path) -> None:
    db, peer = _peer_pair(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_text("not a database" * 50)
    before = db.read_bytes()
    app = make_app(db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = SyncScreen(str(junk))
        await app.push_screen(screen)
        status = screen.query_one("#sync-status", Static)
        assert await wait_for(pilot, lambda: "failed" in str(status.render()), 10.0)
        assert "not an SQLite database" in str(status.render())
        assert screen.outcome is None
        # a real peer previews from a private copy; merging is not offered
        field = screen.query_one("#sync-target", Input)
        field.value = str(peer)
        field.focus()
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: screen.outcome is not None, 10.0)
        assert ["devices", "3", "1"] in _cells(screen.query_one("#sync-changes", DataTable))
        await pilot.press("m")
        await pilot.pause(0.1)
        assert app.screen is screen
    assert db.read_bytes() == before
