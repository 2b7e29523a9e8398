"""The order a technician walks a rack in, and what should be at each position.

Unit by unit from the top of the rack (the elevation's display order, whatever the
numbering), slot by slot, the front first, then the rear of a unit where something is placed
at its rear. Empty slots of a tray are walked too (the technician confirms they are empty);
free units, items (switches, PDUs) and the units under them are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.layout import Elevation
from fleet_tui.core.racks.model import REAR, check_face
from fleet_tui.core.racks.rules import RackState
from fleet_tui.core.text import visible

Key = tuple[int, int | None, str]  # (unit, slot or None, face)


@dataclass(frozen=True)
class Position:
    unit: int  # the rack's own numbering
    slot: int | None  # None: a device that takes the unit full-width
    face: str  # front | rear
    expected: str  # the serial placed here, "" when nothing should be here
    slots: int = 0  # how many slots the unit's tray has (0: not a tray)

    @property
    def key(self) -> Key:
        return (self.unit, self.slot, self.face)


def walk_positions(elevation: Elevation) -> list[Position]:
    out: list[Position] = []
    for uv in elevation.units:
        if uv.kind == "tray":
            slots: list[int | None] = list(range(1, uv.slots + 1))
        elif uv.kind == "device":
            slots = [None]
        else:
            continue
        faces = ["front"] + ([REAR] if any(face == REAR for _, face in uv.occupants) else [])
        for face in faces:
            for slot in slots:
                placed = uv.occupants.get((slot, face))
                out.append(
                    Position(
                        uv.number,
                        slot,
                        face,
                        placed.serial if placed is not None else "",
                        uv.slots if uv.kind == "tray" else 0,
                    )
                )
    return out


def position_at(elevation: Elevation, unit: int, slot: int | None, face: str) -> Position:
    """The position (unit, slot, face) of a rack, with what should be there; RackError when
    there is no such place for a Pi (out of range, an item's unit, a slot that is not)."""
    rack = visible(elevation.rack.name, 64)
    RackState(elevation.rack).check_unit(unit)
    face = check_face(face)
    uv = elevation.unit(unit)
    if uv.item is not None:
        raise RackError(
            f"U{unit} of {rack} holds {uv.item.kind} {visible(uv.item.label, 40)!r}: no Pi there"
        )
    if uv.kind == "tray":
        if slot is None or not 1 <= slot <= uv.slots:
            raise RackError(f"U{unit} of {rack} is a tray of {uv.slots} slots: give /1..{uv.slots}")
    elif slot is not None:
        raise RackError(f"U{unit} of {rack} is not a tray: no slot {slot} (write {rack}:{unit})")
    placed = uv.occupants.get((slot, face))
    return Position(unit, slot, face, placed.serial if placed else "", uv.slots)
