"""The event log: append-only, merged as a union (a service over the Store).

Other services log an event in the same transaction as the write it explains with
`Store.log_event`; this is where events are recorded on their own and read back."""

from __future__ import annotations

from fleet_tui.core.records import EventRecord
from fleet_tui.core.store.database import Store


class EventLog:
    """The `events` table of the fleet store. Holds no state: make one wherever needed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, serial: str | None, kind: str, message: str) -> None:
        with self.store.write() as c:
            self.store.log_event(c, serial, kind, message)

    def recent(self, serial: str | None = None, limit: int = 100) -> list[EventRecord]:
        """The newest `limit` events (of one device, or all), newest first."""
        where, params = ("serial = ?", (serial,)) if serial is not None else ("1", ())
        rows = self.store.query(
            f"SELECT origin, seq, time, serial, kind, message FROM events WHERE {where} "
            "ORDER BY time DESC, origin DESC, seq DESC LIMIT ?",
            (*params, limit),
        )
        return [EventRecord(**r) for r in rows]
