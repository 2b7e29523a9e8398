"""Resolving a constraint conflict left by a merge (core/sync/conflicts.py).

Placements and rack equipment are only ever tombstoned, never edited, so resolving is choosing
what stays: for two devices in one slot or one device in two places, the other placements are
tombstoned; for a rack unit claimed twice (`unit-overlap`), what clashes with the kept
placement or item is. All in one transaction with an event that says what was kept and what
was removed. The devices that lose their slot become unplaced (placed again from the racks
screen). Like every write, the tombstones merge: the other technicians see the resolution at
the next exchange.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.sync.report import ConstraintConflict
from fleet_tui.core.sync.unit_clash import Holder, clash


@dataclass(frozen=True)
class Choice:
    placement: str  # the id of the placement (or rack item) that would stay
    serial: str | None
    where: str  # "R1 U5 slot 0" (rack name when known)
    device: str  # hostname or serial, or the item's kind and label
    table: str = "placements"  # or "rack_items"

    @property
    def label(self) -> str:
        what = "item" if self.table == "rack_items" else "placement"
        return f"{self.device} at {self.where} ({what} {self.placement})"


def describe(c: ConstraintConflict) -> str:
    return c.text()


def _rack_name(store: Store, rack_id: object) -> str:
    rack = store.get_row("racks", str(rack_id)) if rack_id else None
    return str((rack or {}).get("name") or rack_id or "?")


def choices(store: Store, conflict: ConstraintConflict) -> list[Choice]:
    """The placements (and items) of a conflict, each a possible winner, in a stable order."""
    out = []
    devices = DeviceBook(store)
    for pid in conflict.placements:
        row = store.get_row("placements", pid)
        if row is None:
            continue
        where = f"{_rack_name(store, row.get('rack_id'))} U{row.get('unit')}"
        if row.get("slot"):
            where += f" slot {row['slot']}"
        if row.get("face") == "rear":
            where += " rear"
        dev = devices.get(row["serial"]) if row.get("serial") else None
        name = (dev.hostname if dev and dev.hostname else None) or row.get("serial") or "?"
        out.append(Choice(pid, row.get("serial"), where, str(name)))
    for iid in conflict.items:
        item = store.get_row("rack_items", iid)
        if item is None:
            continue
        low, height = int(item.get("unit") or 0), max(1, int(item.get("height_u") or 1))
        span = f"U{low}" if height == 1 else f"U{low}-U{low + height - 1}"
        what = f"{item.get('kind') or 'other'} {str(item.get('label') or '')!r}"
        where = f"{_rack_name(store, item.get('rack_id'))} {span}"
        out.append(Choice(iid, None, where, what, "rack_items"))
    return out


def _holder(store: Store, table: str, key: str) -> Holder | None:
    row = store.get_row(table, key)
    if row is None:
        return None
    if table == "rack_items":
        return Holder(key, int(row.get("unit") or 0), int(row.get("height_u") or 1))
    slot = int(row.get("slot") or 0) or None
    face = str(row.get("face") or "front")
    return Holder(key, int(row.get("unit") or 0), 1, face, slot, row.get("serial"))


def _dropped(store: Store, now: ConstraintConflict, keep: str) -> dict[str, list[str]]:
    """What goes when `keep` stays, by table: every other placement of a slot or device
    conflict; the placements and items that clash with `keep` in a unit overlap."""
    if now.kind != "unit-overlap":
        return {"placements": [p for p in now.placements if p != keep]}
    ids = {p: "placements" for p in now.placements} | {i: "rack_items" for i in now.items}
    kept = _holder(store, ids[keep], keep)
    out: dict[str, list[str]] = {"placements": [], "rack_items": []}
    for key, table in ids.items():
        other = _holder(store, table, key)
        if kept is not None and other is not None and clash(kept, other):
            out[table].append(key)
    return out


def resolve(store: Store, conflict: ConstraintConflict, keep: str) -> list[str]:
    """Keep placement (or rack item) `keep`, tombstone what the conflict says must go with it,
    log it.

    Refuses (StoreError) if the conflict is not current any more (another resolution or a
    merge changed it meanwhile) or `keep` is not one of its placements or items. Returns the
    removed ids."""
    current = {(c.kind, c.subject): c for c in PeerMerge(store).conflicts()}
    now = current.get((conflict.kind, conflict.subject))
    if now is None:
        raise StoreError(f"{describe(conflict)}: already resolved")
    if keep not in now.placements and keep not in now.items:
        raise StoreError(
            f"{keep!r} is not a placement or item of this conflict (it changed; look again)"
        )
    drop = _dropped(store, now, keep)
    by_id = {c.placement: c for c in choices(store, now)}
    kept = by_id.get(keep)
    removed = [key for keys in drop.values() for key in keys]
    gone = ", ".join(by_id[p].label if p in by_id else p for p in removed)
    message = f"conflict {describe(now)}: kept {kept.label if kept else keep}; removed {gone}"
    with store.write() as c:
        for table, keys in drop.items():
            for key in keys:
                store.lww_set(c, table, key, {"deleted": 1})
        store.log_event(c, kept.serial if kept else None, "conflict", message)
    return removed
