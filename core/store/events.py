"""Store: the event log (append-only)."""

from __future__ import annotations

from fleet_tui.core.records import EventRecord
from fleet_tui.core.store.base import StoreCore


class StoreEvents(StoreCore):
    def record_event(self, serial: str | None, kind: str, message: str) -> None:
        with self._write() as c:
            self._log_event(c, serial, kind, message)

    def events(self, serial: str | None = None, limit: int = 100) -> list[EventRecord]:
        """The newest `limit` events (of one device, or all), newest first."""
        where, params = ("serial = ?", (serial,)) if serial is not None else ("1", ())
        rows = self._row_dicts(
            f"SELECT origin, seq, time, serial, kind, message FROM events WHERE {where} "
            "ORDER BY time DESC, origin DESC, seq DESC LIMIT ?",
            (*params, limit),
        )
        return [EventRecord(**r) for r in rows]
