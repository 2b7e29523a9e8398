"""Constraints a CRDT cannot hold, found after a merge and left for the user to resolve.

Placements are immutable rows (moving a device = tombstone + new row), so two technicians
placing different devices in one slot, or one device in two slots, both survive the merge;
these queries find them.
"""

from __future__ import annotations

import sqlite3

from fleet_tui.core.sync.report import ConstraintConflict

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
