"""Resolving a constraint conflict left by a merge (core/sync/conflicts.py).

Placements are only ever tombstoned, never edited, so resolving is choosing which placement
stays: the others are tombstoned in one transaction with an event that says what was kept and
what was removed. The devices that lose their slot become unplaced (placed again from the
racks screen). Like every write, the tombstones merge: the other technicians see the
resolution at the next exchange.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.sync.report import ConstraintConflict


@dataclass(frozen=True)
class Choice:
    placement: str  # the placement id that would stay
    serial: str | None
    where: str  # "R1 U5 slot 0" (rack name when known)
    device: str  # hostname or serial

    @property
    def label(self) -> str:
        return f"{self.device} at {self.where} (placement {self.placement})"


def describe(c: ConstraintConflict) -> str:
    if c.kind == "slot-shared":
        return f"slot {c.subject} holds {len(c.serials)} devices: {', '.join(c.serials)}"
    return f"device {c.subject} is in {len(c.placements)} places"


def choices(store: Store, conflict: ConstraintConflict) -> list[Choice]:
    """The placements of a conflict, each a possible winner, in a stable order."""
    out = []
    devices = DeviceBook(store)
    for pid in conflict.placements:
        row = store.get_row("placements", pid)
        if row is None:
            continue
        rack = store.get_row("racks", row["rack_id"]) if row.get("rack_id") else None
        rack_name = (rack or {}).get("name") or row.get("rack_id") or "?"
        where = f"{rack_name} U{row.get('unit')}"
        if row.get("slot"):
            where += f" slot {row['slot']}"
        dev = devices.get(row["serial"]) if row.get("serial") else None
        name = (dev.hostname if dev and dev.hostname else None) or row.get("serial") or "?"
        out.append(Choice(pid, row.get("serial"), where, str(name)))
    return out


def resolve(store: Store, conflict: ConstraintConflict, keep: str) -> list[str]:
    """Keep placement `keep`, tombstone the conflict's other placements, log it.

    Refuses (StoreError) if the conflict is not current any more (another resolution or a
    merge changed it meanwhile) or `keep` is not one of its placements. Returns the removed
    placement ids."""
    current = {(c.kind, c.subject): c for c in PeerMerge(store).conflicts()}
    now = current.get((conflict.kind, conflict.subject))
    if now is None:
        raise StoreError(f"{describe(conflict)}: already resolved")
    if keep not in now.placements:
        raise StoreError(
            f"placement {keep!r} is not part of this conflict (it changed; look again)"
        )
    drop = [p for p in now.placements if p != keep]
    by_id = {c.placement: c for c in choices(store, now)}
    kept = by_id.get(keep)
    gone = ", ".join(by_id[p].label if p in by_id else p for p in drop)
    message = f"conflict {describe(now)}: kept {kept.label if kept else keep}; removed {gone}"
    store.delete_rows("placements", drop, (kept.serial if kept else None, "conflict", message))
    return drop
