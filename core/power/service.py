"""Power control of devices: the steps of the power operations, their interlocks, read-back.

    service = PowerService(store, caller, policy, who="ana@laptop")
    refusal = await service.plan_refusal("power_on", serials)     # budget / batch interlocks
    runner = OperationRunner(store, caller, who=..., power=service)
    runner.start("power_on", targets, {"stagger_s": 2})

- power on: every switchable outlet of the device on, one at a time across the whole
  operation, `stagger_s` apart (the runner runs power-on steps one after the other).
- power off: a graceful shutdown over SSH, a bounded wait until the device stops answering,
  then its outlets off; `hard` cuts at once. A device that still answers keeps its power.
- power cycle: the escalation ladder. Rung 1: reboot over SSH and wait (bounded) for a new
  boot id. Rung 2, when that fails: outlet off, `cycle_off_s`, on, and wait again. Every rung
  is an event (`power_cycle_step`) with its outcome.
Before any outlet is cut the interlocks are checked again (core/power/interlocks.py). Every
switch is an event (`outlet_on` / `outlet_off`) naming the outlet; a community never is.
What is learned of an outlet is kept on its row (`state`, `state_at`): every read (`power
status`, the read-back after an interrupted operation), every switch (a failed one leaves the
state `unknown`: it may or may not have changed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.kinds import DeviceCaller
from fleet_tui.core.ops.model import OperationRecord
from fleet_tui.core.ops.runner import OperationRunner
from fleet_tui.core.power.budget import budget_refusal
from fleet_tui.core.power.drivers import (
    OutletDriver,
    OutletReading,
    OutletState,
    PowerError,
)
from fleet_tui.core.power.interlocks import (
    OUTLET_OFF_EVENT,
    InterlockRefused,
    Refusal,
    batch_refusal,
    cut_refusal,
    rack_members,
)
from fleet_tui.core.power.outlets import Outlet, OutletBook
from fleet_tui.core.power.policy import PowerPolicy
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.text import visible

log = logging.getLogger("fleet_tui.power")

POWER_KINDS = ("power_on", "power_off", "power_cycle")
CUTS = ("power_off", "power_cycle")
PROBE_TIMEOUT_S = 8.0  # one "does it answer" question (a hung sshd never does)
REQUEST_TIMEOUT_S = 15.0  # the shutdown / reboot request itself
POLL_S = 0.5
STEP_EVENT = "power_cycle_step"
READBACK_EVENT = "power_readback"


def _switchable(outlets: Sequence[Outlet]) -> list[Outlet]:
    return [o for o in outlets if o.kind != "ssh"]


class PowerService:
    def __init__(
        self,
        store: Store,
        caller: DeviceCaller,
        policy: PowerPolicy | None = None,
        *,
        who: str = "",
        driver: OutletDriver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.caller = caller
        self.policy = policy or PowerPolicy()
        self.who = who
        self.driver = driver or OutletDriver(self.policy, caller)
        self.outlets = OutletBook(store)
        self.events = EventLog(store)
        self._clock = clock
        self._pace = asyncio.Lock()
        self._last_on: float | None = None

    def close(self) -> None:
        self.driver.close()

    # ---- before an operation starts ----------------------------------------------------------
    async def plan_refusal(
        self, kind: str, serials: Sequence[str], *, confirmed: bool = False
    ) -> Refusal | None:
        """Interlocks on the whole set: the batch size and whole racks for cuts, the rack
        budget for a power-on (reading the outlets of the rack's other devices live)."""
        if kind in CUTS:
            return batch_refusal(self.store, serials, self.policy, confirmed)
        if kind == "power_on":
            return budget_refusal(self.store, serials, await self._known_off(serials))
        return None

    async def start(
        self,
        runner: OperationRunner,
        kind: str,
        targets: Sequence[DeviceTarget],
        params: dict[str, Any] | None = None,
        *,
        confirmed: bool = False,
    ) -> OperationRecord:
        """Start a power operation on `runner` once the whole set passes the interlocks
        (InterlockRefused names the rule); the TUI's way in (the CLI checks first, then asks)."""
        refusal = await self.plan_refusal(kind, [t.serial for t in targets], confirmed=confirmed)
        if refusal is not None:
            raise InterlockRefused(refusal)
        return runner.start(kind, targets, params)

    async def _known_off(self, serials: Sequence[str]) -> set[str]:
        chosen = set(serials)
        others: set[str] = set()
        for members in rack_members(self.store).values():
            if members & chosen:
                others |= members - chosen
        off = set()
        for serial in sorted(others):
            outlets = _switchable(self.outlets.of_device(serial))
            if outlets:
                readings = await self.read(outlets)
                if all(r.state is OutletState.OFF for r in readings):
                    off.add(serial)
        return off

    # ---- PowerPort: what the runner calls ----------------------------------------------------
    def refusal(self, kind: str, target: DeviceTarget, params: dict[str, Any]) -> str | None:
        outlets = _switchable(self.outlets.of_device(target.serial))
        if kind == "power_on" and not outlets:
            return (
                f"no outlet powers {target.hostname} "
                "(fleet-tui outlet link NAME DEVICE) (interlock no-outlet)"
            )
        if kind in CUTS and (outlets or kind == "power_off"):
            found = cut_refusal(
                self.store,
                target.serial,
                target.hostname,
                self.policy,
                count_cuts=kind == "power_cycle",
            )
            return str(found) if found else None
        return None

    async def step(self, kind: str, target: DeviceTarget, params: dict[str, Any]) -> str:
        if kind == "power_on":
            return await self.power_on(target, params)
        if kind == "power_off":
            return await self.power_off(target, params)
        if kind == "power_cycle":
            return await self.power_cycle(target, params)
        raise PowerError(f"unknown power step {kind!r}")

    # ---- power on --------------------------------------------------------------------------
    async def power_on(self, target: DeviceTarget, params: dict[str, Any]) -> str:
        outlets = _switchable(self.outlets.of_device(target.serial))
        if not outlets:
            raise PowerError(f"no outlet powers {target.hostname}")
        stagger = float(params.get("stagger_s", self.policy.stagger_s))
        done = []
        for outlet in outlets:
            reading = await self._paced_on(target, outlet, stagger)
            done.append(f"{outlet.name} on" + (f" ({reading.detail})" if reading.detail else ""))
        return "; ".join(done)

    async def _paced_on(
        self, target: DeviceTarget, outlet: Outlet, stagger: float
    ) -> OutletReading:
        async with self._pace:
            if self._last_on is not None:
                wait = self._last_on + stagger - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                return await self._switch(target, outlet, True, "power on")
            finally:
                self._last_on = self._clock()

    # ---- power off -------------------------------------------------------------------------
    async def power_off(self, target: DeviceTarget, params: dict[str, Any]) -> str:
        outlets = _switchable(self.outlets.of_device(target.serial))
        said = []
        if params.get("hard"):
            said.append("hard: no shutdown first")
        else:
            said.append(await self._shutdown(target))
        if not outlets:
            return "; ".join([*said, "no outlet to cut"])
        for outlet in outlets:
            await self._cut(target, outlet, "power off")
            said.append(f"{outlet.name} off")
        return "; ".join(said)

    async def _shutdown(self, target: DeviceTarget) -> str:
        """Ask for a graceful shutdown and wait until the device stops answering."""
        try:
            await self._call(target.serial, "shutdown", REQUEST_TIMEOUT_S)
        except Exception as e:
            if await self._answers(target.serial):
                raise PowerError(
                    f"shutdown over SSH failed ({visible(str(e), 200)}) and it still answers; "
                    "power left on (--hard cuts it without a shutdown)"
                ) from None
            return "no SSH answer: cut without a shutdown"
        waited = await self._until(lambda: self._gone(target.serial), self.policy.off_wait_s)
        if waited is None:
            raise PowerError(
                f"still answering {self.policy.off_wait_s:g} s after the shutdown; power left on "
                "(--hard cuts it without waiting)"
            )
        return f"shut down over SSH (stopped answering after {waited:.0f} s)"

    # ---- power cycle: the ladder -----------------------------------------------------------
    async def power_cycle(self, target: DeviceTarget, params: dict[str, Any]) -> str:
        deadline = float(params.get("deadline_s", self.policy.cycle_deadline_s))
        serial = target.serial
        before = await self._boot_id(serial)
        if before is None:
            self._rung(target, 1, "skipped: it does not answer over SSH")
        else:
            try:
                await self._call(serial, "reboot", REQUEST_TIMEOUT_S)
            except Exception as e:
                self._rung(target, 1, f"SSH reboot failed: {visible(str(e), 200)}")
            else:
                self._rung(target, 1, "SSH reboot requested")
                back = await self._until(lambda: self._new_boot(serial, before), deadline)
                if back is not None:
                    self._rung(target, 1, f"back after {back:.0f} s with a new boot id: done")
                    return f"rebooted over SSH; back after {back:.0f} s (new boot id)"
                self._rung(target, 1, f"not back within {deadline:g} s")
        outlets = _switchable(self.outlets.of_device(serial))
        if not outlets:
            self._rung(target, 2, "no outlet to cycle: gave up")
            raise PowerError("not back over SSH and no outlet powers it; needs a person")
        for outlet in outlets:
            await self._cut(target, outlet, "power cycle rung 2", count_cuts=True)
        self._rung(target, 2, f"outlet off: {', '.join(o.name for o in outlets)}")
        await asyncio.sleep(self.policy.cycle_off_s)
        for outlet in outlets:
            await self._switch(target, outlet, True, "power cycle rung 2")
        self._rung(target, 2, "outlet on again")
        back = await self._until(lambda: self._new_boot(serial, before), deadline)
        if back is None:
            self._rung(target, 2, f"not back within {deadline:g} s after the outlet cycle")
            raise PowerError(f"outlet cycled; not back within {deadline:g} s")
        self._rung(target, 2, f"back after {back:.0f} s with a new boot id: done")
        return f"outlet cycled (SSH reboot did not help); back after {back:.0f} s"

    def _rung(self, target: DeviceTarget, rung: int, outcome: str) -> None:
        text = f"rung {rung} ({'SSH reboot' if rung == 1 else 'outlet cycle'}): {outcome}"
        log.info("power cycle %s: %s", target.hostname, text)
        self.events.record(target.serial, STEP_EVENT, text)

    # ---- outlets ---------------------------------------------------------------------------
    async def _cut(
        self, target: DeviceTarget, outlet: Outlet, why: str, count_cuts: bool = False
    ) -> OutletReading:
        refusal = cut_refusal(
            self.store, target.serial, target.hostname, self.policy, count_cuts=count_cuts
        )
        if refusal is not None:
            self.events.record(target.serial, "power_refused", str(refusal))
            raise InterlockRefused(refusal)
        return await self._switch(target, outlet, False, why)

    async def _switch(
        self, target: DeviceTarget, outlet: Outlet, on: bool, why: str
    ) -> OutletReading:
        kind = "outlet_on" if on else OUTLET_OFF_EVENT
        word = "on" if on else "off"
        try:
            reading = await self.driver.switch(outlet, on)
        except PowerError as e:
            self._learned(outlet.name, OutletState.UNKNOWN)
            self.events.record(
                target.serial, kind + "_failed", f"{why}: outlet {outlet.name} {word}: {e}"
            )
            raise
        self._learned(outlet.name, OutletState.ON if on else OutletState.OFF)
        log.info("%s: outlet %s %s (%s) by %s", why, outlet.name, word, outlet.where, self.who)
        self.events.record(
            target.serial,
            kind,
            f"{why}: outlet {outlet.name} ({outlet.where}) {word}, by {self.who or 'fleet-tui'}",
        )
        return reading

    async def read(self, outlets: Sequence[Outlet]) -> list[OutletReading]:
        """Read the outlets live; each state is kept on the outlet's row."""
        readings = list(await asyncio.gather(*(self.driver.read(o) for o in outlets)))
        for outlet, reading in zip(outlets, readings, strict=True):
            self._learned(outlet.name, reading.state)
        return readings

    def _learned(self, name: str, state: OutletState) -> None:
        self.outlets.record_state(name, state.value, time.time())

    async def read_back(self, operations: Sequence[dict[str, Any]]) -> list[OutletReading]:
        """Read every outlet of interrupted power operations' devices and record each state
        (`outlet_state` events), once per operation (`power_readback`)."""
        readings: list[OutletReading] = []
        for op in operations:
            if op.get("kind") not in POWER_KINDS:
                continue
            marker = f"operation {op['id']}"
            done = self.store.query(
                "SELECT 1 FROM events WHERE kind = ? AND message LIKE ? LIMIT 1",
                (READBACK_EVENT, f"%{marker}%"),
            )
            if done:
                continue
            steps = self.store.rows("operation_steps", "operation_id = ?", (op["id"],))
            for step in steps:
                serial = str(step["serial"])
                for outlet, reading in await self._read_device(serial):
                    readings.append(reading)
                    self.events.record(
                        serial,
                        "outlet_state",
                        f"outlet {outlet.name} reads {reading.state.value}"
                        + (f" ({reading.error})" if reading.error else "")
                        + f" after the interrupted {marker}",
                    )
            self.events.record(None, READBACK_EVENT, f"outlets read back after {marker}")
        return readings

    async def _read_device(self, serial: str) -> list[tuple[Outlet, OutletReading]]:
        outlets = _switchable(self.outlets.of_device(serial))
        return list(zip(outlets, await self.read(outlets), strict=True))

    # ---- asking the device -----------------------------------------------------------------
    async def _call(self, serial: str, method: str, timeout: float) -> object:  # noqa: ASYNC109
        # a caller that can skip its reconnect back-off does so: we are waiting for a boot
        call: Callable[..., Awaitable[object]] = getattr(self.caller, "call_now", self.caller.call)
        return await asyncio.wait_for(call(serial, method, {}, timeout=timeout), timeout + 1.0)

    async def _boot_id(self, serial: str) -> float | None:
        try:
            facts = await self._call(serial, "facts", PROBE_TIMEOUT_S)
        except Exception:
            return None
        value = facts.get("boot_time") if isinstance(facts, dict) else None
        return float(value) if isinstance(value, int | float) else None

    async def _answers(self, serial: str) -> bool:
        return await self._boot_id(serial) is not None

    async def _gone(self, serial: str) -> bool:
        return not await self._answers(serial)

    async def _new_boot(self, serial: str, before: float | None) -> bool:
        now = await self._boot_id(serial)
        return now is not None and now != before

    async def _until(self, check: Callable[[], Awaitable[bool]], seconds: float) -> float | None:
        """Seconds until `check()` was true, or None after `seconds`."""
        start = self._clock()
        while True:
            if await check():
                return self._clock() - start
            if self._clock() - start >= seconds:
                return None
            await asyncio.sleep(POLL_S)
