"""Rollbacks a Pi did by itself: its dead-man watchdog put the old file back, or the agent
did at the next contact because the watchdog had been killed. Each is recorded once as a
`config_rolled_back` event, then acknowledged on the Pi (`config_ack`)."""

from __future__ import annotations

from typing import Any

from fleet_tui.core.ops.config_kind import acknowledge, rollback_text
from fleet_tui.core.ops.kinds import DeviceCaller
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog


async def take_report(
    store: Store, caller: DeviceCaller, serial: str, path: str, report: dict[str, Any]
) -> bool:
    """Record a report the Pi has not had acknowledged; True when it was news."""
    if not report or report.get("acked") or store.readonly:
        return False
    EventLog(store).record(serial, "config_rolled_back", rollback_text(path, report))
    await acknowledge(caller, serial, path, report)
    return True
