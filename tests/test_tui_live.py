"""Identify and reboot from the TUI against the simulated lab: real SSH, the real agent, the
fake Pi's LED and its recorded reboot requests. Confirmations and event logging included."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import live_demo, wait_for

from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.screens.common.dialogs import ConfirmDialog


async def test_identify_and_reboot_reach_the_simulated_pis(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db) as (app, pilot, fleet):
        lab = app.running.lab
        assert lab is not None
        first = fleet.table.order[0]
        pi = next(p for p in lab.pis if p.serial == first)
        trigger = pi.root / "sys/class/leds/ACT/trigger"
        before = trigger.read_text()

        await pilot.press("i")  # the row under the cursor
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        assert await wait_for(
            pilot, lambda: any("Identify: 1 accepted" in n.title for n in app._notifications), 15.0
        )
        assert "timer" in trigger.read_text() and trigger.read_text() != before

        await pilot.press("space", "space", "R")  # mark both, reboot the marked
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press(*"reboot 2", "enter")
        assert await wait_for(
            pilot, lambda: any("Reboot: 2 accepted" in n.title for n in app._notifications), 15.0
        )
        for p in lab.pis:
            assert "reboot" in (p.root / "sim/requests").read_text()
        await pilot.press("q")
    with Store.open(db, readonly=True) as store:
        kinds = sorted(e.kind for e in EventLog(store).recent(limit=100))
    assert kinds.count("reboot") == 2 and kinds.count("reboot_done") == 2
    assert "identify" in kinds and "identify_done" in kinds
