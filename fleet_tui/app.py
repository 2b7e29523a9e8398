"""The App shell: global keys, the pipeline's worker, the UI's store access, one error outlet.

Screens live in `screens/` and reach this class only through `screens.context.FleetContext`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from concurrent.futures import CancelledError, Future
from typing import Any, ClassVar, TypeVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.worker import NoActiveWorker, Worker, WorkerState, get_current_worker

from fleet_tui.assets import asset
from fleet_tui.backend import (
    FAULT_USAGE,
    LAB_TIMEOUT,
    Backend,
    BackendNotRunning,
    FaultRequest,
    Selected,
    parse_fault_command,
)
from fleet_tui.core.fleet.runtime import FleetConfig
from fleet_tui.core.models import DeviceState
from fleet_tui.core.net.ssh import ConnectOptions
from fleet_tui.core.sim.faults import KINDS, FaultError
from fleet_tui.core.store.database import Store
from fleet_tui.core.text import visible
from fleet_tui.screens import registry
from fleet_tui.screens.command_line import CommandPrompt
from fleet_tui.screens.commands import FleetCommands
from fleet_tui.screens.context import UiOptions
from fleet_tui.screens.device import DeviceScreen
from fleet_tui.screens.device_ref import DeviceRef
from fleet_tui.screens.fleet import FleetScreen
from fleet_tui.screens.help import show_help
from fleet_tui.screens.messages import BackendFailed, DeviceUpdated
from fleet_tui.stores import UiStores

T = TypeVar("T")
STOP_TIMEOUT = 10.0
FAULT_LINES = 8  # Pis listed in a `:fault` notification (`all` on a big demo: the rest counted)


class LabFaults(Message):
    """A `:fault` request is done: the status rows of the simulated Pis it touched."""

    def __init__(self, request: FaultRequest, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.request = request
        self.rows = rows


class FleetApp(App[None]):
    TITLE = "fleet-tui"
    CSS_PATH = [asset(n) for n in ("app.tcss", "dialogs.tcss", "device.tcss")]
    COMMANDS = App.COMMANDS | {FleetCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="stop the pipeline and leave"),
        Binding(
            "question_mark",
            "help",
            "Help",
            id="app.help",
            tooltip="the keys of this screen",
            key_display="?",
        ),
        Binding(
            "colon",
            "command",
            "Cmd",
            id="app.command",
            tooltip="command mode: :fleet :device :help …",
            key_display=":",
        ),
        Binding(
            "ctrl+p",
            "command_palette",
            "Palette",
            id="app.palette",
            tooltip="command palette",
            show=False,
            priority=True,
        ),
    ]

    def __init__(
        self,
        config: FleetConfig,
        options: UiOptions | None = None,
        *,
        start_backend: bool = True,
        keymap: dict[str, str] | None = None,
        problems: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.options = options or UiOptions()
        self.sub_title = "demo: simulated fleet" if config.demo_devices else str(config.db_path)
        if self.options.low_bandwidth:
            self.sub_title += " · low-bandwidth"
        if not self.options.animate or self.options.low_bandwidth:
            self.animation_level = "none"
        self._keymap_wanted = keymap or {}
        self._problems = list(problems or [])
        self._states: dict[str, DeviceState] = {}
        self.backend = Backend(config, self._publish)
        self._start_backend = start_backend
        self.stores = UiStores(
            config.db_path, self.options.readonly, self._backend_store, pipeline=start_backend
        )

    # ---- lifecycle --------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        return FleetScreen()

    def on_mount(self) -> None:
        self._quit_on_signals()
        self._problems += registry.load_all()
        if self._keymap_wanted:
            self.set_keymap(self._keymap_wanted)
        for problem in self._problems:
            self.report_error("Config", problem)
        if self._start_backend:
            self.run_worker(
                self.backend.run,
                thread=True,
                exclusive=True,
                group="backend",
                exit_on_error=False,
                description="fleet pipeline",
            )

    @property
    def running(self) -> Any:
        return self.backend.running

    @property
    def backend_stopped(self) -> bool:
        return self.backend.stopped

    def stop_backend(self) -> None:
        self.backend.stop()

    def _quit_on_signals(self) -> None:
        # A kill (SIGTERM) or a closed terminal (SIGHUP, a dropped SSH session) quits like `q`,
        # so the simulated lab and every connection go too.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.call_later, self.action_quit)

    async def shutdown_backend(self) -> None:
        self.backend.stop()
        # Wait off the UI thread until the lab and every connection are gone.
        await asyncio.get_running_loop().run_in_executor(None, self.backend.wait, STOP_TIMEOUT)
        self.stores.close()

    async def action_quit(self) -> None:
        await self.shutdown_backend()
        self.exit()

    async def on_unmount(self) -> None:
        # However the app ends (q, ctrl+c, an error, a test), the lab and connections go too.
        await self.shutdown_backend()

    # ---- live updates -----------------------------------------------------------------
    def _publish(self, state: DeviceState) -> None:
        self.post_message(DeviceUpdated(state))  # thread-safe

    def on_device_updated(self, message: DeviceUpdated) -> None:
        self._states[message.state.key] = message.state
        for screen in self.screen_stack:
            handler = getattr(screen, "device_updated", None)
            if handler is not None:
                handler(message.state)

    # ---- FleetContext -----------------------------------------------------------------
    def live_state(self, key: str) -> DeviceState | None:
        return self._states.get(key)

    def live_states(self) -> dict[str, DeviceState]:
        return dict(self._states)

    def _backend_store(self) -> Store | None:
        running = self.backend.running
        return running.service.store if running is not None else None

    def read_store(self) -> Store | None:
        return self.stores.read()

    def write_store(self) -> Store:
        return self.stores.write()

    def call_agent(
        self, key: str, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0
    ) -> object:
        return self.backend.call(key, method, params, timeout)

    def report_error(self, title: str, message: str) -> None:
        self.post_message(BackendFailed(message, title))  # post_message is thread-safe

    @property
    def ssh_options(self) -> ConnectOptions:
        return self.config.options  # the demo lab swaps in its own only inside the pipeline

    def run_on_pipeline(self, make: Callable[[], Coroutine[Any, Any, T]], /) -> T:
        try:
            worker: Worker[Any] | None = get_current_worker()
        except NoActiveWorker:
            worker = None
        return self.backend.run_coroutine(make, lambda: worker is not None and worker.is_cancelled)

    # ---- errors: one place ------------------------------------------------------------
    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.report_error(
                "Background error", f"{event.worker.description}: {error or type(error).__name__}"
            )

    def on_backend_failed(self, message: BackendFailed) -> None:
        self.notify(
            visible(message.reason, 1000),
            title=visible(message.title, 80),
            severity="error",
            markup=False,
            timeout=10,
        )

    # ---- global actions ---------------------------------------------------------------
    def action_help(self) -> None:
        show_help(self)

    def action_command(self) -> None:
        words = registry.words()
        fleet = self.screen_stack[0] if self.screen_stack else None
        words += [f"{spec.name} {arg}" for spec, arg, _ in registry.suggestions(self)]
        if isinstance(fleet, FleetScreen) and fleet.model is not None:
            words += [f"device {r.hostname}" for r in list(fleet.model.rows.values())[:2000]]
        self.push_screen(CommandPrompt(words, blink=self.options.animate), self._run_command)

    def _run_command(self, line: str | None) -> None:
        if not line:
            return
        try:
            registry.run_line(self, line)
        except registry.CommandError as e:
            self.notify(str(e), title="Command", severity="error", markup=False)

    # ---- `:fault` (demo only) ---------------------------------------------------------
    @property
    def is_demo(self) -> bool:
        return bool(self.config.demo_devices)

    def fault(self, arg: str) -> None:
        """`:fault SPEC…` / `:fault clear …` / `:fault`: parse here, apply in a worker."""
        if not self.is_demo:
            raise registry.CommandError(
                ":fault is demo-only: it injects faults into the simulated Pis of fleet-tui demo"
            )
        try:
            request = parse_fault_command(arg)
        except FaultError as e:
            raise registry.CommandError(f":fault: {e}") from None
        selected = self.selected_device() if request.wants_selection else None
        if request.wants_selection and selected is None:
            raise registry.CommandError(
                ":fault: no device selected; name one (HOST:KIND, e.g. 1:overheat, all:overheat)"
            )
        try:  # started here, so that requests typed quickly apply in the order typed
            future = self.backend.lab_faults(request, selected)
        except (FaultError, BackendNotRunning) as e:
            raise registry.CommandError(f":fault: {e}") from None
        self._await_faults(request, future)

    def selected_device(self) -> Selected | None:
        """The open device screen's device, else the fleet table's cursor row."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, DeviceScreen):
                return Selected(screen.endpoint, screen.ref.hostname)
            if isinstance(screen, FleetScreen):
                key, model = screen.table.cursor_key, screen.model
                row = model.rows.get(key) if key is not None and model is not None else None
                if row is None:
                    return None
                ref = DeviceRef.of(row)
                return Selected(ref.endpoint, ref.hostname)
        return None

    @work(thread=True, group="lab-faults", exit_on_error=False, description="demo fault")
    def _await_faults(self, request: FaultRequest, future: Future[list[dict[str, Any]]]) -> None:
        """The lab works on the backend's loop; this thread only waits for it."""
        try:
            rows = future.result(LAB_TIMEOUT)
        except CancelledError:  # the pipeline stopped (the app is quitting)
            return
        except TimeoutError:  # left to finish: stopping half-way would leave a Pi half-faulted
            self.report_error("Fault", f"the simulated lab is still busy after {LAB_TIMEOUT:g} s")
            return
        except FaultError as e:
            self.report_error("Fault", str(e))
            return
        self.post_message(LabFaults(request, rows))

    def on_lab_faults(self, message: LabFaults) -> None:
        rows = message.rows
        lines = [
            f"{visible(str(r['hostname']), 64)}: {', '.join(map(str, r['faults'])) or 'no faults'}"
            for r in rows[:FAULT_LINES]
        ]
        if len(rows) > FAULT_LINES:
            lines.append(f"… and {len(rows) - FAULT_LINES} more")
        if message.request.empty:
            title = "Demo faults now"
            lines = lines or [f"none · :fault {FAULT_USAGE}"]
        else:
            title = "Demo faults cleared" if message.request.clear else "Demo fault applied"
        self.notify("\n".join(lines), title=title, markup=False)


