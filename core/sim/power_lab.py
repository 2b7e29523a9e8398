"""Power in the simulated lab: SNMP power hardware, and Pis that really go off, halt and boot.

With ``LabOptions.power`` the lab starts a PoE switch (one port per Pi, port N powers the Nth
Pi) and, when asked, a PDU whose outlets power the last Pis instead. Cutting a port turns its
Pi off: its SSH server and mDNS advert go away and every process dies. Restoring it boots the
Pi: after ``boot_s`` it is back with a new boot time (``btime`` in /proc/stat, which the agent
reports as its boot id) and an uptime from zero. A power loss cures what a reboot cures (a hung
sshd, a crashing agent). The agent's ``reboot`` and ``shutdown`` (the fake ``sudo reboot`` /
``poweroff`` in the Pi's tree write ``sim/requests``) really happen too: a reboot is down and
back with a new boot id; a poweroff halts the Pi until its power is cut and restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fleet_tui.core.power.usm import UsmAccount
from fleet_tui.core.sim.device import SimPi
from fleet_tui.core.sim.power_devices import SimPort, SimPowerDevice
from fleet_tui.core.sim.tree_refresh import write_dynamic

REQUEST_POLL_S = 0.1
REPLY_GRACE_S = 0.3  # a reboot lets the agent's answer out first, as systemd does
CURED_BY_POWER = ("ssh-hang", "agent-crash")


@dataclass(frozen=True)
class PowerOptions:
    community: str = "fleet-sim"  # the v2c community of both agents
    v3_user: UsmAccount | None = None  # a v3 user both agents also accept (the demo: none)
    pdu_outlets: int = 0  # the last N Pis hang on a PDU's outlets 1..N instead of the switch
    boot_s: float = 1.0  # power on (or reboot) to SSH answering
    # relay HAT channels: (controller Pi index, GPIO pin, powered Pi index). The channel is on
    # while the controller's pin is high (the fake pinctrl keeps it in sim/gpio/PIN, where the
    # agent's `relay` method sets it); it starts on. A channel switching powers its Pi off or
    # on as a switch port does.
    relays: tuple[tuple[int, int, int], ...] = ()


class _Lab(Protocol):
    """What of the lab (core/sim/lab.py) power needs: its Pis, and bringing one's SSH server
    and advert in line with its state."""

    pis: list[SimPi]

    async def reconcile(self, pi: SimPi) -> None: ...


class PowerLab:
    def __init__(self, lab: _Lab, options: PowerOptions) -> None:
        self.lab = lab
        self.options = options
        self.devices: list[SimPowerDevice] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._generation: dict[int, int] = {}  # per Pi: bumped by every power change
        self._seen: dict[int, int] = {}  # per Pi: bytes of sim/requests already acted on
        self._watcher: asyncio.Task[None] | None = None
        self._relay_on: dict[tuple[int, int], bool] = {}  # per relay channel: last seen level

    @property
    def switch(self) -> SimPowerDevice:
        return next(d for d in self.devices if d.kind == "poe")

    @property
    def pdu(self) -> SimPowerDevice | None:
        return next((d for d in self.devices if d.kind == "pdu"), None)

    def source_of(self, pi: SimPi) -> tuple[SimPowerDevice, SimPort]:
        for device in self.devices:
            port = device.port_of(pi)
            if port is not None:
                return device, port
        raise LookupError(f"{pi.hostname} has no simulated power source")

    async def start(self) -> None:
        pis, o = self.lab.pis, self.options
        n_pdu = max(0, min(self.options.pdu_outlets, len(pis)))
        on_switch, on_pdu = pis[: len(pis) - n_pdu], pis[len(pis) - n_pdu :]
        ports = [SimPort(i + 1, pi) for i, pi in enumerate(on_switch)]
        self.devices.append(
            SimPowerDevice("poe-switch", "poe", ports, o.community, self._switched, o.v3_user)
        )
        if n_pdu or self.options.pdu_outlets:
            outlets = [SimPort(i + 1, pi) for i, pi in enumerate(on_pdu)]
            self.devices.append(
                SimPowerDevice("pdu", "pdu", outlets, o.community, self._switched, o.v3_user)
            )
        for device in self.devices:
            await device.start()
        for pi in pis:
            self._seen[pi.index] = _size(pi)
        for controller, pin, _ in self.options.relays:
            gpio = _gpio(pis[controller], pin)
            gpio.parent.mkdir(parents=True, exist_ok=True)
            gpio.write_text("hi\n")
            self._relay_on[(controller, pin)] = True
        self._watcher = asyncio.get_running_loop().create_task(self._watch_requests())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        for device in self.devices:
            await device.stop()

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "name": d.name,
                "kind": d.kind,
                "address": d.address,
                "ports": {
                    p.number: {"on": p.on, "pi": p.pi.hostname if p.pi else None}
                    for p in d.ports.values()
                },
            }
            for d in self.devices
        ]

    # ---- what happens to a Pi --------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _bump(self, pi: SimPi) -> int:
        self._generation[pi.index] = self._generation.get(pi.index, 0) + 1
        return self._generation[pi.index]

    def _switched(self, pi: SimPi, on: bool) -> None:
        """A port's power changed (from the SNMP agent's SET handler, on the loop)."""
        generation = self._bump(pi)
        pi.powered = on
        if on:
            self._spawn(self._boot(pi, generation))
        else:
            pi.running = False
            for kind in CURED_BY_POWER:
                pi.faults.pop(kind, None)
            pi.crash_agents = False
            self._spawn(self.lab.reconcile(pi))

    async def _boot(self, pi: SimPi, generation: int) -> None:
        await asyncio.sleep(self.options.boot_s)
        if self._generation.get(pi.index) != generation or not pi.powered:
            return  # switched again meanwhile
        state = pi.state
        state.boot_time = max(float(int(time.time())), state.boot_time + 1.0)
        state.uptime_s = 0.0
        state.load = 0.0
        with contextlib.suppress(OSError):
            await asyncio.to_thread(write_dynamic, pi.root, state, pi.model)
        self._seen[pi.index] = _size(pi)
        pi.running = True
        await self.lab.reconcile(pi)

    async def _reboot(self, pi: SimPi, halt: bool) -> None:
        generation = self._bump(pi)
        await asyncio.sleep(REPLY_GRACE_S)
        if self._generation.get(pi.index) != generation:
            return
        pi.running = False
        await self.lab.reconcile(pi)
        if not halt:
            await self._boot(pi, generation)

    # ---- requests made on the Pi (fake reboot/poweroff in its tree) --------------------------
    def relay_on(self, controller: SimPi, pin: int) -> bool:
        return self._relay_on.get((controller.index, pin), False)

    def _watch_relays(self) -> None:
        """A relay channel whose pin changed level switches the Pi it powers."""
        for controller, pin, powered in self.options.relays:
            try:
                level = _gpio(self.lab.pis[controller], pin).read_text().strip() == "hi"
            except OSError:
                continue
            if level != self._relay_on.get((controller, pin)):
                self._relay_on[(controller, pin)] = level
                self._switched(self.lab.pis[powered], level)

    async def _watch_requests(self) -> None:
        while True:
            await asyncio.sleep(REQUEST_POLL_S)
            self._watch_relays()
            for pi in self.lab.pis:
                if not pi.running:
                    continue
                size = _size(pi)
                seen = self._seen.get(pi.index, 0)
                if size <= seen:
                    self._seen[pi.index] = size
                    continue
                with contextlib.suppress(OSError):
                    with (pi.root / "sim/requests").open("rb") as f:
                        f.seek(seen)
                        new = f.read(size - seen).decode("utf-8", "replace")
                    self._seen[pi.index] = size
                    self._act(pi, new)

    def _act(self, pi: SimPi, lines: str) -> None:
        for line in lines.splitlines():
            words = line.split()
            if not words:
                continue
            command, args = words[0], words[1:]
            if command == "systemctl" and args:
                command, args = args[0], args[1:]
            if command == "reboot" or (command == "shutdown" and "-r" in args):
                self._spawn(self._reboot(pi, halt=False))
                return
            if command in ("poweroff", "halt", "shutdown"):
                self._spawn(self._reboot(pi, halt=True))
                return


def _gpio(pi: SimPi, pin: int) -> Path:
    return pi.root / "sim/gpio" / str(pin)


def _size(pi: SimPi) -> int:
    try:
        return (pi.root / "sim/requests").stat().st_size
    except OSError:
        return 0
