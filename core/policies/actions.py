"""What a policy does when it fires or clears, beyond its event.

- notify: the firing/clearing event itself (core/policies/engine.py wrote it);
- fan_full: the Pi's fan to 100 % through the agent's `fan` method, back to automatic when the
  policy clears (a Pi without a PWM fan says so, and that is recorded);
- shutdown: a `shutdown` operation through the operation runner (journalled, cooldowns and
  all), started when the policy fires;
- power_cycle: a `power-cycle` operation when one is registered (core/ops/catalogue.py: the
  power control of outlets); without it, an event says power control is not configured.

Every outcome is an event of kind "policy" on the device.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from fleet_tui.core.ops.catalogue import KINDS
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.kinds import DeviceCaller
from fleet_tui.core.ops.runner import OperationRefused, OperationRunner
from fleet_tui.core.policies.engine import EVENT_KIND, Transition
from fleet_tui.core.store.events import EventLog

log = logging.getLogger("fleet_tui.thermal")
POWER_CYCLE_KIND = "power_cycle"  # core/ops/power_actions.py
FAN_TIMEOUT_S = 10.0


class PolicyActor:
    def __init__(
        self,
        events: EventLog,
        caller: DeviceCaller | None,
        runner: OperationRunner | None,
        hostname: Callable[[str], str] = lambda serial: serial,
    ) -> None:
        self.events = events
        self.caller = caller
        self.runner = runner
        self.hostname = hostname

    async def act(self, transitions: Sequence[Transition]) -> None:
        for t in transitions:
            for action in t.policy.body.actions:
                try:
                    await self._one(t, action)
                except Exception as e:  # one action's failure never stops the others
                    log.exception("policy %s: %s failed", t.policy.name, action)
                    self._say(t, f"{action} failed: {type(e).__name__}: {e}")

    async def _one(self, t: Transition, action: str) -> None:
        if action == "notify":
            return
        if action == "fan_full":
            await self._fan(t)
        elif action == "shutdown" and t.fired:
            self._start(t, "shutdown", "shutdown")
        elif action == "power_cycle" and t.fired:
            if POWER_CYCLE_KIND not in KINDS:
                self._say(
                    t,
                    "power-cycle not done: power control is not configured (no outlet control"
                    " in this fleet-tui; link an outlet with fleet-tui outlet)",
                )
                return
            self._start(t, POWER_CYCLE_KIND, "power cycle")

    async def _fan(self, t: Transition) -> None:
        if self.caller is None:
            self._say(t, "fan not changed: no connection to the Pi in this process")
            return
        params: dict[str, object] = (
            {"mode": "manual", "percent": 100} if t.fired else {"mode": "auto"}
        )
        try:
            await self.caller.call(t.serial, "fan", params, timeout=FAN_TIMEOUT_S)
        except Exception as e:
            self._say(t, f"fan not changed: {e}")
            return
        self._say(t, "fan set to full" if t.fired else "fan back to automatic control")

    def _start(self, t: Transition, kind: str, what: str) -> None:
        if self.runner is None:
            self._say(t, f"{what} not started: no operation runner in this process")
            return
        target = DeviceTarget(t.serial, self.hostname(t.serial))
        try:
            op = self.runner.start(kind, [target], {"reason": f"policy {t.policy.name}"})
        except OperationRefused as e:
            self._say(t, f"{what} not started: {e}")
            return
        self._say(t, f"{what} started (operation {op.id})")

    def _say(self, t: Transition, message: str) -> None:
        self.events.record(t.serial, EVENT_KIND, f"{t.policy.name}: {message}")
