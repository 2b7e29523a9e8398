"""`p` on a rack: pick an unplaced device to put in the selected slot.

The filter is the fleet table's own (screens/fleet/filters.py, on the fleet model's rows): `pi-4b`,
`status:ok`, `model:4B`, `tag:spare`, `!tag:lab`… Enter on the filter takes the highlighted
device, ↓ moves into the list, esc cancels.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from fleet_tui.assets import asset
from fleet_tui.screens.common.format import SEVERITY_STYLE, Cell, cell, short_model
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.fleet.filters import FilterError, FleetFilter
from fleet_tui.screens.fleet.fleet_model import FleetRow, short_address

PICKER_COLUMNS = [
    ("hostname", "Host", 16),
    ("status", "Status", 11),
    ("model", "Model", 6),
    ("address", "Address", 15),
    ("serial", "Serial", 16),
]


def picker_cells(row: FleetRow) -> tuple[Cell, ...]:
    sev = row.status.severity
    return (
        cell(row.hostname),
        cell(sev.value, SEVERITY_STYLE[sev]),
        cell(short_model(row.model)),
        cell(short_address(row)),
        cell(row.serial or ""),
    )


class PickerInput(Input):
    BINDINGS = [Binding("down", "to_list", "List", id="picker.to_list", show=False)]

    def action_to_list(self) -> None:
        self.screen.query_one("#picker-table", KeyedTable).focus()


class DevicePicker(ModalScreen[str | None]):
    """Returns the serial chosen, or None."""

    CSS_PATH = asset("racks.tcss")

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]

    def __init__(self, where: str, rows: Sequence[FleetRow], text: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self._where = where
        self._rows = {r.key: r for r in rows if r.serial}
        self._initial = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="picker-dialog"):
            yield Static(
                Text.assemble(("Place a device in ", "bold"), (self._where, "bold")),
                classes="dialog-title",
            )
            yield PickerInput(
                self._initial,
                id="picker-filter",
                placeholder="filter as in the fleet: pi-4b  status:ok  model:4B  tag:spare  !tag:lab",
            )
            yield KeyedTable(PICKER_COLUMNS, id="picker-table")
            yield Static(id="picker-count", classes="dialog-problem")

    def on_mount(self) -> None:
        self._apply(self._initial)
        self.query_one("#picker-filter", Input).focus()

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#picker-table", KeyedTable)

    def _apply(self, text: str) -> None:
        try:
            flt = FleetFilter.parse(text)
        except FilterError as e:
            self.query_one("#picker-count", Static).update(Text(str(e), style="bold red"))
            return
        shown = [
            r
            for r in sorted(self._rows.values(), key=lambda r: (r.hostname.lower(), r.key))
            if not flt.active or flt.matches(r.filterable())
        ]
        order = [r.key for r in shown]
        self.table.sync(order, lambda k: picker_cells(self._rows[k]), set(order))
        total = len(self._rows)
        said = (
            "no unplaced device"
            if not total
            else f"{len(order)} of {total} unplaced devices · enter places · esc cancels"
        )
        self.query_one("#picker-count", Static).update(Text(said))

    @on(Input.Changed, "#picker-filter")
    def _changed(self, event: Input.Changed) -> None:
        self._apply(event.value)

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self) -> None:
        self._choose(self.table.cursor_key)

    @on(DataTable.RowSelected, "#picker-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._choose(event.row_key.value)

    def _choose(self, key: str | None) -> None:
        if key is None or key not in self._rows:
            self.app.bell()
            return
        self.dismiss(self._rows[key].serial)

    def action_cancel(self) -> None:
        self.dismiss(None)
