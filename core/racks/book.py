"""Writing racks: sites, rooms and racks, trays, equipment, and where each device is (a service
over the Store, like DeviceBook). Every write checks first (core/racks/rules.py), writes in
one transaction and logs why; a refused write raises RackError and writes nothing.

A placement row is written once and only tombstoned: moving a device is the old row
tombstoned and a new row written, so two technicians' concurrent moves survive a merge as
conflicts (core/sync/conflicts.py) instead of mixing one's rack with the other's unit."""

from __future__ import annotations

import secrets
import sqlite3

from fleet_tui.core.identity import valid_serial
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.layout import load_elevations, load_racks
from fleet_tui.core.racks.model import (
    BOTTOM_UP,
    MAX_HEIGHT_U,
    TOP_DOWN,
    FreeRun,
    ItemInfo,
    Placement,
    RackInfo,
    check_name,
    name_id,
    where,
)
from fleet_tui.core.racks.rules import RackState
from fleet_tui.core.store.database import Store
from fleet_tui.core.text import visible

EVENT_KIND = "rack"


class RackBook:
    """The rack tables of the fleet store. Holds no state: make one wherever needed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- racks ---------------------------------------------------------------------------
    def add_rack(
        self,
        name: str,
        *,
        room: str,
        site: str,
        height_u: int = 42,
        top_down: bool = False,
        budget_w: float | None = None,
        notes: str = "",
    ) -> str:
        """A new rack (its id); the site and room are found by name or made."""
        name = check_name("rack", name, ":/")
        room = check_name("room", room, "/")
        site = check_name("site", site)
        if not 1 <= height_u <= MAX_HEIGHT_U:
            raise RackError(f"a rack is 1 to {MAX_HEIGHT_U} units high, not {height_u}")
        if budget_w is not None and not budget_w > 0:
            raise RackError(f"a power budget is a number of watts above 0, not {budget_w}")
        with self.store.write() as c:
            site_id = self._named(c, "sites", site, name_id("site", site))
            room_id = self._named(c, "rooms", room, name_id("room", site_id, room), site_id=site_id)
            taken = [r for r in load_racks(self.store, "room_id = ?", (room_id,))]
            if any(r.name.casefold() == name.casefold() for r in taken):
                raise RackError(
                    f"rack {visible(name, 64)!r} already exists in room {visible(room, 64)!r}"
                )
            rack_id = name_id("rack", room_id, name)
            fields = {
                "name": name,
                "room_id": room_id,
                "site_id": site_id,
                "height_u": height_u,
                "numbering": TOP_DOWN if top_down else BOTTOM_UP,
                "power_budget_w": budget_w,
                "notes": notes,
                "deleted": 0,
            }
            self.store.lww_set(c, "racks", rack_id, fields)
            self.store.log_event(
                c, None, EVENT_KIND, f"rack {name} ({height_u}U) added in {site} / {room}"
            )
        return rack_id

    def _named(
        self, c: sqlite3.Connection, table: str, name: str, new_id: str, **fields: str
    ) -> str:
        """The id of the live row of `table` with this name (and fields), else a new row's."""
        where = " AND ".join(["name = ? COLLATE NOCASE", *(f"{k} = ?" for k in fields)])
        found = self.store.rows(table, where, (name, *fields.values()))
        if found:
            return str(found[0]["id"])
        self.store.lww_set(c, table, new_id, {"name": name, **fields, "deleted": 0})
        return new_id

    def racks(self) -> list[RackInfo]:
        """Every rack, by site, room and name."""
        return load_racks(self.store)

    def refs(self) -> dict[str, str]:
        """Rack id -> how to name the rack where one is typed or written to a file: its name,
        or ROOM/NAME when a rack of another room has that name too."""
        racks = self.racks()
        count: dict[str, int] = {}
        for r in racks:
            count[r.name.casefold()] = count.get(r.name.casefold(), 0) + 1
        return {r.id: r.path if count[r.name.casefold()] > 1 else r.name for r in racks}

    def find_rack(self, ref: str) -> RackInfo:
        """A rack by id, else `ROOM/NAME`, else name (case-insensitive)."""
        text = ref.strip()
        racks = self.racks()
        for r in racks:
            if r.id == text:
                return r
        room, sep, name = text.rpartition("/")
        if sep:
            hits = [
                r
                for r in racks
                if r.name.casefold() == name.casefold() and r.room.casefold() == room.casefold()
            ]
        else:
            hits = [r for r in racks if r.name.casefold() == text.casefold()]
        if len(hits) == 1:
            return hits[0]
        if hits:
            rooms = ", ".join(visible(r.room, 40) for r in hits)
            raise RackError(
                f"rack {visible(text, 64)!r} is in {len(hits)} rooms ({rooms}): use ROOM/NAME"
            )
        raise RackError(f"unknown rack {visible(text, 64)!r} (fleet-tui rack list shows them)")

    def _rack(self, rack_id: str) -> RackInfo:
        found = load_racks(self.store, "id = ?", (rack_id,))
        if not found:
            raise RackError(f"unknown rack {visible(rack_id, 64)!r}")
        return found[0]

    def state(self, rack_id: str) -> RackState:
        """The rack's trays, items and placements as the write rules see them."""
        return self._state(self._rack(rack_id))

    def _state(self, rack: RackInfo) -> RackState:
        trays = {
            int(t["unit"]): int(t["slots"])
            for t in self.store.rows("rack_trays", "rack_id = ?", (rack.id,))
            if t.get("unit") and (t.get("slots") or 0) > 1
        }
        items = [
            ItemInfo.of_row(i) for i in self.store.rows("rack_items", "rack_id = ?", (rack.id,))
        ]
        placed = self.placements(rack.id)
        names = self._hostnames([p.serial for p in placed])
        return RackState(rack, trays, items, placed, names)

    def _hostnames(self, serials: list[str]) -> dict[str, str]:
        if not serials:
            return {}
        marks = ", ".join("?" for _ in serials)
        rows = self.store.query(
            f"SELECT serial, hostname FROM devices WHERE serial IN ({marks})", tuple(serials)
        )
        return {r["serial"]: r["hostname"] for r in rows if r["hostname"]}

    # ---- trays and equipment -----------------------------------------------------------------
    def set_tray(self, rack_id: str, unit: int, slots: int) -> None:
        """Make `unit` a tray of `slots` Pi slots (2..16); 0 or 1: a full-width unit again."""
        with self.store.write() as c:
            state = self.state(rack_id)
            state.check_tray(unit, slots)
            self.write_tray(c, state, unit, slots)

    def write_tray(self, c: sqlite3.Connection, state: RackState, unit: int, slots: int) -> None:
        """Inside a write transaction, after `state.check_tray`: write and log the tray (no
        write when it is so already), and change `state` alike."""
        if state.trays.get(unit, 1) == max(slots, 1):
            return
        key = f"{state.rack.id}/{unit}"
        here = state.where(unit)
        if slots <= 1:
            self.store.lww_set(c, "rack_trays", key, {"deleted": 1})
            message = f"{here} is a full-width unit again"
        else:
            fields = {"rack_id": state.rack.id, "unit": unit, "slots": slots, "deleted": 0}
            self.store.lww_set(c, "rack_trays", key, fields)
            message = f"{here} is a {slots}-slot tray"
        self.store.log_event(c, None, EVENT_KIND, message)
        state.set_tray(unit, slots)

    def add_item(self, rack_id: str, unit: int, *, height_u: int, kind: str, label: str) -> str:
        """Equipment that is not a Pi (switch, poe-switch, pdu, shelf, other, blank) at
        `unit` and the `height_u - 1` units above that number; returns its id."""
        label = label.strip()
        if len(label) > 64:
            raise RackError(f"label {visible(label, 64)!r} is longer than 64 characters")
        with self.store.write() as c:
            state = self.state(rack_id)
            state.check_item(unit, height_u, kind)
            return self.write_item(c, state, unit, height_u, kind, label)

    def write_item(
        self,
        c: sqlite3.Connection,
        state: RackState,
        unit: int,
        height_u: int,
        kind: str,
        label: str,
    ) -> str:
        """Inside a write transaction, after `state.check_item`: write and log the item, and
        add it to `state`. Returns its id."""
        item_id = "item-" + secrets.token_hex(6)
        fields = {
            "rack_id": state.rack.id,
            "unit": unit,
            "height_u": height_u,
            "kind": kind,
            "label": label,
            "deleted": 0,
        }
        self.store.lww_set(c, "rack_items", item_id, fields)
        self.store.log_event(
            c, None, EVENT_KIND, f"{kind} {label!r} ({height_u}U) at {state.where(unit)}"
        )
        state.add_item(ItemInfo(item_id, unit, height_u, kind, label))
        return item_id

    def remove_item(self, rack_id: str, unit: int) -> ItemInfo:
        """Take out the item covering `unit`; RackError when there is none."""
        with self.store.write() as c:
            state = self.state(rack_id)
            state.check_unit(unit)
            item = state.item_at(unit)
            if item is None:
                raise RackError(f"no equipment at {state.where(unit)}")
            self.store.lww_set(c, "rack_items", item.id, {"deleted": 1})
            self.store.log_event(
                c, None, EVENT_KIND, f"{item.kind} {item.label!r} removed from {state.where(unit)}"
            )
        return item

    # ---- placements --------------------------------------------------------------------------
    def place(
        self, serial: str, rack_id: str, unit: int, slot: int | None = None, *, face: str = "front"
    ) -> str:
        """Put a device at (unit, slot, face); a device placed elsewhere is moved. Returns the
        placement id (the existing one when it is already there)."""
        if valid_serial(serial) is None:
            raise RackError(f"{visible(serial, 64)!r} is not a device serial")
        with self.store.write() as c:
            state = self.state(rack_id)
            face = state.check_place(serial, unit, slot, face)
            return self.write_place(c, state, serial, unit, slot, face)

    def write_place(
        self,
        c: sqlite3.Connection,
        state: RackState,
        serial: str,
        unit: int,
        slot: int | None,
        face: str,
    ) -> str:
        """Inside a write transaction, after `state.check_place`: tombstone the device's
        placements, write the new one, log it, and change `state` alike. A device already
        exactly there keeps its row (returned)."""
        old = self._placed(serial)
        if len(old) == 1 and (old[0].rack_id, old[0].unit, old[0].slot, old[0].face) == (
            state.rack.id,
            unit,
            slot,
            face,
        ):
            return old[0].id
        for p in old:
            self.store.lww_set(c, "placements", p.id, {"deleted": 1})
        pid = "pl-" + secrets.token_hex(8)
        fields = {
            "serial": serial,
            "rack_id": state.rack.id,
            "unit": unit,
            "slot": slot,
            "face": face,
            "deleted": 0,
        }
        self.store.lww_set(c, "placements", pid, fields)
        to = state.where(unit, slot, face)
        if old:
            message = f"moved from {self.describe(old[0])} to {to}"
        else:
            message = f"placed in {to}"
        self.store.log_event(c, serial, EVENT_KIND, message)
        state.put(Placement(pid, serial, state.rack.id, unit, slot, face))
        return pid

    def unplace(self, serial: str) -> Placement:
        """Take a device out of its rack; returns where it was. RackError when not placed."""
        with self.store.write() as c:
            old = self._placed(serial)
            if not old:
                raise RackError(f"{visible(serial, 64)} is not placed in a rack")
            for p in old:
                self.store.lww_set(c, "placements", p.id, {"deleted": 1})
            self.store.log_event(c, serial, EVENT_KIND, f"removed from {self.describe(old[0])}")
        return old[0]

    def _placed(self, serial: str) -> list[Placement]:
        return [Placement.of_row(r) for r in self.store.rows("placements", "serial = ?", (serial,))]

    def placement_of(self, serial: str) -> Placement | None:
        """Where a device is (the first by id if a merge left it in two places)."""
        found = self._placed(serial)
        return found[0] if found else None

    def placements(self, rack_id: str) -> list[Placement]:
        rows = self.store.rows("placements", "rack_id = ?", (rack_id,))
        return [Placement.of_row(r) for r in rows if r.get("serial")]

    def describe(self, p: Placement) -> str:
        """'R2 U12 slot 3': where a placement is, as people say it."""
        found = load_racks(self.store, "id = ?", (p.rack_id,))
        return where(found[0].name if found else p.rack_id, p.unit, p.slot, p.face)

    # ---- free space ----------------------------------------------------------------------------
    def free_space(
        self,
        *,
        room: str | None = None,
        rack_id: str | None = None,
        trays: int = 1,
        tray_u: int = 1,
    ) -> list[FreeRun]:
        """Where `trays` more trays of `tray_u` units fit: the runs of free units of every
        rack (in `room`, or just `rack_id`) that has room for that many in total, racks by
        site, room and name, each rack's runs top first."""
        if trays < 1 or tray_u < 1:
            raise RackError("ask for at least one tray of at least one unit")
        ids = None if rack_id is None else [rack_id]
        out: list[FreeRun] = []
        for e in load_elevations(self.store, ids, devices={}):
            if room is not None and e.rack.room.casefold() != room.strip().casefold():
                continue
            runs = free_runs(e.rack, e.free_units(), tray_u)
            if sum(r.fits for r in runs) >= trays:
                out += runs
        return out


def free_runs(rack: RackInfo, free: list[int], tray_u: int) -> list[FreeRun]:
    """Contiguous runs of the free unit numbers (listed top first) that hold a tray."""
    runs: list[list[int]] = []
    for n in free:
        if runs and abs(runs[-1][-1] - n) == 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    out = []
    for run in runs:
        fits = len(run) // tray_u
        if fits:
            out.append(FreeRun(rack, min(run), max(run), fits))
    return out
