"""Store: pinned SSH host keys and the history of every pin."""

from __future__ import annotations

import time

from fleet_tui.core.records import HostKeyEvent
from fleet_tui.core.store.base import StoreCore


class StoreHostKeys(StoreCore):
    def pinned_host_key(self, endpoint: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT key FROM host_keys WHERE endpoint = ? AND deleted = 0", (endpoint,)
            ).fetchone()
        return row[0] if row else None

    def pin_host_key(
        self, endpoint: str, key: str, serial: str | None = None, reason: str = "first use"
    ) -> None:
        now = time.time()
        with self._write() as c:
            fields: dict[str, object] = {"key": key, "pinned_at": now, "deleted": 0}
            if serial is not None:
                fields["serial"] = serial
            self._lww_set(c, "host_keys", endpoint, fields)
            self._append(
                c,
                "host_key_history",
                {"endpoint": endpoint, "serial": serial, "key": key, "reason": reason, "time": now},
            )

    def host_key_history(self, endpoint_or_serial: str) -> list[HostKeyEvent]:
        rows = self._row_dicts(
            "SELECT origin, seq, endpoint, serial, key, reason, time FROM host_key_history "
            "WHERE endpoint = ?1 OR serial = ?1 ORDER BY time, origin, seq",
            (endpoint_or_serial,),
        )
        return [HostKeyEvent(**r) for r in rows]
