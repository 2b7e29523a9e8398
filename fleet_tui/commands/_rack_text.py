"""A rack's elevation for `fleet-tui rack show`: text that reads at 80 columns (top of the
rack first, runs of free units on one line, trays split into slots) or one JSON object.
Hostnames and labels are shown literally (control characters escaped)."""

from __future__ import annotations

from typing import Any

from fleet_tui.core.racks.layout import Elevation, UnitView
from fleet_tui.core.racks.model import ItemInfo, Placement
from fleet_tui.core.text import visible

UNIT_W = 9  # "U42-U30" and a gap
HOST_W = 32


def _span(a: int, b: int) -> str:
    return f"U{a}" if a == b else f"U{a}-U{b}"


def _device(e: Elevation, p: Placement) -> str:
    host = e.hostname(p.serial)
    name = visible(host, HOST_W) if host else "(not seen yet)"
    return f"{name:<{HOST_W}} {visible(p.serial, 20)}"


def _header(e: Elevation) -> str:
    r = e.rack
    numbering = "U1 at the top" if r.top_down else "U1 at the bottom"
    budget = f", budget {r.budget_w:g} W" if r.budget_w else ""
    return (
        f"rack {visible(r.name, 40)}: room {visible(r.room, 40)}, site {visible(r.site, 40)}, "
        f"{r.height_u}U, {numbering}{budget}"
    )


def _unit_lines(e: Elevation, u: UnitView) -> list[str]:
    label = f"{e.label(u.number):<{UNIT_W}}"
    pad = " " * UNIT_W
    out: list[str] = []
    if u.kind == "item" and u.item is not None:
        it = u.item
        lo, hi = it.unit, it.unit + it.height_u - 1
        if hi > lo:  # labelled by its whole span, in the order the rack is read (top first)
            top, bottom = (lo, hi) if e.rack.top_down else (hi, lo)
            label = f"{e.label(top)}-{e.label(bottom)}".ljust(UNIT_W)
        out.append(f"{label}{it.kind} {visible(it.label, 40)!r} ({it.height_u}U)")
    elif u.kind == "tray":
        out.append(f"{label}tray of {u.slots} slots")
        faces = sorted({face for (_, face) in u.occupants} | {"front"})
        for face in faces:
            for slot in range(1, u.slots + 1):
                p = u.at(slot, face)
                where = f"slot {slot}" + (" rear" if face == "rear" else "")
                what = _device(e, p) if p else "empty"
                out.append(f"{pad}  {where:<12}{what}")
        odd = [p for (s, _), p in u.occupants.items() if s is None or s > u.slots]
        out += [f"{pad}  {'slot ' + str(p.slot):<12}{_device(e, p)}" for p in odd]
    elif u.kind == "device":
        for (at, face), p in sorted(u.occupants.items(), key=lambda kv: (kv[0][1], kv[0][0] or 0)):
            tag = ("rear " if face == "rear" else "") + (f"slot {at} " if at else "")
            out.append(f"{label}{tag}{_device(e, p)}")
            label = pad
    for p in u.conflicts:
        out.append(f"{pad}  CONFLICT: also {_device(e, p)} (fleet-tui conflicts)")
    if u.clash:
        out.append(f"{pad}  CONFLICT: {e.label(u.number)} is claimed twice (fleet-tui conflicts):")
        out += [f"{pad}    {_claim(e, c)}" for c in u.overlap]
    return out


def _claim(e: Elevation, c: ItemInfo | Placement) -> str:
    if isinstance(c, ItemInfo):
        return f"{c.kind} {visible(c.label, 40)!r} ({c.height_u}U from {e.label(c.unit)})"
    tag = ("rear " if c.face == "rear" else "") + (f"slot {c.slot} " if c.slot else "full-width ")
    return f"{tag}{_device(e, c)}"


def elevation_lines(e: Elevation) -> list[str]:
    out = [_header(e)]
    free: list[int] = []

    def flush() -> None:
        if free:
            span = _span(free[0], free[-1])
            n = len(free)
            out.append(f"{span:<{UNIT_W}}free" + (f" ({n} units)" if n > 1 else ""))
            free.clear()

    for u in e.units:
        if u.kind == "free":
            free.append(u.number)
            continue
        flush()
        if u.kind != "covered":
            out += _unit_lines(e, u)
        elif u.conflicts or u.clash:  # a merge left a device or more equipment under it
            out += _unit_lines(e, u)
    flush()
    n_free = len(e.free_units())
    out.append(f"{len(e.placements)} device(s), {n_free} free unit(s)")
    return out


def _placement_json(e: Elevation, p: Placement) -> dict[str, Any]:
    return {
        "id": p.id,
        "serial": p.serial,
        "hostname": e.hostname(p.serial),
        "slot": p.slot,
        "face": p.face,
    }


def elevation_json(e: Elevation) -> dict[str, Any]:
    units = []
    for u in e.units:
        item = u.item
        units.append(
            {
                "unit": u.number,
                "label": e.label(u.number),
                "kind": u.kind,
                "slots": u.slots or None,
                "item": None
                if item is None
                else {
                    "id": item.id,
                    "kind": item.kind,
                    "label": item.label,
                    "unit": item.unit,
                    "height_u": item.height_u,
                },
                "devices": [_placement_json(e, p) for p in (*u.occupants.values(), *u.conflicts)],
                "conflict": u.clash or bool(u.conflicts),
            }
        )
    return {"rack": e.rack.to_json(), "units": units, "free_units": e.free_units()}
