"""The fleet overview's table (a keyed table: live updates by row key, cursor kept)."""

from __future__ import annotations

from fleet_tui.screens.keyed_table import KeyedTable


class FleetTable(KeyedTable):
    pass
