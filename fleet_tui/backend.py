"""The fleet pipeline in its own thread and event loop, and the way the UI talks to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from fleet_tui.core.fleet.runtime import FleetConfig, RunningFleet, run_fleet
from fleet_tui.core.models import DeviceState
from fleet_tui.core.sim.faults import (
    FaultError,
    FaultSpec,
    canonical_kind,
    is_clearing_alias,
    make_fault,
    parse_clear,
    parse_spec,
)
from fleet_tui.core.sim.lab import SimLab, SimPi

T = TypeVar("T")
CALL_GRACE = 5.0  # on top of an agent call's own timeout
WAIT_SLICE = 0.2  # run_coroutine looks this often whether its worker was cancelled
LAB_TIMEOUT = 30.0  # a fault that restarts sshd (ssh-down, host-key-change) takes a moment
FAULT_USAGE = "[HOST:]KIND[=VALUE] … | clear [HOST[:KIND] | KIND] …"


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
        self._fault_lock: asyncio.Lock | None = None  # `:fault` requests, one at a time, in order

    def run(self) -> None:
        """The thread body. SSH, zeroconf, SQLite and the simulated lab never touch the UI loop."""
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

    def call(self, key: str, method: str, params: dict[str, Any] | None, timeout: float) -> object:
        """Run an agent method on the backend's loop; blocking (call from a worker thread)."""
        running = self.running
        if running is None:
            raise BackendNotRunning("no live connection to the fleet (the pipeline is not running)")
        future = self.submit(running.service.call(key, method, params, timeout=timeout))
        return future.result(timeout + CALL_GRACE)

    def lab_faults(
        self, request: FaultRequest, selected: Selected | None
    ) -> Future[list[dict[str, Any]]]:
        """Start a `:fault` request on the demo lab's loop without blocking; requests run one
        at a time, in the order they were started. The future (wait for it in a worker) holds
        the status rows of the Pis it touched (an empty request: of every Pi with a fault)."""
        loop, running = self._loop, self.running
        if loop is None or running is None or loop.is_closed():
            raise BackendNotRunning("the simulated lab is not running (yet)")
        if running.lab is None:
            raise FaultError("faults exist only in the demo's simulated lab (fleet-tui demo)")
        return asyncio.run_coroutine_threadsafe(
            self._faults_in_order(running.lab, request, selected), loop
        )

    async def _faults_in_order(
        self, lab: SimLab, request: FaultRequest, selected: Selected | None
    ) -> list[dict[str, Any]]:
        if self._fault_lock is None:  # made on the backend's loop, the only one that uses it
            self._fault_lock = asyncio.Lock()
        async with self._fault_lock:
            return await _apply_faults(lab, request, selected)

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


# ---- `:fault`: the demo's fault specs, as `fleet-tui demo inject|clear` takes them -------------


@dataclass(frozen=True)
class Selected:
    """The device the UI has selected (cursor row or open device screen)."""

    endpoint: str | None
    hostname: str


@dataclass(frozen=True)
class FaultRequest:
    """A parsed `:fault` line; a target "" means the selected device."""

    inject: tuple[FaultSpec, ...] = ()
    clear: tuple[tuple[str, str | None], ...] = ()  # (HOST, KIND or None for every fault)

    @property
    def wants_selection(self) -> bool:
        return any(not s.target for s in self.inject) or any(not t for t, _ in self.clear)

    @property
    def empty(self) -> bool:
        return not self.inject and not self.clear


def parse_fault_command(text: str) -> FaultRequest:
    """`overheat`, `2:slow-link=250ms all:under-voltage`, `clear`, `clear pi-5-002:ssh-down`.

    The CLI's parser (`HOST:KIND[=VALUE]`, `HOST[:KIND]`) with one addition: no `HOST:` means
    the selected device. Raises FaultError with a message for the user.
    """
    words = text.split()
    if words and words[0].lower() == "clear":
        return FaultRequest(clear=tuple(_clear_target(w) for w in words[1:]) or (("", None),))
    return FaultRequest(inject=tuple(_inject_spec(w) for w in words))


def _inject_spec(word: str) -> FaultSpec:
    if ":" in word:
        return parse_spec(word)
    kind, _, value = word.partition("=")
    return FaultSpec("", make_fault(kind, value or None), is_clearing_alias(kind))


def _clear_target(word: str) -> tuple[str, str | None]:
    if ":" not in word and _is_kind(word):
        return "", canonical_kind(word)
    return parse_clear(word)


def _is_kind(word: str) -> bool:
    try:
        canonical_kind(word)
    except FaultError:
        return False
    return True


async def _apply_faults(
    lab: SimLab, request: FaultRequest, selected: Selected | None
) -> list[dict[str, Any]]:
    if request.empty:
        return [row for row in lab.status() if row["faults"]]
    chosen = _selected_pi(lab, selected) if request.wants_selection else None

    def target(name: str) -> str:
        return name or (chosen.hostname if chosen is not None else name)

    for spec in request.inject:  # every target first: a bad one changes nothing
        lab.select(target(spec.target))
    for name, _ in request.clear:
        lab.select(target(name))
    hit: dict[int, SimPi] = {}
    for spec in request.inject:
        for pi in await lab.apply(replace(spec, target=target(spec.target))):
            hit[pi.index] = pi
    for name, kind in request.clear:
        for pi in await lab.clear(target(name), kind):
            hit[pi.index] = pi
    return lab.status([hit[i] for i in sorted(hit)])


def _selected_pi(lab: SimLab, selected: Selected | None) -> SimPi:
    if selected is None:
        raise FaultError("no device selected: name one (HOST:KIND, e.g. 1:overheat)")
    for pi in lab.pis:
        if selected.endpoint is not None and pi.endpoint == selected.endpoint:
            return pi
    for pi in lab.pis:
        if pi.hostname == selected.hostname:
            return pi
    raise FaultError(f"{selected.hostname!r} is not one of this demo's simulated Pis")
