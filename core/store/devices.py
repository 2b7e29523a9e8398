"""Store: devices (LWW rows keyed by serial, tombstoned when forgotten)."""

from __future__ import annotations

import json

from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.base import StoreCore, StoreError
from fleet_tui.core.store.schema import DEVICE_FIELDS, table_columns

_DEVICE_FIELD_NAMES = frozenset(c.name for c in DEVICE_FIELDS)


class StoreDevices(StoreCore):
    _device_select: str | None = None  # the SELECT list for devices, built on first read

    def upsert_device(self, serial: str, **fields: object) -> None:
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
        with self._write() as c:
            self._lww_set(c, "devices", serial, values)

    def forget_device(self, serial: str) -> None:
        """Tombstone a device (LWW): a newer write anywhere brings it back."""
        with self._write() as c:
            self._lww_set(c, "devices", serial, {"deleted": 1})

    def _device_columns(self) -> str:
        """The columns to read: a file from before a column was added, opened read-only (so
        never migrated), lacks it, and its records show None there instead of failing."""
        if self._device_select is None:
            have = set(table_columns(self._conn, "devices"))
            self._device_select = ", ".join(
                [
                    "serial",
                    *(c.name if c.name in have else f"NULL AS {c.name}" for c in DEVICE_FIELDS),
                ]
            )
        return self._device_select

    def _devices(self, where: str, params: tuple[object, ...]) -> list[DeviceRecord]:
        with self._lock:
            rows = self._row_dicts(
                f"SELECT {self._device_columns()} FROM devices WHERE deleted = 0 AND ({where}) "
                "ORDER BY hostname IS NULL, hostname, serial",
                params,
            )
        return [DeviceRecord(**r) for r in rows]

    def get_device(self, serial: str) -> DeviceRecord | None:
        found = self._devices("serial = ?", (serial,))
        return found[0] if found else None

    def find_device(self, ref: str) -> DeviceRecord | None:
        """By serial, else hostname (also without `.local`), else address."""
        for where, params in (
            ("serial = ?", (ref,)),
            ("hostname = ? COLLATE NOCASE", (ref,)),
            ("hostname = ? COLLATE NOCASE", (ref.removesuffix(".local"),)),
            ("address = ?", (ref,)),
        ):
            found = self._devices(where, params)
            if found:
                return found[0]
        return None

    def list_devices(self) -> list[DeviceRecord]:
        return self._devices("1", ())
