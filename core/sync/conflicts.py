"""Constraints a CRDT cannot hold, found after a merge and left for the user to resolve.

Placements are immutable rows (moving a device = tombstone + new row), so two technicians
placing different devices in one slot, or one device in two slots, both survive the merge;
these queries find them. Equipment and devices claiming the same rack unit (two items
overlapping, an item over a device, a full-width device on a unit whose slots are taken) are
`unit-overlap` conflicts (core/sync/unit_clash.py).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from fleet_tui.core.sync.report import ConstraintConflict
from fleet_tui.core.sync.unit_clash import Holder, clash_groups, clashing_units

# a slot is (rack, unit, slot, face): a full-width device has no slot, NULL face means front
_LIVE = (
    "SELECT id, serial, rack_id, unit, coalesce(slot, 0) AS slot, coalesce(face, 'front') AS face"
    " FROM placements WHERE deleted = 0"
)


def placement_conflicts(conn: sqlite3.Connection) -> list[ConstraintConflict]:
    out: list[ConstraintConflict] = []
    rows = conn.execute(
        f"SELECT rack_id, unit, slot, face, group_concat(id, ' '), "
        f"group_concat(serial, ' ') FROM ({_LIVE} ORDER BY id) "
        "GROUP BY rack_id, unit, slot, face HAVING count(DISTINCT serial) > 1 "
        "ORDER BY rack_id, unit, slot, face"
    )
    for rack, unit, slot, face, ids, serials in rows:
        where = f"{rack}/{unit}/{slot}" + ("" if face == "front" else f"/{face}")
        out.append(
            ConstraintConflict("slot-shared", where, ids.split(), sorted(set(serials.split())))
        )
    rows = conn.execute(
        f"SELECT serial, group_concat(id, ' ') FROM ({_LIVE} ORDER BY id) "
        "GROUP BY serial HAVING count(*) > 1 ORDER BY serial"
    )
    for serial, ids in rows:
        out.append(ConstraintConflict("device-in-two-slots", serial, ids.split(), [serial]))
    return out


def constraint_conflicts(conn: sqlite3.Connection) -> list[ConstraintConflict]:
    """Every constraint conflict open now: placements first, then rack units."""
    return placement_conflicts(conn) + unit_conflicts(conn)


def unit_conflicts(conn: sqlite3.Connection) -> list[ConstraintConflict]:
    """Rack units claimed by two things at once, one conflict per connected group."""
    racks: dict[str, list[Holder]] = defaultdict(list)
    items = conn.execute(
        "SELECT id, rack_id, unit, coalesce(height_u, 1) FROM rack_items "
        "WHERE deleted = 0 AND rack_id IS NOT NULL AND unit IS NOT NULL"
    )
    for iid, rack, unit, height in items:
        racks[rack].append(Holder(iid, int(unit), int(height)))
    for pid, serial, rack, unit, slot, face in conn.execute(_LIVE):
        if rack is not None and unit is not None and serial:
            racks[rack].append(Holder(pid, int(unit), 1, face, int(slot) or None, serial))
    out: list[ConstraintConflict] = []
    for rack in sorted(racks):
        for group in clash_groups(racks[rack]):
            unit = min(clashing_units(group))
            out.append(
                ConstraintConflict(
                    "unit-overlap",
                    f"{rack}/{unit}",
                    [h.id for h in group if not h.is_item],
                    sorted({h.serial for h in group if h.serial}),
                    [h.id for h in group if h.is_item],
                )
            )
    return out
