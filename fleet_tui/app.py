"""The App shell: global keys, the pipeline's worker, the UI's store access, one error outlet.

Screens live in `screens/` and reach this class only through `screens.common.context.FleetContext`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import CancelledError, Future
from typing import Any, ClassVar, TypeVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import NoActiveWorker, Worker, WorkerState, get_current_worker

from fleet_tui.assets import asset
from fleet_tui.backend import Backend, BackendNotRunning
from fleet_tui.core.deploy.rollout import DeployEvent, Rollout
from fleet_tui.core.deploy.steps import DeployStatus
from fleet_tui.core.fleet.runtime import FleetConfig
from fleet_tui.core.models import DeviceState
from fleet_tui.core.net.ssh import ConnectOptions
from fleet_tui.core.ops.catalogue import kind_of
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.kinds import DeviceCaller
from fleet_tui.core.store.database import Store
from fleet_tui.core.text import visible
from fleet_tui.screens.command_mode.command_line import CommandPrompt
from fleet_tui.screens.command_mode.commands import FleetCommands
from fleet_tui.screens.command_mode.help import show_help
from fleet_tui.screens.common import registry
from fleet_tui.screens.common.context import ReadOnlyError, UiOptions
from fleet_tui.screens.common.dialogs import ChoiceDialog
from fleet_tui.screens.common.messages import BackendFailed, DeviceUpdated, OperationUpdated
from fleet_tui.screens.fleet.fleet import FleetScreen
from fleet_tui.screens.operations.leaving import CANCEL, QUIT, Unfinished, question, unfinished
from fleet_tui.screens.operations.operation_news import OperationNews
from fleet_tui.stores import UiStores

T = TypeVar("T")
STOP_TIMEOUT = 10.0
CANCEL_WAIT = 20.0  # "cancel them, then quit": how long the steps get to stop
OPERATION_START_TIMEOUT = 30.0  # journalling an operation before it runs


class FleetApp(App[None]):
    TITLE = "fleet-tui"
    CSS_PATH = [asset(n) for n in ("app.tcss", "dialogs.tcss", "device.tcss", "thermal.tcss")]
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
        sub_title: str | None = None,
    ) -> None:
        """`sub_title`: what this fleet is (default: its database file); `fleet-tui demo`
        says it is the simulated one."""
        super().__init__()
        self.config = config
        self.options = options or UiOptions()
        self.sub_title = sub_title or str(config.db_path)
        if self.options.low_bandwidth:
            self.sub_title += " · low-bandwidth"
        if not self.options.animate or self.options.low_bandwidth:
            self.animation_level = "none"
        self._keymap_wanted = keymap or {}
        self._problems = list(problems or [])
        self._states: dict[str, DeviceState] = {}
        self.news = OperationNews()
        self._old_handlers: dict[int, Any] = {}
        self.backend = Backend(config, self._publish, self._publish_operation)
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
        # What exists once the first frame is up (modules, models, the screen tree) lives as
        # long as the app: frozen, the collector stops walking it on every full collection,
        # which otherwise stalls a screen's load (~100 ms per :thermal load of 1,000 Pis).
        self.call_after_refresh(gc.freeze)
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
        """A kill (SIGTERM) quits like `q`. A closed terminal (SIGHUP: a dropped SSH session,
        a closed tmux) can no longer be drawn on or restored: Textual's output thread dies at
        the first write to it, and every later write, the terminal restore at exit included,
        waits for it for ever, the event loop with it. So a hangup stops the pipeline (a lab,
        every connection) from the signal handler itself and leaves; a SIGTERM whose quit
        does not finish in time (stuck the same way) ends like that too. Plain `signal`
        handlers, not the loop's: they run even while the loop is stuck."""
        loop = asyncio.get_running_loop()

        def quit_softly(signum: int, frame: object) -> None:
            loop.call_soon_threadsafe(self.call_later, self.quit_now)  # never asks
            watchdog = threading.Timer(STOP_TIMEOUT + 10, self._leave_now, (128 + signum,))
            watchdog.daemon = True
            watchdog.start()

        def hung_up(signum: int, frame: object) -> None:
            self._leave_now(128 + signum)

        with contextlib.suppress(ValueError):  # not the main thread (some test runners)
            self._old_handlers = {
                signal.SIGTERM: signal.signal(signal.SIGTERM, quit_softly),
                signal.SIGHUP: signal.signal(signal.SIGHUP, hung_up),
            }

    def _restore_signals(self) -> None:
        for sig, handler in self._old_handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
        self._old_handlers = {}

    def _leave_now(self, code: int) -> None:
        """Stop the pipeline and exit at once, drawing nothing: the terminal is gone."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
        try:
            self.backend.stop()
            self.backend.wait(STOP_TIMEOUT)
        finally:
            os._exit(code)

    async def shutdown_backend(self) -> None:
        self.backend.stop()
        # Wait off the UI thread until the lab and every connection are gone.
        await asyncio.get_running_loop().run_in_executor(None, self.backend.wait, STOP_TIMEOUT)
        self.stores.close()

    async def quit_now(self) -> None:
        await self.shutdown_backend()
        self.exit()

    async def action_quit(self) -> None:
        """`q`, ctrl+q, `:quit`: ask first while this process runs operations (leaving marks
        them interrupted). A signal quits through `quit_now`, without asking."""
        running = [] if self.options.readonly else unfinished(self.news.now(), self.workers)
        if not running:
            self.call_later(self.quit_now)
            return
        if any(isinstance(s, ChoiceDialog) and s.id == "quit-question" for s in self.screen_stack):
            return  # asked already

        def answered(choice: str | None) -> None:
            if choice == QUIT:
                self.call_later(self.quit_now)
            elif choice == CANCEL:
                self._cancel_then_quit(running)

        dialog = question(running)
        dialog.id = "quit-question"
        self.push_screen(dialog, answered)

    @work(exclusive=True, group="quit", exit_on_error=False, description="cancelling, then quit")
    async def _cancel_then_quit(self, running: list[Unfinished]) -> None:
        """Cancel through the runner (a deployment: abort it), wait a bounded time for the
        steps to stop, then quit whatever is left."""
        self.notify(f"Cancelling {len(running)} operation(s) before quitting…", markup=False)
        for op_id in {u.op_id for u in running if u.op_id is not None}:
            self.cancel_operation(op_id)
        if any(u.op_id is None for u in running):
            with contextlib.suppress(Exception):  # a refusal: quitting interrupts it anyway
                await asyncio.wait_for(
                    asyncio.wrap_future(self.backend.submit(self._abort_deployments())),
                    CANCEL_WAIT,
                )
        deadline = asyncio.get_running_loop().time() + CANCEL_WAIT
        while unfinished(self.news.now(), self.workers):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        await self.quit_now()

    async def _abort_deployments(self) -> int:
        """On the pipeline: abort the deployments this process runs (their worker ends)."""
        rollout = self.deployer()
        try:
            mine = [
                d
                for d in rollout.book.all()
                if d.status is DeployStatus.RUNNING and d.pid == os.getpid()
            ]
            for d in mine:
                rollout.request(d.id, "abort")
            return len(mine)
        finally:
            await rollout.close()

    async def on_unmount(self) -> None:
        # However the app ends (q, ctrl+c, an error, a test), the lab and connections go too.
        await self.shutdown_backend()
        self._restore_signals()

    # ---- live updates -----------------------------------------------------------------
    def _publish(self, state: DeviceState) -> None:
        self.post_message(DeviceUpdated(state))  # thread-safe

    def on_device_updated(self, message: DeviceUpdated) -> None:
        state = message.state
        if state.replaces is not None:  # a candidate is now its serial: one device, one key
            self._states.pop(state.replaces, None)
        self._states[state.key] = state
        for screen in self.screen_stack:
            handler = getattr(screen, "device_updated", None)
            if handler is not None:
                handler(message.state)

    # ---- operations -------------------------------------------------------------------
    def _publish_operation(self, event: OperationEvent) -> None:
        self.post_message(OperationUpdated(event))  # thread-safe

    def on_operation_updated(self, message: OperationUpdated) -> None:
        for notice in self.news.add(message.event):
            self.notify(
                notice.message,
                title=notice.title,
                severity=notice.severity,  # type: ignore[arg-type]
                markup=False,
                timeout=10 if notice.severity != "information" else 5,
            )
        for screen in self.screen_stack:
            handler = getattr(screen, "operation_updated", None)
            if handler is not None:
                handler(message.event)

    def operations_now(self) -> list[OperationEvent]:
        return self.news.now()

    def start_operation(
        self,
        kind: str,
        targets: list[DeviceTarget],
        params: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> None:
        failed = f"{kind_of(kind).verb}: not started"
        try:
            future = self.backend.start_operation(kind, targets, params, title=title)
        except BackendNotRunning as e:
            names = ", ".join(visible(t.hostname, 40) for t in targets[:8])
            self.report_error(failed, f"{names}{' …' if len(targets) > 8 else ''}: {e}")
            return
        self._await_backend(future, failed)

    def cancel_operation(self, op_id: str) -> None:
        try:
            future = self.backend.cancel_operation(op_id)
        except BackendNotRunning as e:
            self.report_error("Cancel", str(e))
            return
        self._await_backend(future, "Cancel")

    def resume_operation(self, op_id: str, include_unknown: bool = False) -> None:
        try:
            future = self.backend.resume_operation(op_id, include_unknown)
        except BackendNotRunning as e:
            self.report_error("Resume", str(e))
            return
        self._await_backend(future, "Resume")

    @work(thread=True, group="operations", exit_on_error=False, description="operation request")
    def _await_backend(self, future: Future[Any], title: str) -> None:
        """The request runs on the pipeline's loop; this thread only waits to report a refusal."""
        try:
            future.result(OPERATION_START_TIMEOUT)
        except CancelledError:  # the pipeline stopped (the app is quitting)
            return
        except Exception as e:
            self.report_error(title, str(e) or type(e).__name__)

    # ---- FleetContext -----------------------------------------------------------------
    # live states by device identity (core/identity.py): serial, else a provisional id
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

    def report_error(self, title: str, message: str) -> None:
        self.post_message(BackendFailed(message, title))  # post_message is thread-safe

    @property
    def ssh_options(self) -> ConnectOptions:
        return self.config.options  # the demo lab swaps in its own only inside the pipeline

    def device_caller(self) -> DeviceCaller | None:
        running = self.backend.running
        return running.service if running is not None else None

    def run_on_pipeline(self, make: Callable[[], Coroutine[Any, Any, T]], /) -> T:
        try:
            worker: Worker[Any] | None = get_current_worker()
        except NoActiveWorker:
            worker = None
        return self.backend.run_coroutine(make, lambda: worker is not None and worker.is_cancelled)

    def deployer(self, on_event: Callable[[DeployEvent], None] | None = None) -> Rollout:
        if self.options.readonly:
            raise ReadOnlyError("read-only: deployments are refused (--readonly)")
        running = self.backend.running
        if running is None:
            raise RuntimeError("no live connection to the fleet (the pipeline is not running)")
        return Rollout(
            running.service.store,
            running.service,  # agent calls by serial over the live fleet's sessions
            who=self.config.who,
            policy=self.config.operations,
            on_event=on_event,
        )

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
            rows = list(fleet.model.rows.values())[:2000]
            # what `tab` may put in the prompt: names as typed (no control characters)
            names = sorted({r.hostname for r in rows if r.hostname.isprintable()}, key=str.lower)
            words += [f"device {name}" for name in names]
        self.push_screen(CommandPrompt(words, blink=self.options.animate), self._run_command)

    def _run_command(self, line: str | None) -> None:
        if not line:
            return
        try:
            registry.run_line(self, line)
        except registry.CommandError as e:
            self.notify(str(e), title="Command", severity="error", markup=False)


def _quit(app: App[Any], arg: str) -> None:
    app.call_later(app.run_action, "quit")


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
