"""The fleet overview: one row per device, updated in place by row key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from core.models import DeviceState
from screens.format import COLUMNS, row_cells

FLUSH_SECONDS = 0.25  # coalesce a flood of updates into at most 4 table refreshes a second


class FleetScreen(Screen[None]):
    BINDINGS = [
        Binding("question_mark", "app.toggle_help", "Help", id="help", key_display="?"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._states: dict[str, DeviceState] = {}
        self._pending: dict[str, DeviceState] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[object] = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Static(id="fleet-summary")
        yield Footer()

    def on_mount(self) -> None:
        self._update_summary()
        self.set_interval(FLUSH_SECONDS, self.flush)

    def device_updated(self, state: DeviceState) -> None:
        """Called by the app for every update; rendering happens later, in `flush`."""
        self._pending[state.key] = state

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        table = self.query_one("#fleet-table", DataTable)
        with self.app.batch_update():
            for key, state in pending.items():
                cells = row_cells(state)
                if key not in self._states:
                    table.add_row(*cells, key=key)
                else:
                    previous = row_cells(self._states[key])
                    for (column, _, _), new, old in zip(COLUMNS, cells, previous, strict=True):
                        if new != old:
                            table.update_cell(key, column, new)
                self._states[key] = state
        self._update_summary()

    def _update_summary(self) -> None:
        total = len(self._states)
        up = sum(1 for s in self._states.values() if s.reachable)
        self.query_one("#fleet-summary", Static).update(
            f"{total} devices · {up} reachable · {total - up} unreachable"
        )
