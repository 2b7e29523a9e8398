"""Pinned SSH host keys and the history of every pin (a service over the Store).

Storage only: which key is pinned for a route and why it was. The rules that decide whether
an offered key is accepted or a pin replaced are core/net/trust.py's."""

from __future__ import annotations

import time

from fleet_tui.core.records import HostKeyEvent
from fleet_tui.core.store.database import Store


class HostKeys:
    """The `host_keys` (LWW, by route key) and `host_key_history` (append-only) tables.
    Holds no state: make one wherever needed. Satisfies core/net/ssh.py's `PinStore`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def pinned(self, endpoint: str) -> str | None:
        """The key pinned for `endpoint` (a route key), or None."""
        with self.store.locked() as conn:
            row = conn.execute(
                "SELECT key FROM host_keys WHERE endpoint = ? AND deleted = 0", (endpoint,)
            ).fetchone()
        return row[0] if row else None

    def pin(
        self, endpoint: str, key: str, serial: str | None = None, reason: str = "first use"
    ) -> None:
        """Pin `key` for `endpoint` and record why, in one transaction."""
        now = time.time()
        with self.store.write() as c:
            fields: dict[str, object] = {"key": key, "pinned_at": now, "deleted": 0}
            if serial is not None:
                fields["serial"] = serial
            self.store.lww_set(c, "host_keys", endpoint, fields)
            self.store.append(
                c,
                "host_key_history",
                {"endpoint": endpoint, "serial": serial, "key": key, "reason": reason, "time": now},
            )

    def history(self, endpoint_or_serial: str) -> list[HostKeyEvent]:
        """Every pin of a route key or of a serial, oldest first."""
        rows = self.store.query(
            "SELECT origin, seq, endpoint, serial, key, reason, time FROM host_key_history "
            "WHERE endpoint = ?1 OR serial = ?1 ORDER BY time, origin, seq",
            (endpoint_or_serial,),
        )
        return [HostKeyEvent(**r) for r in rows]
