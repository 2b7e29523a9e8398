"""Store: any LWW or append-only table of the data model (racks, releases, audits, …)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet_tui.core.store.base import StoreCore, StoreError
from fleet_tui.core.store.schema import TABLES, AppendTable, LwwTable


class StoreTables(StoreCore):
    def _spec(self, table: str, kind: type) -> Any:
        t = TABLES.get(table)
        if not isinstance(t, kind):
            raise StoreError(f"no {kind.__name__} named {table!r}")
        return t

    def _check_fields(self, t: LwwTable | AppendTable, fields: Mapping[str, object]) -> None:
        known = {c.name for c in t.columns}
        unknown = set(fields) - known
        if unknown:
            raise StoreError(f"unknown {t.name} field(s): {', '.join(sorted(unknown))}")

    def set_row(self, table: str, key: str, **fields: object) -> None:
        """LWW-write columns of one row of an editable table; also brings a deleted row back."""
        t: LwwTable = self._spec(table, LwwTable)
        self._check_fields(t, fields)
        with self._write() as c:
            self._lww_set(c, table, key, {**fields, "deleted": 0})

    def set_rows(self, table: str, rows: Mapping[str, Mapping[str, object]]) -> None:
        """`set_row` for many rows (key -> fields) in one transaction."""
        t: LwwTable = self._spec(table, LwwTable)
        for fields in rows.values():
            self._check_fields(t, fields)
        with self._write() as c:
            for key, fields in rows.items():
                self._lww_set(c, table, key, {**fields, "deleted": 0})

    def delete_row(self, table: str, key: str) -> None:
        """Tombstone one row of an editable table (never a physical delete)."""
        self._spec(table, LwwTable)
        with self._write() as c:
            self._lww_set(c, table, key, {"deleted": 1})

    def delete_rows(
        self, table: str, keys: list[str], event: tuple[str | None, str, str] | None = None
    ) -> None:
        """Tombstone several rows and log why (`event` = serial, kind, message), atomically."""
        self._spec(table, LwwTable)
        with self._write() as c:
            for key in keys:
                self._lww_set(c, table, key, {"deleted": 1})
            if event is not None:
                self._log_event(c, *event)

    def get_row(self, table: str, key: str) -> dict[str, Any] | None:
        found = self.rows(table, f"{self._spec(table, LwwTable).key} = ?", (key,))
        return found[0] if found else None

    def rows(
        self, table: str, where: str = "1", params: tuple[object, ...] = ()
    ) -> list[dict[str, Any]]:
        """Live rows of an editable table (values only, no clocks), ordered by key."""
        t: LwwTable = self._spec(table, LwwTable)
        cols = ", ".join([t.key, *(c.name for c in t.columns)])
        return self._row_dicts(
            f"SELECT {cols} FROM {table} WHERE deleted = 0 AND ({where}) ORDER BY {t.key}", params
        )

    def append_row(self, table: str, **fields: object) -> tuple[int, int]:
        """Append to an append-only table; returns the row's key (origin, seq)."""
        t: AppendTable = self._spec(table, AppendTable)
        self._check_fields(t, fields)
        with self._write() as c:
            self._append(c, table, fields)
            return self.origin, self._seq[table]

    def appended(
        self, table: str, where: str = "1", params: tuple[object, ...] = ()
    ) -> list[dict[str, Any]]:
        t: AppendTable = self._spec(table, AppendTable)
        cols = ", ".join(["origin", "seq", *(c.name for c in t.columns)])
        order = "time, origin, seq" if any(c.name == "time" for c in t.columns) else "origin, seq"
        return self._row_dicts(f"SELECT {cols} FROM {table} WHERE {where} ORDER BY {order}", params)
