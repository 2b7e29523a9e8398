"""SQL of the generic table API (`Store.set_row`, `rows`, `append_row`, …), built from the
table declarations in core/store/schema.py: any LWW or append-only table of the data model
(devices, hosts, racks, releases, audits, …) is written and read through these."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from fleet_tui.core.store.base import StoreError
from fleet_tui.core.store.schema import CLK, TABLES, AppendTable, LwwTable

T = TypeVar("T", LwwTable, AppendTable)


def spec(table: str, kind: type[T]) -> T:
    """The declaration of `table`, which must be of `kind` (StoreError otherwise)."""
    t = TABLES.get(table)
    if not isinstance(t, kind):
        raise StoreError(f"no {kind.__name__} named {table!r}")
    return t


def check_fields(t: LwwTable | AppendTable, fields: Iterable[str]) -> None:
    """Refuse a column the table does not declare (a typo would otherwise be SQL)."""
    unknown = set(fields) - {c.name for c in t.columns}
    if unknown:
        raise StoreError(f"unknown {t.name} field(s): {', '.join(sorted(unknown))}")


def lww_set_sql(t: LwwTable, cols: Iterable[str]) -> str:
    """Upsert of one row: each column with its clock. Parameters: key, then (value, stamp)
    per column, then the row's `_ver`."""
    cols = list(cols)
    names = ", ".join(f"{n}, {n}{CLK}" for n in cols)
    marks = ", ".join("?, ?" for _ in cols)
    sets = ", ".join(f"{n} = excluded.{n}, {n}{CLK} = excluded.{n}{CLK}" for n in cols)
    return (
        f"INSERT INTO {t.name} ({t.key}, {names}, _ver) VALUES (?, {marks}, ?) "
        f"ON CONFLICT({t.key}) DO UPDATE SET {sets}, _ver = excluded._ver"
    )


def append_sql(table: str, row: Mapping[str, object]) -> str:
    """Insert of one appended row. Parameters: origin, seq, the row's values, `_ver`."""
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return f"INSERT INTO {table} (origin, seq, {cols}, _ver) VALUES (?, ?, {marks}, ?)"


def live_rows_sql(t: LwwTable, where: str) -> str:
    """Values (no clocks) of the rows not tombstoned that match `where`, by key."""
    cols = ", ".join([t.key, *(c.name for c in t.columns)])
    return f"SELECT {cols} FROM {t.name} WHERE deleted = 0 AND ({where}) ORDER BY {t.key}"


def appended_sql(t: AppendTable, where: str) -> str:
    """Rows of an append-only table matching `where`, by time when it has one."""
    cols = ", ".join(["origin", "seq", *(c.name for c in t.columns)])
    order = "time, origin, seq" if any(c.name == "time" for c in t.columns) else "origin, seq"
    return f"SELECT {cols} FROM {t.name} WHERE {where} ORDER BY {order}"
