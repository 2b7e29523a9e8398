"""Constraints a CRDT cannot hold, found after a merge and left for the user to resolve.

Placements are immutable rows (moving a device = tombstone + new row), so two technicians
placing different devices in one slot, or one device in two slots, both survive the merge;
these queries find them.
"""

from __future__ import annotations

import sqlite3

from fleet_tui.core.sync.report import ConstraintConflict

_LIVE = "SELECT id, serial, rack_id, unit, slot FROM placements WHERE deleted = 0"


def placement_conflicts(conn: sqlite3.Connection) -> list[ConstraintConflict]:
    out: list[ConstraintConflict] = []
    rows = conn.execute(
        f"SELECT rack_id, unit, coalesce(slot, 0), group_concat(id, ' '), "
        f"group_concat(serial, ' ') FROM ({_LIVE} ORDER BY id) "
        "GROUP BY rack_id, unit, coalesce(slot, 0) HAVING count(DISTINCT serial) > 1 "
        "ORDER BY rack_id, unit, 3"
    )
    for rack, unit, slot, ids, serials in rows:
        out.append(
            ConstraintConflict(
                "slot-shared", f"{rack}/{unit}/{slot}", ids.split(), sorted(set(serials.split()))
            )
        )
    rows = conn.execute(
        f"SELECT serial, group_concat(id, ' ') FROM ({_LIVE} ORDER BY id) "
        "GROUP BY serial HAVING count(*) > 1 ORDER BY serial"
    )
    for serial, ids in rows:
        out.append(ConstraintConflict("device-in-two-slots", serial, ids.split(), [serial]))
    return out
