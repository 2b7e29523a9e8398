"""What may go where in one rack: the checks every write runs (RackBook) and a layout import
runs row by row against the state the file builds up, so both refuse the same things with the
same words. Pure: a RackState is loaded once, checked and changed in memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.model import (
    ITEM_KINDS,
    MAX_SLOTS,
    ItemInfo,
    Placement,
    RackInfo,
    check_face,
    where,
)
from fleet_tui.core.text import visible


@dataclass
class RackState:
    rack: RackInfo
    trays: dict[int, int] = field(default_factory=dict)  # unit -> slots
    items: list[ItemInfo] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    names: Mapping[str, str] = field(default_factory=dict)  # serial -> hostname, for messages

    # ---- reading ---------------------------------------------------------------------------
    def where(self, unit: int, slot: int | None = None, face: str = "front") -> str:
        return where(self.rack.name, unit, slot, face)

    def who(self, serial: str) -> str:
        host = self.names.get(serial)
        return f"{visible(host, 64)} ({visible(serial, 64)})" if host else visible(serial, 64)

    def item_at(self, unit: int) -> ItemInfo | None:
        return next((i for i in self.items if unit in i.units), None)

    def on_unit(self, unit: int) -> list[Placement]:
        return [p for p in self.placements if p.unit == unit]

    # ---- checks (RackError with the reason; nothing changes) --------------------------------
    def check_unit(self, unit: int) -> None:
        if not 1 <= unit <= self.rack.height_u:
            raise RackError(
                f"unit {unit} is out of range: rack {visible(self.rack.name, 64)} has "
                f"{self.rack.height_u} units"
            )

    def check_place(self, serial: str, unit: int, slot: int | None, face: str) -> str:
        """The face to write; RackError when `serial` may not go to (unit, slot, face). The
        device's own current placement does not count as taking the place."""
        face = check_face(face)
        self.check_unit(unit)
        item = self.item_at(unit)
        if item is not None:
            raise RackError(
                f"{self.where(unit)} is taken by {item.kind} {visible(item.label, 64)!r}"
            )
        slots = self.trays.get(unit)
        if slots is None and slot is not None:
            raise RackError(
                f"{self.where(unit)} is not a tray (fleet-tui rack tray "
                f"{visible(self.rack.name, 64)} {unit} --slots N)"
            )
        if slots is not None:
            if slot is None:
                raise RackError(f"{self.where(unit)} is a {slots}-slot tray: give a slot")
            if not 1 <= slot <= slots:
                raise RackError(
                    f"slot {slot} is out of range: {self.where(unit)} has {slots} slots"
                )
        for p in self.on_unit(unit):
            if p.serial == serial or p.face != face:
                continue
            if p.slot == slot or p.slot is None or slot is None:
                place = self.where(unit, p.slot, face)
                raise RackError(f"{place} is taken by {self.who(p.serial)}")
        return face

    def check_tray(self, unit: int, slots: int) -> None:
        self.check_unit(unit)
        if not 0 <= slots <= MAX_SLOTS:
            raise RackError(f"a tray has 1 to {MAX_SLOTS} slots, not {slots}")
        item = self.item_at(unit)
        if item is not None:
            raise RackError(
                f"{self.where(unit)} is taken by {item.kind} {visible(item.label, 64)!r}"
            )
        here = self.on_unit(unit)
        full = [p for p in here if p.slot is None]
        if full and slots > 1:
            raise RackError(
                f"{self.where(unit)} holds {self.who(full[0].serial)} full-width: unplace it first"
            )
        if slots <= 1:
            slotted = [p for p in here if p.slot is not None]
            if slotted:
                raise RackError(
                    f"{self.where(unit)} holds {len(slotted)} device(s) in slots, first "
                    f"{self.who(slotted[0].serial)}: move them first"
                )
            return
        beyond = sorted((p for p in here if p.slot and p.slot > slots), key=lambda p: p.slot or 0)
        if beyond:
            p = beyond[0]
            raise RackError(
                f"cannot shrink {self.where(unit)} to {slots} slots: "
                f"{self.where(unit, p.slot, p.face)} holds {self.who(p.serial)}"
            )

    def check_item(self, unit: int, height_u: int, kind: str) -> None:
        if kind not in ITEM_KINDS:
            raise RackError(f"kind {visible(kind, 30)!r} is not one of {', '.join(ITEM_KINDS)}")
        if height_u < 1:
            raise RackError(f"an item is at least 1 unit high, not {height_u}")
        self.check_unit(unit)
        top = unit + height_u - 1
        if top > self.rack.height_u:
            raise RackError(
                f"a {height_u}U item at U{unit} needs U{unit}-U{top}: rack "
                f"{visible(self.rack.name, 64)} has {self.rack.height_u} units"
            )
        for u in range(unit, top + 1):
            item = self.item_at(u)
            if item is not None:
                raise RackError(
                    f"{self.where(u)} is taken by {item.kind} {visible(item.label, 64)!r}"
                )
            if u in self.trays:
                raise RackError(f"{self.where(u)} is a {self.trays[u]}-slot tray")
            here = self.on_unit(u)
            if here:
                raise RackError(f"{self.where(u)} holds {self.who(here[0].serial)}")

    # ---- changing the state in memory (a layout import's dry run) -------------------------
    def put(self, placement: Placement) -> None:
        self.placements = [p for p in self.placements if p.serial != placement.serial]
        self.placements.append(placement)

    def drop(self, serial: str) -> None:
        self.placements = [p for p in self.placements if p.serial != serial]

    def set_tray(self, unit: int, slots: int) -> None:
        if slots <= 1:
            self.trays.pop(unit, None)
        else:
            self.trays[unit] = slots

    def add_item(self, item: ItemInfo) -> None:
        self.items.append(item)
