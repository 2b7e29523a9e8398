"""`:rack NAME`: one rack's elevation, with the other racks of its room beside it.

Every unit is drawn (top of the rack first, in the rack's numbering), trays split into slots,
each device with its hostname and its status as a word and a colour; `t` cycles the overlay
(status → temperature on a heat scale → power draw). Arrows move the cursor between units and
slots (and, past the last slot, to the next rack); `enter` opens the device; `m` moves it
(arrows pick the new place, enter confirms, esc cancels), `p` places an unplaced device in the
selected slot (a picker with the fleet table's filter), `d` takes a device out (asks first),
`i` blinks its ACT LED (through the operation runner), `x` exports the rack as CSV. Writes go
through core/racks RackBook in a worker; `--readonly` refuses them and says so.

Live: device states (status, temperature, power) arrive as on the fleet screen and are applied
every flush interval, redrawing only the lines of the devices that changed; the racks
themselves are read again every `records_seconds` (another laptop's moves after a merge).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import IO, Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from fleet_tui.assets import asset
from fleet_tui.core.fleet.refs import DeviceRefError, serial_for
from fleet_tui.core.models import DeviceState
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.process import operator
from fleet_tui.core.power.linking import link_outlet
from fleet_tui.core.power.outlets import Outlet, OutletError
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.layout_csv import export_rack_csv
from fleet_tui.core.racks.model import FRONT, REAR, where
from fleet_tui.core.store.database import StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import ReadOnlyError, fleet_context, reload_fleet_records
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.exporting import export_with
from fleet_tui.screens.common.format import SEVERITY_STYLE, literal, safe, temperature
from fleet_tui.screens.device.device import DeviceRef, DeviceScreen
from fleet_tui.screens.fleet.fleet_model import FleetModel, FleetRow
from fleet_tui.screens.fleet.navigation import fleet_screen
from fleet_tui.screens.operations import actions
from fleet_tui.screens.operations.operations_bar import OperationsBar
from fleet_tui.screens.operations.power_menu import request_power
from fleet_tui.screens.racks.outlet_dialog import OutletChoice, OutletDialog
from fleet_tui.screens.racks.rack_data import RackData, RacksLoaded, load_rack_data
from fleet_tui.screens.racks.rack_model import Overlay, heat_legend, hostname_of, occupant, power_of
from fleet_tui.screens.racks.rack_picker import DevicePicker
from fleet_tui.screens.racks.rack_view import RackElevation

WRITES = {
    "move": "Move",
    "place": "Place",
    "remove": "Remove",
    "identify": "Identify",
    "power": "Power",
    "outlet": "Outlet",
}


class RackScreen(Screen[None]):
    CSS_PATH = asset("racks.tcss")
    HELP_TITLE = "Rack"
    HELP_LEGEND = (
        "Each unit: its label in the rack's numbering, then what is in it; a tray shows its "
        "slots side by side (numbered), wrapping when narrow. t cycles the word after each "
        "hostname: status (as on the fleet), temperature (°C, coloured on a heat scale) or "
        "power draw (W; est. = estimated from the model and CPU load, — = unknown). ⚠ marks "
        "a slot two placements claim, or a unit equipment and a device (or two items) "
        "claim, after a merge (:sync resolves it)."
    )
    BINDINGS = [
        Binding(
            "escape",
            "back",
            "Back",
            id="rack.back",
            key_display="esc",
            tooltip="cancel a move, else back",
        ),
        Binding(
            "enter", "enter", "Open", id="rack.open", tooltip="open the device (confirms a move)"
        ),
        Binding(
            "m",
            "move_device",
            "Move",
            id="rack.move",
            tooltip="move the device: arrows pick, enter confirms",
        ),
        Binding(
            "p", "place", "Place", id="rack.place", tooltip="put an unplaced device in this slot"
        ),
        Binding(
            "d",
            "remove",
            "Remove",
            id="rack.remove",
            tooltip="take the device out of the rack (asks)",
        ),
        Binding("i", "identify", "Identify", id="rack.identify", tooltip="blink the ACT LED"),
        Binding(
            "t", "overlay", "Overlay", id="rack.overlay", tooltip="status → temperature → power"
        ),
        Binding(
            "f", "face", "Face", id="rack.face", tooltip="front / rear of the rack", show=False
        ),
        Binding(
            "x",
            "export",
            "Export",
            id="rack.export",
            tooltip="the rack's layout as CSV",
            show=False,
        ),
        Binding(
            "P",
            "power",
            "Power",
            id="rack.power",
            tooltip="power on/off/cycle the device through its outlet",
            show=False,
        ),
        Binding(
            "o",
            "outlet",
            "Outlet",
            id="rack.outlet",
            tooltip="which outlet powers the device: pick one or define one",
            show=False,
        ),
        Binding("r", "reload", "Reload", id="rack.reload", tooltip="re-read the racks", show=False),
    ]

    def __init__(self, ref: str) -> None:
        super().__init__(classes="rack-screen")
        self.ref = ref  # the rack as typed (id, name or ROOM/NAME)
        self.fleet: FleetModel | None = None
        self.data: RackData | None = None
        self._pending: dict[str, DeviceState] = {}
        self._focused_once = False

    # ---- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield RackElevation(id="rack-view")
        yield OperationsBar()
        yield Static(id="rack-where")
        yield Static(id="rack-legend")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        ctx = fleet_context(self.app)
        self.title = "fleet-tui"
        self.sub_title = f"rack {safe(self.ref, 64)}"
        self.fleet = FleetModel(ctx.options.policy)
        self.fleet.apply_states(ctx.live_states().values())
        self.set_interval(ctx.options.flush_interval, self.flush)
        self.set_interval(ctx.options.records_seconds, self.load)
        self.view.focus()
        self._say_legend()
        self.load()

    @property
    def view(self) -> RackElevation:
        return self.query_one("#rack-view", RackElevation)

    # ---- data ----------------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        group="rack-load",
        exit_on_error=False,
        description="reading the racks",
    )
    def load(self) -> None:
        ctx = fleet_context(self.app)
        store = ctx.read_store()
        if store is None:
            return
        try:
            data = load_rack_data(store, self.ref)
        except RackError as e:
            ctx.report_error("Rack", str(e))
            self.app.call_from_thread(self._say_problem, str(e))
            return
        self.post_message(RacksLoaded(data))

    def on_racks_loaded(self, message: RacksLoaded) -> None:
        data = message.data
        if self.fleet is None:
            return
        first = self.data is None
        self.data = data
        self.fleet.apply_records(data.records, data.rack_names())
        at: tuple[str, int | None, int | None] | None = None
        if first and data.focus is not None:
            at = (data.focus, None, None)
            column = next((e for e in data.elevations if e.rack.id == data.focus), None)
            if column is not None:  # the first unit with something in it
                used = next((u for u in column.units if u.kind not in ("free", "covered")), None)
                if used is not None:
                    at = (data.focus, used.number, 1 if used.kind == "tray" else None)
        self.view.show(data.elevations, self.fleet.rows, at=at)
        self._say_where()

    def _say_problem(self, problem: str) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(problem, style="bold red")
        text.append(" · esc goes back")
        self.query_one("#rack-where", Static).update(text)

    def device_updated(self, state: DeviceState) -> None:
        self._pending[state.key] = state

    def operation_updated(self, event: OperationEvent) -> None:
        self.query_one(OperationsBar).operation_updated(event)

    def flush(self) -> None:
        """Apply the states that arrived: only the lines of changed devices are drawn again."""
        if not self._pending or self.fleet is None:
            return
        pending, self._pending = self._pending, {}
        changed = self.fleet.apply_states(pending.values())
        self.view.devices_changed(changed)
        serial = self.selected_serial()
        if serial is not None and serial in changed:
            self._say_where()

    # ---- what is selected ----------------------------------------------------------------
    def selected_serial(self) -> str | None:
        column, stop = self.view.current_column, self.view.current_stop
        if column is None or stop is None:
            return None
        unit = column.elevation.unit(stop.unit)
        return occupant(unit, stop.slot, self.view.face)

    def selected_row(self) -> FleetRow | None:
        serial = self.selected_serial()
        return self.fleet.rows.get(serial) if serial and self.fleet else None

    def selected_place(self) -> str:
        column, stop = self.view.current_column, self.view.current_stop
        if column is None or stop is None:
            return ""
        return where(column.elevation.rack.name, stop.unit, stop.slot, self.view.face)

    def selected_name(self) -> str:
        serial = self.selected_serial()
        column = self.view.current_column
        if serial is None or column is None or self.fleet is None:
            return ""
        return hostname_of(column, self.fleet.rows, serial)

    @on(RackElevation.Moved)
    def _moved(self) -> None:
        self._say_where()

    def _say_where(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        column, stop = self.view.current_column, self.view.current_stop
        if column is None or stop is None:
            text.append("no rack" if self.data is not None else "reading the racks…")
            self.query_one("#rack-where", Static).update(text)
            return
        moving = self.view.moving
        if moving is not None:
            text.append("Moving ", style="bold")
            text.append_text(literal(self._moving_name))
            text.append(f" to {self.selected_place()}: arrows pick, enter moves, esc cancels")
            self.query_one("#rack-where", Static).update(text)
            return
        text.append(self.selected_place(), style="bold")
        unit = column.elevation.unit(stop.unit)
        serial = self.selected_serial()
        if serial is not None:
            row = self.fleet.rows.get(serial) if self.fleet else None
            text.append(" · ")
            text.append_text(literal(self.selected_name()))
            text.append(f" {serial}")
            if row is not None:
                sev = row.status.severity
                text.append(" · ")
                text.append(sev.value, style=SEVERITY_STYLE[sev])
                text.append(f" · {temperature(row.temperature)} · {power_of(row).text}")
            outlets = self.data.outlets.get(serial, []) if self.data else []
            text.append(" · outlet ")
            if outlets:
                text.append_text(literal(", ".join(f"{o.name} ({o.where})" for o in outlets)))
            else:
                text.append("none: o links one", style="dim")
        elif unit.item is not None:
            item = unit.item
            text.append(f" · {item.kind} ")
            text.append_text(literal(item.label))
            text.append(f" · {item.height_u}U")
        else:
            text.append(" · free: p places a device")
        self.query_one("#rack-where", Static).update(text)

    def _say_legend(self) -> None:
        options = fleet_context(self.app).options
        overlay = self.view.overlay
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"t: {overlay.value}", style="bold")
        if overlay is Overlay.STATUS:
            text.append("  ok ", style="green")
            text.append("warn ", style="bold yellow")
            text.append("critical ", style="bold red")
            text.append("unreachable ", style="bold magenta")
            text.append("unknown", style="dim")
        elif overlay is Overlay.TEMPERATURE:
            text.append("  ")
            for piece, style in heat_legend():
                text.append(piece, style=style)
        else:
            text.append("  W now · est. estimated from model and CPU · — unknown")
        if self.view.face == REAR:
            text.append(" · REAR", style="bold")
        if options.readonly:
            text.append(" · READ-ONLY", style="bold")
        self.query_one("#rack-legend", Static).update(text)

    # ---- keys ----------------------------------------------------------------------------
    def _refused(self, action: str) -> bool:
        """True (and the reason said) when --readonly forbids `action`."""
        if fleet_context(self.app).options.readonly:
            self.app.notify(
                f"{WRITES[action]} refused: read-only mode (--readonly looks, never writes)",
                severity="warning",
                markup=False,
            )
            return True
        return False

    def action_back(self) -> None:
        if self.view.moving is not None:
            self.view.set_moving(None)
            self._say_where()
            return
        self.dismiss()

    def action_enter(self) -> None:
        if self.view.moving is not None:
            self._confirm_move()
            return
        row = self.selected_row()
        serial = self.selected_serial()
        if serial is None:
            self.app.bell()
            return
        if row is not None:
            self.app.push_screen(DeviceScreen(row.device_ref()))
        else:
            self.app.push_screen(DeviceScreen(DeviceRef(serial, self.selected_name(), None)))

    def action_overlay(self) -> None:
        self.view.set_overlay(self.view.overlay.next())
        self._say_legend()

    def action_face(self) -> None:
        self.view.set_face(FRONT if self.view.face == REAR else REAR)
        self._say_legend()
        self._say_where()

    def action_reload(self) -> None:
        self.load()

    # move: m marks the device, arrows pick, enter confirms
    _moving_name = ""
    _moving_serial = ""

    def action_move_device(self) -> None:
        if self._refused("move"):
            return
        serial = self.selected_serial()
        if serial is None:
            self.app.notify("No device here to move", severity="warning", markup=False)
            return
        self._moving_serial = serial
        self._moving_name = self.selected_name()
        self.view.set_moving((self.view.rack, self.view.stop))
        self._say_where()

    def _confirm_move(self) -> None:
        column, stop = self.view.current_column, self.view.current_stop
        serial, name = self._moving_serial, self._moving_name
        self.view.set_moving(None)
        if column is None or stop is None:
            return
        rack_id, face = column.elevation.rack.id, self.view.face
        self._write(
            "Move",
            lambda book: _place(
                book, serial, rack_id, stop.unit, stop.slot, face, name, "moved to"
            ),
        )

    def action_place(self) -> None:
        if self._refused("place"):
            return
        column, stop = self.view.current_column, self.view.current_stop
        if column is None or stop is None or self.fleet is None or self.data is None:
            return
        unit = column.elevation.unit(stop.unit)
        taken = self.selected_serial()
        if taken is not None:
            self.app.notify(
                f"{self.selected_place()} is taken by {safe(self.selected_name(), 40)}: "
                "m moves it, d takes it out",
                severity="warning",
                markup=False,
            )
            return
        if unit.item is not None:
            self.app.notify(
                f"{self.selected_place()} holds {unit.item.kind} {safe(unit.item.label, 40)}",
                severity="warning",
                markup=False,
            )
            return
        placed = self.data.placed
        candidates = [r for r in self.fleet.rows.values() if r.serial and r.serial not in placed]
        rack_id, face, place = column.elevation.rack.id, self.view.face, self.selected_place()

        def chosen(serial: str | None) -> None:
            if serial is None or self.fleet is None:
                return
            row = self.fleet.rows.get(serial)
            name = row.hostname if row else serial
            self._write(
                "Place",
                lambda book: _place(
                    book, serial, rack_id, stop.unit, stop.slot, face, name, "placed in"
                ),
            )

        self.app.push_screen(DevicePicker(place, candidates), chosen)

    def action_remove(self) -> None:
        if self._refused("remove"):
            return
        serial = self.selected_serial()
        if serial is None:
            self.app.notify("No device here to take out", severity="warning", markup=False)
            return
        name, place = self.selected_name(), self.selected_place()
        body = Text.assemble(
            "Take ",
            (safe(name), "bold"),
            f" ({serial}) out of {place}?\n",
            "The device stays in the fleet; only its place is forgotten (p puts it back).",
        )

        def answered(ok: bool | None) -> None:
            if ok:
                self._write("Remove", lambda book: _unplace(book, serial, name))

        self.app.push_screen(
            ConfirmDialog("Remove from the rack?", body, "Remove", danger=True), answered
        )

    def action_identify(self) -> None:
        if self._refused("identify"):
            return
        row = self.selected_row()
        serial = self.selected_serial()
        if serial is None:
            self.app.notify("No device here to identify", severity="warning", markup=False)
            return
        address = row.address if row is not None else ""
        actions.request(self, "identify", [actions.Target(serial, self.selected_name(), address)])

    def _selected_target(self, what: str) -> actions.Target | None:
        serial = self.selected_serial()
        if serial is None:
            self.app.notify(f"No device here to {what}", severity="warning", markup=False)
            return None
        row = self.selected_row()
        return actions.Target(serial, self.selected_name(), row.address if row else "")

    def action_power(self) -> None:
        if self._refused("power"):
            return
        target = self._selected_target("power")
        if target is not None:
            request_power(self, [target])

    def action_outlet(self) -> None:
        if self._refused("outlet"):
            return
        target = self._selected_target("link to an outlet")
        if target is None or self.data is None:
            return
        serial, name = target.key, target.hostname

        def chosen(choice: OutletChoice | None) -> None:
            if choice is not None:
                self._link(serial, choice.existing or choice.new)

        self.app.push_screen(OutletDialog(safe(name, 40), self.data.all_outlets), chosen)

    @work(thread=True, group="rack-write", exit_on_error=False, description="linking an outlet")
    def _link(self, serial: str, outlet: Outlet | str | None) -> None:
        ctx = fleet_context(self.app)
        if outlet is None:
            return
        try:
            store = ctx.write_store()
            if isinstance(outlet, Outlet) and outlet.controller:  # typed: a hostname or serial
                controller = serial_for(DeviceBook(store).all(), outlet.controller)
                outlet = replace(outlet, controller=controller)
            linked = link_outlet(store, serial, outlet, ctx.options.technician or operator())
        except ReadOnlyError:
            ctx.report_error("Outlet refused", "read-only mode")
            return
        except (StoreError, OutletError, DeviceRefError) as e:
            ctx.report_error("Outlet not linked", str(e))
            return
        said = f"outlet {visible(linked.name, 40)} ({visible(linked.where, 60)}) powers it"
        self.app.call_from_thread(self.app.notify, said, title="Outlet", markup=False)
        self.app.call_from_thread(self.load)

    def action_export(self) -> None:
        column = self.view.current_column
        if column is None:
            return
        rack = column.elevation.rack
        ctx = fleet_context(self.app)

        def write(out: IO[str]) -> int:
            store = ctx.read_store()
            if store is None:
                raise OSError("no fleet database yet")
            return export_rack_csv(store, rack.id, out)

        export_with(self, f"rack {safe(rack.name, 40)}", f"rack-{_file_word(rack.name)}", write)

    # ---- writes ---------------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        group="rack-write",
        exit_on_error=False,
        description="changing a placement",
    )
    def _write(self, what: str, do: Callable[[RackBook], str]) -> None:
        ctx = fleet_context(self.app)
        try:
            store = ctx.write_store()
        except ReadOnlyError:
            ctx.report_error(f"{what} refused", "read-only mode")
            return
        except StoreError as e:
            ctx.report_error(f"{what} failed", str(e))
            return
        try:
            said = do(RackBook(store))
        except RackError as e:
            ctx.report_error(f"{what} refused", str(e))
            return
        self.app.call_from_thread(self.app.notify, said, title=what, markup=False)
        self.app.call_from_thread(self.load)
        self.app.call_from_thread(reload_fleet_records, self.app)


def _place(
    book: RackBook,
    serial: str,
    rack_id: str,
    unit: int,
    slot: int | None,
    face: str,
    name: str,
    verb: str,
) -> str:
    book.place(serial, rack_id, unit, slot, face=face)
    found = book.placement_of(serial)
    return f"{safe(name, 64)} {verb} {book.describe(found) if found else rack_id}"


def _unplace(book: RackBook, serial: str, name: str) -> str:
    old = book.unplace(serial)
    return f"{safe(name, 64)} taken out of {book.describe(old)}"


def _file_word(name: str) -> str:
    """A rack's name as part of a file name: letters, digits, - and _ only."""
    word = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return word.strip("-") or "rack"


def open_rack(app: App[Any], ref: str) -> None:
    """`:rack NAME` (also enter on :racks): back to the fleet, then the rack on top."""
    fleet_screen(app)
    app.push_screen(RackScreen(ref))
