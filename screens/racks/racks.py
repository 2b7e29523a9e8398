"""`:racks`: every rack (site, room, name, height, used and free units, devices placed, power
budget and draw); enter opens one (`:rack NAME`). Also registers `:rack`."""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from fleet_tui.assets import asset
from fleet_tui.core.models import DeviceState
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.layout import Elevation
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.format import Cell, cell
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.common.registry import CommandError, CommandSpec, register_command
from fleet_tui.screens.fleet.fleet import FleetScreen
from fleet_tui.screens.fleet.fleet_model import FleetModel
from fleet_tui.screens.fleet.navigation import fleet_screen
from fleet_tui.screens.racks.rack import RackScreen, open_rack
from fleet_tui.screens.racks.rack_data import RacksLoaded, load_rack_data
from fleet_tui.screens.racks.rack_model import UNKNOWN_VALUE, Power, rack_draw, used_units

# At 80 columns everything shows: 71 cells of columns and gaps, a scrollbar's worth kept.
RACK_COLUMNS = [
    ("site", "Site", 10),
    ("room", "Room", 10),
    ("rack", "Rack", 10),
    ("height", "U", 3),
    ("used", "Used", 4),
    ("free", "Free", 4),
    ("pis", "Pis", 4),
    ("draw", "Draw W", 8),
    ("budget", "Budget", 7),
]
_known: set[str] = set()  # rack names seen (for `:rack` completion before any rack screen)


def rack_cells(e: Elevation, fleet: FleetModel) -> tuple[Cell, ...]:
    rack = e.rack
    used = used_units(e)
    draw = rack_draw(e, fleet.rows)
    over = rack.budget_w is not None and draw.watts is not None and draw.watts > rack.budget_w
    return (
        cell(rack.site),
        cell(rack.room),
        cell(rack.name),
        cell(rack.height_u),
        cell(used),
        cell(rack.height_u - used, "" if rack.height_u > used else "bold yellow"),
        cell(len(e.placements)),
        cell(_watts(draw), "bold red" if over else ""),
        cell(f"{rack.budget_w:g} W" if rack.budget_w else "—"),
    )


def _watts(draw: Power) -> str:
    """`14.3`, `14 est.`, `—`: the Draw W column's 8 cells."""
    if draw.watts is None:
        return UNKNOWN_VALUE
    return f"{draw.watts:.0f} est." if draw.estimated else f"{draw.watts:.1f}"


