"""Run the whole fleet pipeline — on the LAN, or inside a lab handed in — until told to stop.

Shared by the TUI (inside a thread worker with its own event loop) and by the headless CLI
twins, so both see exactly the same behaviour. A lab (core/fleet/lab.py; the demo passes its
simulated fleet) is started before the pipeline and stopped after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fleet_tui.core.fleet.lab import Lab
from fleet_tui.core.fleet.service import FleetService
from fleet_tui.core.models import DeviceState
from fleet_tui.core.net.ssh import ConnectOptions
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.policy import OperationPolicy
from fleet_tui.core.ops.process import operator
from fleet_tui.core.ops.runner import OperationRunner
from fleet_tui.core.policies.model import Policy
from fleet_tui.core.power.policy import PowerPolicy
from fleet_tui.core.power.service import POWER_KINDS, PowerService
from fleet_tui.core.store.database import Store


@dataclass
class FleetConfig:
    db_path: Path
    lab: Lab | None = None  # run inside this lab (the demo's simulated fleet), not the LAN
    interfaces: list[str] | None = None  # None: all interfaces (a technician's laptop)
    poll_interval: float = 2.0
    concurrency: int = 32
    options: ConnectOptions = field(default_factory=ConnectOptions)
    who: str = field(default_factory=operator)  # user@host, with every operation and event
    operations: OperationPolicy = field(default_factory=OperationPolicy)
    power: PowerPolicy = field(default_factory=PowerPolicy)  # the config's [power]
    policies: list[Policy] = field(default_factory=list)  # the config file's [policies.NAME]


@dataclass
class RunningFleet:
    service: FleetService
    lab: Lab | None
    operations: OperationRunner
    power: PowerService | None = None  # switches outlets for the power operations


async def run_fleet(
    config: FleetConfig,
    on_update: Callable[[DeviceState], None],
    stop: asyncio.Event,
    on_ready: Callable[[RunningFleet], None] | None = None,
    on_operation: Callable[[OperationEvent], None] | None = None,
) -> None:
    lab = config.lab
    store = Store.open(config.db_path)
    service: FleetService | None = None
    runner: OperationRunner | None = None
    power: PowerService | None = None
    try:
        options, interfaces = config.options, config.interfaces
        accept = None
        if lab is not None:
            # A lab never leaves its own world, whatever the user asked for, and takes only
            # its own devices (another lab may be advertising on the same interface).
            access = await lab.start()
            options, interfaces, accept = access.options, list(access.interfaces), access.accept
        service = FleetService(
            store,
            options,
            on_update=on_update,
            interfaces=interfaces,
            poll_interval=config.poll_interval,
            concurrency=config.concurrency,
            accept=accept,
            known=lab is None,  # the store's hosts and devices, never in a lab
            policies=config.policies,
        )
        await service.start()
        # power operations (started here or resumed from :ops) switch outlets through this
        power = PowerService(store, service, config.power, who=config.who)
        runner = OperationRunner(
            store,
            service,  # agent calls by serial over the live fleet's open sessions
            who=config.who,
            policy=config.operations,
            on_event=on_operation,
            power=power,
        )
        service.policy_actor.runner = runner  # a policy's shutdown is an operation too
        if on_ready is not None:
            on_ready(RunningFleet(service, lab, runner, power))
        reaped = runner.journal.reap()
        if on_operation is not None:  # what a crash of an earlier run left: said once, at start
            for op in reaped:
                on_operation(OperationEvent("interrupted", op, runner.journal.progress(op.id)))
        # an interrupted power operation leaves no half-known state: its outlets are read back
        # (and recorded as events) in the background, while the fleet comes up
        interrupted = [op.model_dump() for op in reaped if op.kind in POWER_KINDS]
        readback = asyncio.create_task(power.read_back(interrupted)) if interrupted else None
        await stop.wait()
        if readback is not None:
            readback.cancel()
    finally:
        with contextlib.suppress(Exception):
            if runner is not None:
                await runner.close(interrupt=True)  # the process leaves: `ops resume` later
        with contextlib.suppress(Exception):
            if power is not None:
                power.close()
        with contextlib.suppress(Exception):
            if service is not None:
                await service.stop()
        if lab is not None:  # also after a failed start: stop is safe whatever it got to
            await lab.stop()
        store.close()
