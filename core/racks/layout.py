"""The read model of racks: every rack's units top first, trays split into slots, items and
the devices in them. One pass over the tables for any number of racks (a screen's first frame
and `fleet-tui rack show` read it the same way)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fleet_tui.core.racks.model import (
    TOP_DOWN,
    ItemInfo,
    Placement,
    RackInfo,
    UnitKind,
)
from fleet_tui.core.racks.rules import RackState
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.sync.unit_clash import Holder, clashing_units

Slot = tuple[int | None, str]  # (slot or None for full-width, face)


@dataclass(frozen=True)
class UnitView:
    number: int  # in the rack's own numbering
    kind: UnitKind  # free | tray | device | item (the item's lowest unit) | covered (its others)
    slots: int = 0  # a tray's slot count
    item: ItemInfo | None = None  # for "item" and "covered"
    occupants: dict[Slot, Placement] = field(default_factory=dict)
    # more live placements for a slot already in `occupants`: a merge conflict to resolve
    conflicts: tuple[Placement, ...] = ()
    # when a merge left two things claiming this unit (equipment overlapping equipment or a
    # device, a full-width device beside slotted ones): everything here, items first
    overlap: tuple[ItemInfo | Placement, ...] = ()

    @property
    def free(self) -> bool:
        return self.kind == "free"

    @property
    def clash(self) -> bool:
        """Whether a merge left this unit claimed twice (a `unit-overlap` conflict)."""
        return bool(self.overlap)

    def at(self, slot: int | None, face: str = "front") -> Placement | None:
        return self.occupants.get((slot, face))


@dataclass
class Elevation:
    rack: RackInfo
    units: list[UnitView]  # display order: the top of the rack first
    devices: dict[str, DeviceRecord]  # the known devices placed here, by serial
    trays: dict[int, int]
    items: list[ItemInfo]
    placements: list[Placement]
    _by_number: dict[int, UnitView] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_number = {u.number: u for u in self.units}

    def label(self, unit: int) -> str:
        return self.rack.label(unit)

    def unit(self, number: int) -> UnitView:
        return self._by_number[number]

    def free_units(self) -> list[int]:
        """Free unit numbers, top of the rack first."""
        return [u.number for u in self.units if u.kind == "free"]

    def find(self, serial: str) -> Placement | None:
        return next((p for p in self.placements if p.serial == serial), None)

    def hostname(self, serial: str) -> str | None:
        d = self.devices.get(serial)
        return d.hostname if d else None

    def state(self) -> RackState:
        """The rack as the write rules see it (core/racks/rules.py)."""
        names = {s: d.hostname for s, d in self.devices.items() if d.hostname}
        return RackState(
            self.rack, dict(self.trays), list(self.items), list(self.placements), names
        )


def load_racks(store: Store, where: str = "1", params: tuple[object, ...] = ()) -> list[RackInfo]:
    """Live racks (matching `where` on the racks table), by site, room, name."""
    sites = {r["id"]: r.get("name") or "" for r in store.rows("sites")}
    rooms = {r["id"]: r for r in store.rows("rooms")}
    out = []
    for r in store.rows("racks", where, params):
        room = rooms.get(r.get("room_id") or "") or {}
        site_id = r.get("site_id") or room.get("site_id") or ""
        out.append(
            RackInfo(
                id=r["id"],
                name=r.get("name") or r["id"],
                room=room.get("name") or "",
                site=sites.get(site_id, ""),
                height_u=int(r.get("height_u") or 42),
                top_down=r.get("numbering") == TOP_DOWN,
                budget_w=r.get("power_budget_w"),
                notes=r.get("notes") or "",
                room_id=r.get("room_id") or "",
                site_id=site_id,
            )
        )
    out.sort(key=lambda k: (k.site.casefold(), k.room.casefold(), k.name.casefold(), k.id))
    return out


def load_elevations(
    store: Store,
    rack_ids: Iterable[str] | None = None,
    *,
    devices: Mapping[str, DeviceRecord] | None = None,
) -> list[Elevation]:
    """The elevations of `rack_ids` (every rack when None), in that order (unknown ids left
    out). `devices`: the fleet's devices by serial when the caller has them already."""
    racks = load_racks(store)
    if rack_ids is not None:
        by_id = {r.id: r for r in racks}
        racks = [by_id[i] for i in rack_ids if i in by_id]
    wanted = {r.id for r in racks}
    trays: dict[str, dict[int, int]] = defaultdict(dict)
    for t in store.rows("rack_trays"):
        if t.get("rack_id") in wanted and t.get("unit") and (t.get("slots") or 0) > 1:
            trays[t["rack_id"]][int(t["unit"])] = int(t["slots"])
    items: dict[str, list[ItemInfo]] = defaultdict(list)
    for i in store.rows("rack_items"):
        if i.get("rack_id") in wanted:
            items[i["rack_id"]].append(ItemInfo.of_row(i))
    placed: dict[str, list[Placement]] = defaultdict(list)
    for p in store.rows("placements"):
        if p.get("rack_id") in wanted and p.get("serial"):
            placed[p["rack_id"]].append(Placement.of_row(p))
    if devices is None:
        devices = {d.serial: d for d in DeviceBook(store).all()}
    return [build_elevation(r, trays[r.id], items[r.id], placed[r.id], devices) for r in racks]


def load_elevation(
    store: Store, rack_id: str, *, devices: Mapping[str, DeviceRecord] | None = None
) -> Elevation:
    """One rack's elevation; KeyError when no live rack has this id (RackBook.find_rack
    turns what a user typed into an id)."""
    found = load_elevations(store, [rack_id], devices=devices)
    if not found:
        raise KeyError(rack_id)
    return found[0]


def build_elevation(
    rack: RackInfo,
    trays: Mapping[int, int],
    items: list[ItemInfo],
    placements: list[Placement],
    devices: Mapping[str, DeviceRecord],
) -> Elevation:
    cover: dict[int, tuple[ItemInfo, bool]] = {}
    for it in sorted(items, key=lambda i: i.id):
        for u in it.units:
            cover.setdefault(u, (it, u == it.unit))
    by_unit: dict[int, list[Placement]] = defaultdict(list)
    for p in sorted(placements, key=lambda p: p.id):
        by_unit[p.unit].append(p)
    holders = [Holder(i.id, i.unit, i.height_u) for i in items]
    holders += [Holder(p.id, p.unit, 1, p.face, p.slot, p.serial) for p in placements]
    clashing = clashing_units(holders)
    units = []
    for n in rack.display_order():
        occupants: dict[Slot, Placement] = {}
        extra: list[Placement] = []
        for p in by_unit.get(n, ()):
            key = (p.slot, p.face)
            if key in occupants:
                extra.append(p)
            else:
                occupants[key] = p
        kind: UnitKind
        item: ItemInfo | None = None
        if n in cover:
            item, first = cover[n]
            kind = "item" if first else "covered"
        elif n in trays:
            kind = "tray"
        elif occupants:
            kind = "device"
        else:
            kind = "free"
        overlap: tuple[ItemInfo | Placement, ...] = ()
        if n in clashing:
            covering = sorted((i for i in items if n in i.units), key=lambda i: i.id)
            overlap = (*covering, *by_unit.get(n, ()))
        units.append(UnitView(n, kind, trays.get(n, 0), item, occupants, tuple(extra), overlap))
    here = {p.serial for p in placements}
    return Elevation(
        rack,
        units,
        {s: devices[s] for s in here if s in devices},
        dict(trays),
        list(items),
        list(placements),
    )