class RacksScreen(Screen[None]):
    CSS_PATH = asset("racks.tcss")
    HELP_TITLE = "Racks"
    HELP_LEGEND = (
        "U: the rack's height in units. Used/Free: units with something in them (a tray, a "
        "device, equipment) and without. Pis: devices placed. Draw W: the placed devices' "
        "draw now (est. when estimated), red above the rack's power budget."
    )
    BINDINGS = [
        Binding("escape", "back", "Back", id="racks.back", key_display="esc"),
        Binding("enter", "open", "Open", id="racks.open", tooltip="the rack's elevation"),
        Binding(
            "r", "reload", "Reload", id="racks.reload", tooltip="re-read the racks", show=False
        ),
    ]

    def __init__(self) -> None:
        super().__init__(classes="racks-screen")
        self.fleet: FleetModel | None = None
        self.elevations: dict[str, Elevation] = {}
        self._pending: dict[str, DeviceState] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyedTable(RACK_COLUMNS, id="racks-table")
        yield Static(id="racks-summary")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        ctx = fleet_context(self.app)
        self.title = "fleet-tui"
        self.sub_title = "racks"
        self.fleet = FleetModel(ctx.options.policy)
        self.fleet.apply_states(ctx.live_states().values())
        self.set_interval(max(1.0, ctx.options.flush_interval), self.flush)
        self.set_interval(ctx.options.records_seconds, self.load)
        self.table.focus()
        self.load()

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#racks-table", KeyedTable)

    @work(
        thread=True,
        exclusive=True,
        group="racks-load",
        exit_on_error=False,
        description="reading the racks",
    )
    def load(self) -> None:
        store = fleet_context(self.app).read_store()
        if store is None:
            return
        self.post_message(RacksLoaded(load_rack_data(store, None)))

    def on_racks_loaded(self, message: RacksLoaded) -> None:
        if self.fleet is None:
            return
        data = message.data
        self.fleet.apply_records(data.records, data.rack_names())
        self.elevations = {e.rack.id: e for e in data.elevations}
        _known.update(e.rack.name for e in data.elevations)
        self._sync(set(self.elevations))

    def _sync(self, changed: set[str]) -> None:
        fleet = self.fleet
        if fleet is None:
            return
        with self.app.batch_update():
            self.table.sync(
                list(self.elevations), lambda k: rack_cells(self.elevations[k], fleet), changed
            )
        n = len(self.elevations)
        placed = sum(len(e.placements) for e in self.elevations.values())
        text = Text(f"{n} rack{'' if n == 1 else 's'} · {placed} devices placed", no_wrap=True)
        if not n:
            text = Text(
                "no racks yet: fleet-tui rack add NAME --room ROOM --site SITE", no_wrap=True
            )
        self.query_one("#racks-summary", Static).update(text)

    def device_updated(self, state: DeviceState) -> None:
        self._pending[state.key] = state

    def flush(self) -> None:
        """The draw column follows live readings (at most once a second)."""
        if not self._pending or self.fleet is None:
            return
        pending, self._pending = self._pending, {}
        changed = self.fleet.apply_states(pending.values())
        racks = {
            e.rack.id
            for e in self.elevations.values()
            if any(p.serial in changed for p in e.placements)
        }
        if racks:
            self._sync(racks)

    def action_open(self) -> None:
        key = self.table.cursor_key
        if key is not None:
            self.app.push_screen(RackScreen(key))

    @on(DataTable.RowSelected, "#racks-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(RackScreen(event.row_key.value or ""))

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss()


def _open_racks(app: App[Any], arg: str) -> None:
    fleet_screen(app)
    app.push_screen(RacksScreen())


def _open_one(app: App[Any], arg: str) -> None:
    """`:rack NAME`: the rack is looked up in a worker; an unknown name leaves the screen as
    it is and says so in one line, as `:device` does."""
    if not arg:
        raise CommandError("which rack? :rack NAME (or ROOM/NAME); :racks lists them")
    app.run_worker(
        partial(_find_and_open, app, arg),
        thread=True,
        exclusive=True,
        group="rack-find",
        exit_on_error=False,
        description="looking up a rack",
    )


def _find_and_open(app: App[Any], ref: str) -> None:
    store = fleet_context(app).read_store()
    if store is not None:
        try:
            RackBook(store).find_rack(ref)
        except RackError as e:
            said = str(e).replace("fleet-tui rack list shows them", ":racks lists them")
            app.call_from_thread(app.notify, said, title="Command", severity="error", markup=False)
            return
    app.call_from_thread(open_rack, app, ref)


def _suggest(app: App[Any]) -> list[tuple[str, str]]:
    names = set(_known)
    fleet = app.screen_stack[0] if app.screen_stack else None
    if isinstance(fleet, FleetScreen):
        names.update(fleet.rack_refs)  # every rack in the store, read with the fleet's records
        if fleet.model is not None:
            names.update(r.rack for r in list(fleet.model.rows.values()) if r.rack)
    return [
        (n, f"the elevation of rack {n}")
        for n in sorted(names, key=str.lower)
        if n.isprintable() and " " not in n
    ]


register_command(
    CommandSpec(
        "racks",
        ("rk",),
        "Racks",
        "every rack: units used and free, devices placed, power draw and budget",
        _open_racks,
    )
)
register_command(
    CommandSpec(
        "rack",
        ("elevation",),
        "Rack elevation",
        "one rack's units and slots (its room's racks beside it); move, place, identify",
        _open_one,
        argument="NAME",
        suggest=_suggest,
    )
)
