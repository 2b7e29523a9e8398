"""The sync screen, driven by keys: `:sync PEER` previews a real peer file (nothing changes),
`m` merges after a confirmation, and a placement conflict is shown and resolved with `r`; a
mailbox host over SSH (a real asyncssh server on 127.0.0.1) on the pipeline's event loop,
its key pinned like a Pi's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from sync_support import Jump, fp, public, serve
from test_tui_support import NOW, make_app, wait_for
from textual.widgets import DataTable, Input, OptionList, Static

from fleet_tui.app import FleetApp
from fleet_tui.core.fleet.runtime import FleetConfig
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.ssh import ConnectOptions
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.sync import ssh as sync_ssh
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.sync.ssh import sync_target_async
from fleet_tui.screens.common.context import UiOptions
from fleet_tui.screens.sync.sync import KeepDialog, SyncScreen


def _peer_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Our database and a technician's snapshot that shares a rack with it, then diverged:
    3 new devices, a note on one of ours, a label both of us changed (ours is later), and
    the slot we both filled."""
    ours, theirs = tmp_path / "ours" / "fleet.db", tmp_path / "theirs" / "fleet.db"
    ours.parent.mkdir()
    theirs.parent.mkdir()
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


# ---- a mailbox host over SSH: core/net's connection, pinned host keys ----------------------


@pytest.fixture
async def jump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey]]:
    async for served in serve(tmp_path, monkeypatch):
        yield served


def _ssh_app(db: Path, j: Jump, *, pipeline: bool, readonly: bool = False) -> FleetApp:
    """The app with the technician's SSH settings (their key, no agent, no ~/.ssh/config)."""
    ssh = ConnectOptions(client_keys=[j.key], use_ssh_agent=False, use_ssh_config=False)
    config = FleetConfig(db_path=db, interfaces=["127.0.0.1"], options=ssh)
    opts = UiOptions(readonly=readonly, now=lambda: NOW, animate=False, flush_seconds=0.05)
    return FleetApp(config, opts, start_backend=pipeline)


async def _partner_leaves_a_change_set(tmp_path: Path, j: Jump, target: str) -> None:
    ssh = ConnectOptions(client_keys=[j.key], use_ssh_agent=False, use_ssh_config=False)
    (tmp_path / "partner").mkdir(parents=True)
    with Store.open(tmp_path / "partner" / "fleet.db") as b:
        DeviceBook(b).upsert("p1", hostname="pi-partner")
        await sync_target_async(b, target, ssh=ssh)


def _notes(app: FleetApp, title: str) -> list[str]:
    return [str(n.message) for n in app._notifications if n.title == title]


async def test_sync_with_a_host_runs_on_the_pipeline_loop_and_pins_its_key(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    j, host_key = jump
    target = f"ssh://tech@127.0.0.1:{j.port}/site"
    await _partner_leaves_a_change_set(tmp_path, j, target)
    loops: list[asyncio.AbstractEventLoop] = []
    real = sync_ssh.open_mailbox

    def watched(*args: Any, **kwargs: Any) -> Any:  # the real one, noting the loop it runs on
        loops.append(asyncio.get_running_loop())
        return real(*args, **kwargs)

    monkeypatch.setattr(sync_ssh, "open_mailbox", watched)
    db = tmp_path / "ours" / "fleet.db"
    db.parent.mkdir()
    app = _ssh_app(db, j, pipeline=True)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: app.backend.running is not None, 20.0)
        screen = SyncScreen(target)
        await app.push_screen(screen)
        assert await wait_for(pilot, lambda: screen.outcome is not None, 20.0)
        assert ["devices", "1", "0"] in _cells(screen.query_one("#sync-changes", DataTable))
        assert loops == [app.backend._loop]  # the pipeline's, not one of the worker's own
        assert await wait_for(pilot, lambda: _notes(app, "Host key pinned"))  # notify posts
        (pinned,) = _notes(app, "Host key pinned")
        assert f"127.0.0.1:{j.port}: pinned its host key {fp(host_key)} on first use" in pinned

        await pilot.press("m")
        assert await wait_for(pilot, lambda: app.screen.id != "sync")  # the dialog
        await pilot.press("enter")
        assert await wait_for(
            pilot, lambda: screen.outcome is not None and not screen.outcome.dry_run, 20.0
        )
        assert len(loops) == 2 and loops[1] is loops[0]
        assert len(_notes(app, "Host key pinned")) == 1  # pinned once

        # another key at that address now: refused, said in the status line, nothing merged
        await j.rekey(asyncssh.generate_private_key("ssh-ed25519"))
        await _partner_leaves_a_change_set(tmp_path / "2", j, target)
        screen.outcome = None
        await pilot.press("p")
        status = screen.query_one("#sync-status", Static)
        assert await wait_for(pilot, lambda: "failed" in str(status.render()), 20.0)
        assert f"host key of 127.0.0.1:{j.port} changed" in str(status.render())
        assert await wait_for(
            pilot, lambda: any("--repin" in n for n in _notes(app, "Preview failed"))
        )
    with Store.open(db, readonly=True) as s:
        assert [d.serial for d in DeviceBook(s).all()] == ["p1"]
        assert HostKeys(s).pinned(f"127.0.0.1:{j.port}") == public(host_key)


async def test_without_a_pipeline_the_worker_runs_the_exchange_on_a_loop_of_its_own(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path
) -> None:
    j, host_key = jump
    target = f"ssh://tech@127.0.0.1:{j.port}/site"
    await _partner_leaves_a_change_set(tmp_path, j, target)
    db = tmp_path / "ours" / "fleet.db"
    db.parent.mkdir()
    Store.open(db).close()

    # read-only: a database that may not pin cannot take a first key
    app = _ssh_app(db, j, pipeline=False, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = SyncScreen(target)
        await app.push_screen(screen)
        status = screen.query_one("#sync-status", Static)
        assert await wait_for(pilot, lambda: "failed" in str(status.render()), 20.0)
        assert "read-only database cannot pin it" in str(status.render())

    app = _ssh_app(db, j, pipeline=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = SyncScreen(target)
        await app.push_screen(screen)
        assert await wait_for(pilot, lambda: screen.outcome is not None, 20.0)
        assert ["devices", "1", "0"] in _cells(screen.query_one("#sync-changes", DataTable))
        assert await wait_for(
            pilot, lambda: any(fp(host_key) in n for n in _notes(app, "Host key pinned"))
        )
