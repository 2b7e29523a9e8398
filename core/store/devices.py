"""Devices: LWW rows keyed by serial, tombstoned when forgotten (a service over the Store)."""

from __future__ import annotations

import json

from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.base import StoreError
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.schema import DEVICE_FIELDS

_DEVICE_FIELD_NAMES = frozenset(c.name for c in DEVICE_FIELDS)


class DeviceBook:
    """The `devices` table of the fleet store. Holds no state: make one wherever needed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def upsert(self, serial: str, **fields: object) -> None:
        """Write the given columns of a device (each LWW-stamped). Brings a forgotten device back.

        Every write also stamps `deleted = 0`: a write newer than a forget wins over it even
        on a replica that had not heard of the forget yet ("a newer write brings it back")."""
        unknown = set(fields) - _DEVICE_FIELD_NAMES
        if unknown:
            raise StoreError(f"unknown device field(s): {', '.join(sorted(unknown))}")
        if not serial:
            raise StoreError("a device needs a serial")
        values = dict(fields)
        if "tags" in values:
            tags = values["tags"]
            values["tags"] = json.dumps(sorted(set(tags))) if tags is not None else None  # type: ignore[call-overload]
        values["deleted"] = 0
        with self.store.write() as c:
            self.store.lww_set(c, "devices", serial, values)

    def forget(self, serial: str) -> None:
        """Tombstone a device (LWW): a newer write anywhere brings it back."""
        with self.store.write() as c:
            self.store.lww_set(c, "devices", serial, {"deleted": 1})

    def get(self, serial: str) -> DeviceRecord | None:
        found = self._select("serial = ?", (serial,))
        return found[0] if found else None

    def find(self, ref: str) -> DeviceRecord | None:
        """By serial, else hostname (also without `.local`), else address."""
        for where, params in (
            ("serial = ?", (ref,)),
            ("hostname = ? COLLATE NOCASE", (ref,)),
            ("hostname = ? COLLATE NOCASE", (ref.removesuffix(".local"),)),
            ("address = ?", (ref,)),
        ):
            found = self._select(where, params)
            if found:
                return found[0]
        return None

    def all(self) -> list[DeviceRecord]:
        """Every device not forgotten, by hostname (unnamed ones last), then serial."""
        return self._select("1", ())

    def _select(self, where: str, params: tuple[object, ...]) -> list[DeviceRecord]:
        rows = self.store.query(
            f"SELECT {self._columns()} FROM devices WHERE deleted = 0 AND ({where}) "
            "ORDER BY hostname IS NULL, hostname, serial",
            params,
        )
        return [DeviceRecord(**r) for r in rows]

    def _columns(self) -> str:
        """The columns to read: a file from before a column was added, opened read-only (so
        never migrated), lacks it, and its records show None there instead of failing."""
        have = self.store.columns("devices")
        return ", ".join(
            ["serial", *(c.name if c.name in have else f"NULL AS {c.name}" for c in DEVICE_FIELDS)]
        )
