"""The fleet overview's table (a keyed table: live updates by row key, cursor kept)."""

from __future__ import annotations

from collections.abc import Sequence

from fleet_tui.screens.common.keyed_table import KeyedTable


class FleetTable(KeyedTable):
    def __init__(self, columns: Sequence[tuple[str, str, int]], id: str | None = None) -> None:
        super().__init__(columns, tight=("mark",), id=id)  # "*pi-4b-001": the mark, no gap
