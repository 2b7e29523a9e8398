"""The fleet pipeline in its own thread and event loop, and the way the UI talks to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import CancelledError, Future
from typing import Any, TypeVar

from fleet_tui.core.fleet.runtime import FleetConfig, RunningFleet, run_fleet
from fleet_tui.core.models import DeviceState
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.model import OperationRecord
from fleet_tui.core.power.service import POWER_KINDS

T = TypeVar("T")
WAIT_SLICE = 0.2  # run_coroutine looks this often whether its worker was cancelled


class BackendNotRunning(Exception):
    pass


class Backend:
    """Runs `run_fleet` on a private loop (inside a Textual thread worker) until stopped."""

    def __init__(
        self,
        config: FleetConfig,
        publish: Callable[[DeviceState], None],
        publish_operation: Callable[[OperationEvent], None] | None = None,
    ) -> None:
        self.config = config
        self._publish = publish
        self._publish_operation = publish_operation
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._done = threading.Event()
        self._stop_requested = threading.Event()
        self.started = False
        self.running: RunningFleet | None = None  # set once the pipeline is up

    def run(self) -> None:
        """The thread body. SSH, zeroconf, SQLite and a lab (the demo's) never touch the UI loop."""
        self.started = True
        try:
            asyncio.run(self._main())
        finally:
            self._done.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop_requested.is_set():  # asked to stop before we got here
            return
        await run_fleet(
            self.config,
            self._publish,
            self._stop,
            on_ready=self._ready,
            on_operation=self._publish_operation,
        )

    def _ready(self, running: RunningFleet) -> None:
        self.running = running

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the pipeline's loop (its connections, its store); thread-safe and
        non-blocking: wait for the future in a worker, never on the UI thread."""
        loop = self._loop
        if loop is None or self.running is None or loop.is_closed():
            coro.close()
            raise BackendNotRunning("no live connection to the fleet (the pipeline is not running)")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def run_coroutine(
        self, make: Callable[[], Coroutine[Any, Any, T]], cancelled: Callable[[], bool]
    ) -> T:
        """Run `make()` on the pipeline's loop and wait for it (blocking: a worker thread's
        job); once `cancelled()` says so, cancel it. No pipeline running: run it on a private
        loop in this thread instead (what the caller did before there was one loop)."""
        try:
            future = self.submit(make())
        except BackendNotRunning:
            return asyncio.run(make())
        while True:
            try:
                return future.result(WAIT_SLICE)
            except TimeoutError:
                if cancelled():
                    future.cancel()
                    raise CancelledError from None

    # ---- operations (core/ops): started, cancelled and resumed on the pipeline's loop ---------
    def start_operation(
        self,
        kind: str,
        targets: list[DeviceTarget],
        params: dict[str, Any] | None = None,
        force: bool = False,
        title: str | None = None,
    ) -> Future[OperationRecord]:
        running = self._running()
        runner, power = running.operations, running.power

        async def start() -> OperationRecord:
            if kind in POWER_KINDS and power is not None:  # batch and budget interlocks first;
                # every cut in the TUI was confirmed by typing (the hostname or "cut N")
                return await power.start(runner, kind, targets, params, confirmed=True)
            return runner.start(kind, targets, params, force=force, title=title)

        return self.submit(start())

    def cancel_operation(self, op_id: str) -> Future[None]:
        runner = self._running().operations

        async def cancel() -> None:
            runner.cancel(op_id)

        return self.submit(cancel())

    def resume_operation(self, op_id: str, include_unknown: bool) -> Future[OperationRecord]:
        runner = self._running().operations

        async def resume() -> OperationRecord:
            return runner.resume(op_id, include_unknown=include_unknown)

        return self.submit(resume())

    def _running(self) -> RunningFleet:
        if self.running is None:
            raise BackendNotRunning("no live connection to the fleet (the pipeline is not running)")
        return self.running

    @property
    def stopped(self) -> bool:
        return self._done.is_set()

    def stop(self) -> None:
        self._stop_requested.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout) if self.started else True
