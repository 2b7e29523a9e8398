"""What racks are made of, as the read model and the services hand them out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.text import visible

FRONT, REAR = "front", "rear"
FACES = (FRONT, REAR)
BOTTOM_UP, TOP_DOWN = "bottom-up", "top-down"
ITEM_KINDS = ("switch", "poe-switch", "pdu", "shelf", "other", "blank")
MAX_SLOTS = 16
MAX_HEIGHT_U = 64

UnitKind = Literal["free", "tray", "device", "item", "covered"]


@dataclass(frozen=True)
class RackInfo:
    id: str
    name: str
    room: str
    site: str
    height_u: int
    top_down: bool
    budget_w: float | None
    notes: str
    room_id: str = ""
    site_id: str = ""

    @property
    def path(self) -> str:
        """`ROOM/NAME`: how a rack is named when its name alone is shared by two rooms."""
        return f"{self.room}/{self.name}"

    def label(self, unit: int) -> str:
        return f"U{unit}"

    def display_order(self) -> list[int]:
        """The rack's unit numbers, top of the rack first."""
        units = list(range(1, self.height_u + 1))
        return units if self.top_down else units[::-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "room": self.room,
            "site": self.site,
            "height_u": self.height_u,
            "numbering": TOP_DOWN if self.top_down else BOTTOM_UP,
            "budget_w": self.budget_w,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Placement:
    id: str
    serial: str
    rack_id: str
    unit: int
    slot: int | None
    face: str = FRONT

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> Placement:
        return cls(
            id=row["id"],
            serial=row.get("serial") or "",
            rack_id=row.get("rack_id") or "",
            unit=int(row.get("unit") or 0),
            slot=int(row["slot"]) if row.get("slot") else None,
            face=row.get("face") or FRONT,
        )


@dataclass(frozen=True)
class ItemInfo:
    id: str
    unit: int  # its lowest unit number
    height_u: int
    kind: str
    label: str

    @property
    def units(self) -> range:
        return range(self.unit, self.unit + self.height_u)

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> ItemInfo:
        return cls(
            id=row["id"],
            unit=int(row.get("unit") or 0),
            height_u=max(1, int(row.get("height_u") or 1)),
            kind=row.get("kind") or "other",
            label=row.get("label") or "",
        )


@dataclass(frozen=True)
class FreeRun:
    """Contiguous free units of one rack: `first`..`last` in the rack's numbering (first <=
    last), `fits` trays of the asked height."""

    rack: RackInfo
    first: int
    last: int
    fits: int

    @property
    def units(self) -> int:
        return self.last - self.first + 1

    def where(self) -> str:
        span = f"U{self.first}" if self.first == self.last else f"U{self.first}-U{self.last}"
        return f"{self.rack.name} {span}"


def where(rack: str, unit: int, slot: int | None = None, face: str = FRONT) -> str:
    """'R2 U12 slot 3' (', rear' when at the back): a place as people say it."""
    text = f"{visible(rack, 64)} U{unit}" + (f" slot {slot}" if slot else "")
    return text + (" rear" if face == REAR else "")


def name_id(prefix: str, *parts: str) -> str:
    """A row id derived from names: two technicians creating the same site, room or rack on
    two laptops write one row, which merges, instead of two with one name."""
    digest = hashlib.sha1("\x00".join(p.casefold() for p in parts).encode()).hexdigest()
    return f"{prefix}-{digest[:12]}"


def check_name(what: str, name: str, forbidden: str = "") -> str:
    text = name.strip()
    if not text:
        raise RackError(f"a {what} needs a name")
    if len(text) > 64:
        raise RackError(f"{what} name {visible(text, 64)!r} is longer than 64 characters")
    if not text.isprintable():
        raise RackError(f"{what} name {visible(text, 64)!r} has control characters")
    bad = [ch for ch in forbidden if ch in text]
    if bad:
        raise RackError(f"{what} name {visible(text, 64)!r} may not contain {bad[0]!r}")
    return text


def check_face(face: str) -> str:
    f = (face or FRONT).strip().lower()
    if f not in FACES:
        raise RackError(f"face {visible(face, 20)!r} is not front or rear")
    return f