def _quit(app: App[Any], arg: str) -> None:
    app.call_later(app.run_action, "quit")


def _fault(app: App[Any], arg: str) -> None:
    if not isinstance(app, FleetApp):
        raise registry.CommandError(":fault needs the fleet app")
    app.fault(arg)


def _fault_suggestions(app: App[Any]) -> list[tuple[str, str]]:
    if not isinstance(app, FleetApp) or not app.is_demo:
        return []
    out = [
        (f"{kind.name}={kind.example}" if kind.example else kind.name, f"selected Pi: {kind.help}")
        for kind in KINDS.values()
    ]
    out += [
        ("ssh-up", "selected Pi: clears ssh-down"),
        ("clear", "selected Pi: every fault off"),
        ("clear all", "every simulated Pi: every fault off"),
    ]
    return out


registry.register_command(
    registry.CommandSpec(
        "quit",
        ("q", "q!", "exit"),
        "Quit",
        "stop the pipeline and leave",
        _quit,
        screen=False,
    )
)


registry.register_command(
    registry.CommandSpec(
        "fault",
        ("faults",),
        "Demo fault",
        "demo only: inject a simulator fault into the selected Pi (or HOST, its number, all);"
        " clear turns faults off; no argument lists them",
        _fault,
        argument="[HOST:]KIND[=VALUE]|clear",
        screen=False,
        suggest=_fault_suggestions,
    )
)
