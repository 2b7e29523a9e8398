"""The order a technician walks a rack in, and what should be at each position.

Unit by unit from the top of the rack (the elevation's display order, whatever the
numbering), slot by slot, the front first, then the rear of a unit where something is placed
at its rear. Empty slots of a tray are walked too (the technician confirms they are empty);
free units, items (switches, PDUs) and the units under them are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.racks.layout import Elevation

FRONT, REAR = "front", "rear"
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


def where(rack: str, unit: int, slot: int | None, face: str | None = FRONT) -> str:
    """"R2 U7 slot 3", "R2 U12 (rear)": how a position is written for people."""
    text = f"{rack} U{unit}" + (f" slot {slot}" if slot is not None else "")
    return text + (" (rear)" if face == REAR else "")


def walk_positions(elevation: Elevation) -> list[Position]:
    out: list[Position] = []
    for uv in elevation.units:
        if uv.kind == "tray":
            slots: list[int | None] = list(range(1, uv.slots + 1))
        elif uv.kind == "device":
            slots = [None]
        else:
            continue
        faces = [FRONT] + ([REAR] if any(face == REAR for _, face in uv.occupants) else [])
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
