"""The fleet overview: one row per device, filtered, sorted, marked, updated in place by key."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import DataTable, Footer, Header, Input, Static

from fleet_tui.core.export import FleetCsvRow, iso, rack_names
from fleet_tui.core.models import DeviceState
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.policy import Severity
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.exporting import export_rows
from fleet_tui.screens.common.format import SEVERITY_STYLE, Cell, literal
from fleet_tui.screens.common.messages import RecordsLoaded
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.filters import FilterError, FleetFilter, completions
from fleet_tui.screens.fleet.fleet_model import COLUMN_BY_KEY, COLUMNS, LEGEND, SORTABLE, FleetModel
from fleet_tui.screens.fleet.fleet_table import FleetTable
from fleet_tui.screens.operations import actions
from fleet_tui.screens.operations.operations_bar import OperationsBar
from fleet_tui.screens.operations.power_menu import request_power

MARK = "*"
TABLE_COLUMNS = [("mark", " ", 1)] + [(c.key, c.label, c.width) for c in COLUMNS]
MODIFYING = {"identify", "reboot", "power"}


class FilterSuggester(Suggester):
    """The filter's grey suggestion: its last term's field name or value (filters.completions)."""

    def __init__(self, screen: FleetScreen) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.screen = screen

    async def get_suggestion(self, value: str) -> str | None:
        found = self.screen.filter_completions(value)
        return found[0] if found else None


class FilterInput(Input):
    """`tab` takes the grey suggestion, as in `:` mode. It never moves the focus to the table
    behind an open filter, where the next letters typed would be fleet keys (`enter` does,
    keeping the filter)."""

    BINDINGS = [Binding("tab", "complete", "Complete", id="fleet.filter_complete", show=False)]

    def action_complete(self) -> None:
        screen = self.screen
        found = screen.filter_completions(self.value) if isinstance(screen, FleetScreen) else []
        if not found:
            self.app.bell()
            return
        self.value = found[0]
        self.cursor_position = len(self.value)


class FleetScreen(Screen[None]):
    HELP_LEGEND = LEGEND  # the columns' short forms, in `?`
    BINDINGS = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="fleet.filter",
            tooltip="regex on names; !invert; status: model: rack: tag: addr: serial:",
            key_display="/",
        ),
        Binding("space", "mark", "Mark", id="fleet.mark", tooltip="mark/unmark the row, move down"),
        Binding("s", "sort", "Sort", id="fleet.sort", tooltip="sort by the next column"),
        Binding(
            "S",
            "reverse",
            "Reverse",
            id="fleet.reverse",
            tooltip="reverse the sort order",
            show=False,
        ),
        Binding(
            "o", "open", "Open", id="fleet.open", tooltip="open the device (also enter)", show=False
        ),
        Binding(
            "i",
            "identify",
            "Identify",
            id="fleet.identify",
            tooltip="blink the ACT LED (marked rows, else this one)",
            show=False,
        ),
        Binding(
            "R",
            "reboot",
            "Reboot",
            id="fleet.reboot",
            tooltip="reboot (marked rows, else this one)",
            show=False,
        ),
        Binding(
            "P",
            "power",
            "Power",
            id="fleet.power",
            tooltip="power on/off/cycle through outlets (marked rows, else this one)",
            show=False,
        ),
        Binding("x", "export", "Export", id="fleet.export", tooltip="CSV of the table as shown"),
        Binding(
            "a",
            "mark_all",
            "Mark shown",
            id="fleet.mark_all",
            tooltip="mark every row shown",
            show=False,
        ),
        Binding(
            "u", "unmark", "Unmark all", id="fleet.unmark", tooltip="clear all marks", show=False
        ),
        Binding(
            "r",
            "reload",
            "Reload",
            id="fleet.reload",
            tooltip="re-read labels, tags, racks",
            show=False,
        ),
        Binding(
            "escape",
            "back",
            "Clear",
            id="fleet.back",
            tooltip="cancel filter edit / clear filter / marks",
            show=False,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(id="fleet")
        self.model: FleetModel | None = None
        self.marked: set[str] = set()
        self._pending: dict[str, DeviceState] = {}
        self._records: tuple[list[DeviceRecord], dict[str, str]] | None = None
        self.rack_refs: list[str] = []  # every rack in the store (for `:rack` completion)
        self._dirty = False
        self._filter_before_edit = ""
        self.first_rows_shown: float | None = None  # for the benchmark: when rows first appeared

    # ---- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield FleetTable(TABLE_COLUMNS, id="fleet-table")
        yield OperationsBar()
        yield FilterInput(
            id="fleet-filter",
            suggester=FilterSuggester(self),
            placeholder="regex on names  !invert  status:warn  model:4B  rack:R1  tag:lab  addr:  serial:",
            classes="hidden",
        )
        yield Static(id="fleet-summary")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        ctx = fleet_context(self.app)
        self.model = FleetModel(ctx.options.policy)
        self.query_one("#fleet-filter", Input).cursor_blink = ctx.options.animate
        self.set_interval(ctx.options.flush_interval, self.flush)
        self.set_interval(ctx.options.records_seconds, self.load_records)
        self.load_records()
        self._pending.update(ctx.live_states())
        self._show_sort()
        self._update_summary()

    @property
    def table(self) -> FleetTable:
        return self.query_one("#fleet-table", FleetTable)

    # ---- data in ----------------------------------------------------------------------
    def operation_updated(self, event: OperationEvent) -> None:
        self.query_one(OperationsBar).operation_updated(event)

    def device_updated(self, state: DeviceState) -> None:
        """Called by the app for every update; rendering happens later, in `flush`, in the
        order of arrival (a provisional key may come back after it was re-keyed). Updates are
        coalesced by key, so the one-time `replaces` of a re-key is carried to the latest."""
        previous = self._pending.pop(state.key, None)
        if previous is not None and previous.replaces and not state.replaces:
            state = state.model_copy(update={"replaces": previous.replaces})
        self._pending[state.key] = state

    @work(
        thread=True,
        exclusive=True,
        group="fleet-records",
        exit_on_error=False,
        description="reading the fleet database",
    )
    def load_records(self) -> None:
        store = fleet_context(self.app).read_store()
        if store is None:
            return
        refs = sorted(RackBook(store).refs().values(), key=str.casefold)
        message = RecordsLoaded(DeviceBook(store).all(), rack_names(store), refs)
        self.post_message(message)

    def on_records_loaded(self, message: RecordsLoaded) -> None:
        self._records = (message.records, message.racks)
        self.rack_refs = message.rack_refs
        self.flush()

    def flush(self) -> None:
        """Apply what arrived since the last flush to the table, in one batch."""
        model = self.model
        if model is None or not (self._pending or self._records or self._dirty):
            return
        changed: set[str] = set()
        if self._records is not None:
            changed |= model.apply_records(*self._records)
            self._records = None
        if self._pending:
            pending, self._pending = self._pending, {}
            changed |= model.apply_states(pending.values())
        renamed = model.take_renamed()
        for old, new in renamed.items():  # a candidate is now its serial: its mark follows it
            if old in self.marked:
                self.marked.discard(old)
                self.marked.add(new)
        self._dirty = False
        now = fleet_context(self.app).options.now()
        table = self.table

        def cells(key: str) -> list[Cell]:
            return [(MARK if key in self.marked else " ", ""), *model.cells(key, now)]

        with self.app.batch_update():
            table.sync(model.visible(), cells, changed, renamed)
        if self.first_rows_shown is None and table.row_count:
            self.first_rows_shown = time.perf_counter()
        self._update_summary()

    def refresh_view(self) -> None:
        self._dirty = True
        self.flush()

    # ---- summary line -------------------------------------------------------------------
    def _update_summary(self) -> None:
        model = self.model
        if model is None:
            return
        order = self.table.order
        counts, counts_shown = model.counts(), model.counts(order)
        total, shown = len(model.rows), len(order)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{shown}/{total} shown")
        for sev in (Severity.CRITICAL, Severity.UNREACHABLE, Severity.WARN):
            if counts[sev]:  # what the filter hides is said, never counted as shown
                text.append(" · ")
                n, of = counts_shown[sev], counts[sev]
                text.append(
                    f"{n} {sev.value}" if n == of else f"{n} of {of} {sev.value}",
                    style=SEVERITY_STYLE[sev],
                )
        if self.marked:
            marked_shown = sum(1 for k in order if k in self.marked)
            text.append(
                f" · {len(self.marked)} marked"
                if marked_shown == len(self.marked)
                else f" · {marked_shown} of {len(self.marked)} marked"
            )
        if model.filter.active:
            text.append(" · /")
            text.append_text(literal(model.filter.text))
        options = fleet_context(self.app).options
        if options.readonly:
            text.append(" · READ-ONLY", style="bold")
        if options.low_bandwidth:
            text.append(" · low-bandwidth")
        self.query_one("#fleet-summary", Static).update(text)

    # ---- filter -----------------------------------------------------------------------
    def action_filter(self) -> None:
        field = self.query_one("#fleet-filter", Input)
        self._filter_before_edit = self.model.filter.text if self.model else ""
        field.value = self._filter_before_edit
        field.remove_class("hidden")
        field.focus()

    def filter_completions(self, text: str) -> list[str]:
        return completions(text, self.model.field_values()) if self.model is not None else []

    def set_filter_text(self, text: str) -> bool:
        """Apply a filter; on a bad one, say why and keep the current filter."""
        if self.model is None:
            return False
        try:
            flt = FleetFilter.parse(text)
        except FilterError as e:
            self.query_one("#fleet-filter", Input).add_class("-invalid")
            self.query_one("#fleet-summary", Static).update(Text(str(e), style="bold red"))
            return False
        self.query_one("#fleet-filter", Input).remove_class("-invalid")
        self.model.set_filter(flt)
        self.refresh_view()
        return True

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if not event.input.has_class("hidden"):
            self.set_filter_text(event.value)

    @on(Input.Submitted, "#fleet-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self.set_filter_text(event.value):
            self._close_filter()

    def _close_filter(self) -> None:
        field = self.query_one("#fleet-filter", Input)
        field.add_class("hidden")
        self.table.focus()

    def action_back(self) -> None:
        field = self.query_one("#fleet-filter", Input)
        if not field.has_class("hidden"):
            self.set_filter_text(self._filter_before_edit)
            self._close_filter()
        elif self.model is not None and self.model.filter.active:
            self.set_filter_text("")
        elif self.marked:
            self.action_unmark()

    # ---- sort -------------------------------------------------------------------------
    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        if self.model is None:
            return
        if reverse is None:
            reverse = not self.model.sort_reverse if key == self.model.sort_key else False
        self.model.set_sort(key, reverse)
        self._show_sort()
        self.refresh_view()
        self.table.show_column(key)  # its header and arrow, also when it is off to the right

    def action_sort(self) -> None:
        if self.model is None:
            return
        i = SORTABLE.index(self.model.sort_key)
        self.sort_by(SORTABLE[(i + 1) % len(SORTABLE)], reverse=False)

    def action_reverse(self) -> None:
        if self.model is not None:
            self.sort_by(self.model.sort_key, not self.model.sort_reverse)

    def _show_sort(self) -> None:
        if self.model is None:
            return
        for c in COLUMNS:
            arrow = (
                ("▼" if self.model.sort_reverse else "▲") if c.key == self.model.sort_key else ""
            )
            self.table.set_header(c.key, c.label + arrow)

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key in COLUMN_BY_KEY:
            self.sort_by(key)

    # ---- marks ------------------------------------------------------------------------
    def _set_mark(self, key: str, on_: bool) -> None:
        (self.marked.add if on_ else self.marked.discard)(key)
        self.table.update_column(key, "mark", (MARK if on_ else " ", ""))

    def action_mark(self) -> None:
        key = self.table.cursor_key
        if key is None:
            return
        self._set_mark(key, key not in self.marked)
        self.table.action_cursor_down()
        self._update_summary()

    def action_mark_all(self) -> None:
        with self.app.batch_update():
            for key in self.table.order:
                self._set_mark(key, True)
        self._update_summary()

    def action_unmark(self) -> None:
        with self.app.batch_update():
            for key in list(self.marked):
                self._set_mark(key, False)
        self.marked.clear()
        self._update_summary()

    # ---- open, actions, export ------------------------------------------------------------
    def targets(self) -> list[actions.Target]:
        """Marked devices, else the one under the cursor."""
        if self.model is None:
            return []
        keys = [k for k in self.table.order if k in self.marked] or (
            [self.table.cursor_key] if self.table.cursor_key else []
        )
        rows = [self.model.rows[k] for k in keys if k in self.model.rows]
        return [actions.Target(r.key, r.hostname, r.address) for r in rows]

    def open_row(self, key: str | None) -> None:
        if key is not None and self.model is not None and key in self.model.rows:
            self.app.push_screen(DeviceScreen(self.model.rows[key].device_ref()))

    def action_open(self) -> None:
        self.open_row(self.table.cursor_key)

    @on(DataTable.RowSelected, "#fleet-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_row(event.row_key.value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MODIFYING and fleet_context(self.app).options.readonly:
            return False  # hidden from the footer, the palette and `?`, and refused
        return True

    def action_identify(self) -> None:
        actions.request(self, "identify", self.targets())

    def action_reboot(self) -> None:
        actions.request(self, "reboot", self.targets())

    def action_power(self) -> None:
        request_power(self, self.targets())

    def action_reload(self) -> None:
        self.load_records()

    def export_rows(self) -> list[FleetCsvRow]:
        model = self.model
        if model is None:
            return []
        out = []
        for key in self.table.order:
            r = model.rows[key]
            out.append(
                FleetCsvRow(
                    hostname=r.hostname,
                    status=r.status.severity.value,
                    reasons="; ".join(r.status.reasons),
                    temperature_c=r.temperature,
                    throttled=r.throttle if r.state and r.state.reachable else "",
                    model=r.model,
                    uptime_s=r.uptime,
                    last_seen=iso(r.last_seen),
                    address=r.address,
                    os_name=r.os_name,
                    rack=r.rack,
                    label=r.label,
                    tags=r.tags,
                    serial=r.serial,
                )
            )
        return out

    def action_export(self) -> None:
        export_rows(self, "the fleet table", "fleet", FleetCsvRow, self.export_rows)
