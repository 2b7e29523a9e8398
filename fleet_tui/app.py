"""The App shell: header, footer, command palette, help, and the fleet pipeline's worker."""

from __future__ import annotations

import asyncio
import threading

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from assets import asset
from core.models import DeviceState
from core.runtime import FleetConfig, RunningFleet, run_fleet
from screens.fleet import FleetScreen
from screens.messages import BackendFailed, DeviceUpdated

STOP_TIMEOUT = 10.0


class FleetApp(App[None]):
    TITLE = "fleet-tui"
    CSS_PATH = str(asset("app.tcss"))
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "toggle_help", "Help", id="help", key_display="?"),
    ]

    def __init__(self, config: FleetConfig) -> None:
        super().__init__()
        self.config = config
        self.sub_title = "demo: simulated fleet" if config.demo_devices else str(config.db_path)
        self._backend_loop: asyncio.AbstractEventLoop | None = None
        self._backend_stop: asyncio.Event | None = None
        self._backend_done = threading.Event()
        self._stop_requested = threading.Event()
        self._backend_started = False
        self.running: RunningFleet | None = None  # set by the backend once it is up

    def on_mount(self) -> None:
        self.push_screen(FleetScreen())
        self._backend_started = True
        self.run_backend()

    @work(thread=True, exclusive=True, group="backend", exit_on_error=False, description="fleet pipeline")
    def run_backend(self) -> None:
        # The pipeline (SSH, zeroconf, SQLite, the simulated lab) gets its own event loop in
        # this thread, so nothing it does can stall the UI.
        try:
            asyncio.run(self._backend_main())
        finally:
            self._backend_done.set()

    async def _backend_main(self) -> None:
        self._backend_stop = asyncio.Event()
        self._backend_loop = asyncio.get_running_loop()
        if self._stop_requested.is_set():  # asked to stop before we got here
            return
        await run_fleet(self.config, self._publish, self._backend_stop, on_ready=self._backend_ready)

    def _backend_ready(self, running: RunningFleet) -> None:
        self.running = running

    def _publish(self, state: DeviceState) -> None:
        self.post_message(DeviceUpdated(state))

    def on_device_updated(self, message: DeviceUpdated) -> None:
        screen = self._fleet_screen()
        if screen is not None:
            screen.device_updated(message.state)

    def _fleet_screen(self) -> FleetScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                return screen
        return None

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # Background failures surface in one place, as a notification — never a traceback.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.post_message(BackendFailed(f"{event.worker.description}: {event.worker.error}"))

    def on_backend_failed(self, message: BackendFailed) -> None:
        self.notify(message.reason, title="Background error", severity="error", markup=False, timeout=10)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def action_quit(self) -> None:
        await self.shutdown_backend()
        self.exit()

    async def on_unmount(self) -> None:
        # However the app ends (q, ctrl+c, an error, a test), the lab and connections go too.
        await self.shutdown_backend()

    async def shutdown_backend(self) -> None:
        self.stop_backend()
        if not self._backend_started:
            return
        # Wait off the UI thread until the lab and every connection are gone.
        await asyncio.get_running_loop().run_in_executor(None, self._backend_done.wait, STOP_TIMEOUT)

    @property
    def backend_stopped(self) -> bool:
        return self._backend_done.is_set()

    def stop_backend(self) -> None:
        self._stop_requested.set()
        loop, stop = self._backend_loop, self._backend_stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
