"""The fleet pipeline in its own thread and event loop, and the way the UI talks to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from fleet_tui.core.fleet.runtime import FleetConfig, RunningFleet, run_fleet
from fleet_tui.core.models import DeviceState

T = TypeVar("T")
CALL_GRACE = 5.0  # on top of an agent call's own timeout


class BackendNotRunning(Exception):
    pass


class Backend:
    """Runs `run_fleet` on a private loop (inside a Textual thread worker) until stopped."""

    def __init__(self, config: FleetConfig, publish: Callable[[DeviceState], None]) -> None:
        self.config = config
        self._publish = publish
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
        await run_fleet(self.config, self._publish, self._stop, on_ready=self._ready)

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

    def call(self, key: str, method: str, params: dict[str, Any] | None, timeout: float) -> object:
        """Run an agent method on the backend's loop; blocking (call from a worker thread)."""
        running = self.running
        if running is None:
            raise BackendNotRunning("no live connection to the fleet (the pipeline is not running)")
        future = self.submit(running.service.call(key, method, params, timeout=timeout))
        return future.result(timeout + CALL_GRACE)

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
