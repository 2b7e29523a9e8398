"""The kinds of operation: what one step does on one device, and how it is presented.

The journal keeps only a kind's name and parameters, so an operation interrupted by a crash can
be resumed by a later process: the runner looks the kind up again in core/ops/catalogue.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fleet_tui.core.ops.journal import DeviceTarget


class StepRefused(Exception):
    """Raised by a step that decided not to act (a pre-flight said no): nothing was sent to
    change the device, so the journal says `refused` ("skipped: REASON"), not `failed`."""


class DeviceCaller(Protocol):
    """Runs an agent method on a device named by its serial (the live fleet in the TUI, a
    connection pool in the CLI). Raises on failure, with a message for the technician."""

    async def call(
        self,
        serial: str,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> object: ...


class PowerPort(Protocol):
    """Power control for the power kinds (core/power/service.py `PowerService`): one call per
    device step, and the interlocks to check before a step sends anything."""

    async def step(self, kind: str, target: DeviceTarget, params: dict[str, Any]) -> str: ...

    def refusal(self, kind: str, target: DeviceTarget, params: dict[str, Any]) -> str | None: ...


@dataclass(frozen=True)
class StepContext:
    operation_id: str
    target: DeviceTarget
    params: dict[str, Any]
    caller: DeviceCaller
    timeout_s: float
    power: PowerPort | None = None  # given by whoever runs power operations


@dataclass(frozen=True)
class OperationKind:
    name: str  # "reboot": also the event kinds (`reboot`, `reboot_done`, `reboot_failed`)
    verb: str  # "Reboot", for titles and buttons
    question: str  # asked before it runs, above the list of devices
    run_step: Callable[[StepContext], Awaitable[str]]  # returns what the device answered
    danger: bool = False  # asks for the hostname (or "reboot N") typed out
    timeout_s: float = 20.0  # per device
    concurrency: int = 16
    # checked before a step runs: a reason refuses the step (nothing sent), as a policy does
    refuse: Callable[[StepContext], str | None] | None = None

    def title(self, count: int) -> str:
        return f"{self.verb} {count} device{'s' if count != 1 else ''}"

    def typed_word(self, hostnames: list[str]) -> str | None:
        """What a technician types to confirm a dangerous operation; None: a yes is enough."""
        if not self.danger or not hostnames:
            return None
        return hostnames[0] if len(hostnames) == 1 else f"{self.name} {len(hostnames)}"
