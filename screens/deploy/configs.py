"""`:config [NAME]`: the config files, each device's three ways for the highlighted one
(desired, last pushed, on the device: drift), its unified diffs, push and rollback.

The store and the devices are read in workers (the devices through the pipeline's open
sessions); push and rollback ask first and run as `config_push` operations, like the CLI's
`fleet-tui config push|rollback`. Diffs are the devices' text: shown literally, never markup.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from fleet_tui.assets import asset
from fleet_tui.core.configs.book import ConfigBook, ConfigError, ConfigFile
from fleet_tui.core.configs.desired import (
    Planned,
    plan_push,
    plan_rollback,
    push_params,
    render_for,
)
from fleet_tui.core.configs.diff import DeviceView, three_way
from fleet_tui.core.configs.record import KIND, reconcile
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.format import Cell, cell
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.common.registry import CommandSpec, register_command

MODIFYING = {"push", "push_all", "rollback"}
CONFIG_COLUMNS = [
    ("name", "Config", 16),
    ("ver", "Ver", 3),
    ("path", "Path", 30),
    ("restart", "Restart", 20),
]
DEVICE_COLUMNS = [
    ("host", "Host", 14),
    ("state", "State", 12),
    ("pushed", "Pushed", 6),
    ("why", "Reason", 20),
]
STATE_STYLE = {
    "drift": "bold red",
    "unreadable": "yellow",
    "pending": "bold",
    "never-pushed": "dim",
}


class ConfigsLoaded(Message, bubble=False):
    def __init__(self, configs: list[tuple[ConfigFile, int | None]]) -> None:
        super().__init__()
        self.configs = configs


class ViewsLoaded(Message, bubble=False):
    def __init__(self, name: str, views: list[DeviceView]) -> None:
        super().__init__()
        self.name = name
        self.views = views


class ConfigScreen(Screen[None]):
    CSS_PATH = asset("configs.tcss")
    BINDINGS = [
        Binding("escape", "back", "Back", id="config.back", tooltip="back to the previous screen"),
        Binding("p", "push", "Push", id="config.push", tooltip="push the config to this device"),
        Binding(
            "P", "push_all", "Push all", id="config.push_all", tooltip="push to every device listed"
        ),
        Binding(
            "b",
            "rollback",
            "Rollback",
            id="config.rollback",
            tooltip="put back what this device had before its last push",
        ),
        Binding(
            "r", "reload", "Reload", id="config.reload", tooltip="read configs and devices again"
        ),
    ]

    def __init__(self, name: str = "") -> None:
        super().__init__(id="configs")
        self.wanted = name
        self.configs: dict[str, tuple[ConfigFile, int | None]] = {}
        self.views: dict[str, DeviceView] = {}
        self.views_of = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyedTable(CONFIG_COLUMNS, id="config-table", flex="path")
        yield KeyedTable(DEVICE_COLUMNS, id="config-devices", flex="why")
        yield Static(id="config-status")
        with VerticalScroll(id="config-diff-box"):
            yield Static(id="config-diff")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "config files"
        self.load()
        self.query_one("#config-table", KeyedTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MODIFYING and fleet_context(self.app).options.readonly:
            return False
        return True

    # ---- data -------------------------------------------------------------------------------
    @property
    def config(self) -> ConfigFile | None:
        key = self.query_one("#config-table", KeyedTable).cursor_key
        return self.configs[key][0] if key in self.configs else None

    @property
    def view(self) -> DeviceView | None:
        key = self.query_one("#config-devices", KeyedTable).cursor_key
        return self.views.get(key) if key else None

    @work(
        thread=True,
        exclusive=True,
        group="config-list",
        exit_on_error=False,
        description="reading configs",
    )
    def load(self) -> None:
        ctx = fleet_context(self.app)
        store = ctx.read_store()
        if store is None:
            return
        if not ctx.options.readonly:
            reconcile(ConfigBook(ctx.write_store()))
        book = ConfigBook(store)
        configs = []
        for c in book.all():
            head = book.head(c.name)
            configs.append((c, head.number if head else None))
        self.post_message(ConfigsLoaded(configs))

    @work(
        thread=True,
        exclusive=True,
        group="config-views",
        exit_on_error=False,
        description="reading the devices' files",
    )
    def load_views(self, config: ConfigFile) -> None:
        ctx = fleet_context(self.app)
        store = ctx.read_store()
        if store is None:
            return
        book = ConfigBook(store)
        head = book.head(config.name)
        if head is None:
            return
        rendered = render_for(store, config, head, DeviceBook(store).all())
        caller = ctx.device_caller()
        if caller is None:
            views = []
            for r in rendered:
                pushed = book.last_pushed(config.name, r.device.serial)
                number = book.number_of(config.name, pushed.version) if pushed else None
                views.append(
                    DeviceView(
                        r.device.serial,
                        r.name,
                        r.content,
                        r.error,
                        pushed,
                        number,
                        None,
                        "not connected (no fleet pipeline)",
                    )
                )
        else:
            views = ctx.run_on_pipeline(lambda: three_way(book, caller, config, rendered))
        self.post_message(ViewsLoaded(config.name, views))

    def on_configs_loaded(self, message: ConfigsLoaded) -> None:
        self.configs = {c.name: (c, n) for c, n in message.configs}
        table = self.query_one("#config-table", KeyedTable)
        with self.app.batch_update():
            table.sync(list(self.configs), self._config_cells, set(self.configs))
        if self.wanted in self.configs:
            table.move_cursor(row=list(self.configs).index(self.wanted))
            self.wanted = ""
        self._config_changed(force=True)

    def on_views_loaded(self, message: ViewsLoaded) -> None:
        config = self.config
        if config is None or config.name != message.name:
            return
        self.views = {v.serial: v for v in message.views}
        ordered = sorted(message.views, key=lambda v: (v.name.lower(), v.serial))
        with self.app.batch_update():
            self.query_one("#config-devices", KeyedTable).sync(
                [v.serial for v in ordered],
                lambda k: self._view_cells(self.views[k]),
                set(self.views),
            )
        drift = sum(1 for v in message.views if v.drift)
        status = Text(f"{len(message.views)} device(s)")
        if drift:
            status.append(f" · {drift} drifted", style="bold red")
        status.append("  p push · P push all · b rollback", style="dim")
        self.query_one("#config-status", Static).update(status)
        self._show_diff()

    @on(DataTable.RowHighlighted, "#config-table")
    def _config_highlighted(self) -> None:
        self._config_changed()

    @on(DataTable.RowHighlighted, "#config-devices")
    def _device_highlighted(self) -> None:
        self._show_diff()

    def _config_changed(self, force: bool = False) -> None:
        config = self.config
        if config is None:
            self.query_one("#config-status", Static).update(
                Text("no config files yet: fleet-tui config add NAME --path … --template FILE")
            )
            return
        if force or config.name != self.views_of:
            self.views_of = config.name
            self.views = {}
            self.query_one("#config-devices", KeyedTable).sync([], lambda k: [], set())
            self.query_one("#config-status", Static).update(
                Text(f"reading {config.path} on the devices…")
            )
            self.query_one("#config-diff", Static).update(Text(""))
            self.load_views(config)

    def _show_diff(self) -> None:
        view, config = self.view, self.config
        box = self.query_one("#config-diff", Static)
        if view is None or config is None:
            box.update(Text(""))
            return
        text = Text()
        text.append(
            f"{visible(view.name, 40)} {visible(config.path, 80)}: {view.state}\n", style="bold"
        )
        for problem in (
            view.desired_error,
            view.current_error,
            (view.rolled_back or {}).get("reason"),
        ):
            if problem:
                text.append(visible(problem, 400) + "\n", style="yellow")
        diffs = view.diffs(config.path)
        if not diffs and not view.current_error:
            text.append("the device has the desired file\n", style="dim")
        for title, diff in diffs:
            text.append(f"── {title}\n", style="bold")
            for line in diff.splitlines():
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
                text.append(visible(line, 2000) + "\n", style=style)
        box.update(text)

    def _config_cells(self, key: str) -> list[Cell]:
        config, number = self.configs[key]
        return [
            cell(config.name),
            cell(f"{number}" if number else "-"),
            cell(config.path),
            cell(config.restart or "-"),
        ]

    def _view_cells(self, v: DeviceView) -> list[Cell]:
        why = v.current_error or v.desired_error or ""
        return [
            cell(visible(v.name, 40)),
            cell(v.state, STATE_STYLE.get(v.state, "")),
            cell(f"v{v.pushed_number}" if v.pushed_number else "-"),
            cell(visible(why, 200)),
        ]

    def operation_updated(self, event: OperationEvent) -> None:
        if event.operation.kind == KIND and event.event == "finished":
            self.load()

    # ---- actions ----------------------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()

    def action_push(self) -> None:
        view = self.view
        if view is None:
            self.app.notify("No device to push to", severity="warning", markup=False)
            return
        self._plan("push", [view.serial])

    def action_push_all(self) -> None:
        self._plan("push", list(self.views))

    def action_rollback(self) -> None:
        view = self.view
        if view is None:
            self.app.notify("No device to roll back", severity="warning", markup=False)
            return
        self._plan("rollback", [view.serial])

    @work(thread=True, group="config-plan", exit_on_error=False, description="planning a push")
    def _plan(self, action: str, serials: list[str]) -> None:
        config = self.config
        store = fleet_context(self.app).read_store()
        if config is None or store is None or not serials:
            return
        devices = [d for d in DeviceBook(store).all() if d.serial in set(serials)]
        try:
            if action == "push":
                planned = plan_push(store, config, ConfigBook(store).version(config.name), devices)
            else:
                planned = plan_rollback(store, config, devices, None)
        except ConfigError as e:
            fleet_context(self.app).report_error(f"Config {action}", str(e))
            return
        self.app.call_from_thread(self._ask, action, config, planned)

    def _ask(self, action: str, config: ConfigFile, planned: list[Planned]) -> None:
        verb = "Roll back" if action == "rollback" else "Push"
        body = Text(f"{verb} {visible(config.name, 40)} → {visible(config.path, 80)} on:\n")
        for p in planned[:8]:
            body.append(f"  {visible(p.hostname, 40)}  v{p.version.number}\n", style="bold")
        if len(planned) > 8:
            body.append(f"  … and {len(planned) - 8} more\n")
        body.append("Each Pi validates the file, keeps a backup, swaps it in and restarts.")
        dialog = ConfirmDialog(f"{verb} {visible(config.name, 40)}?", body, verb)

        def answered(ok: bool | None) -> None:
            if ok:
                targets = [DeviceTarget(p.serial, p.hostname) for p in planned]
                fleet_context(self.app).start_operation(
                    KIND, targets, push_params(config, planned, action)
                )

        self.app.push_screen(dialog, answered)


def _open_configs(app: App[Any], arg: str) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(ConfigScreen(arg.strip()))


register_command(
    CommandSpec(
        "config",
        ("configs", "cfg"),
        "Config files",
        "config files per device: desired, pushed, on the device (drift); push, rollback",
        _open_configs,
        argument="[NAME]",
    )
)
