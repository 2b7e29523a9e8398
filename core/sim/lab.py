"""The simulated fleet: N fake Pis on 127.0.0.1, each a real SSH server running the real agent.

Each simulated Pi has its own port, its own host key, a fake Pi filesystem tree that the
agent reads (via FLEET_AGENT_ROOT and a `vcgencmd` script on PATH), a workload whose load
drives its temperature, fan and throttling (``tree_refresh.tick``), and a real zeroconf
`_ssh._tcp` advertisement bound to 127.0.0.1. Faults are injected at run time with
``inject`` / ``clear`` (or through the control socket of a running demo). Nothing here talks
to any address outside 127.0.0.0/8, and ``stop`` leaves no process, socket or file behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh

from fleet_tui.core.fleet.lab import LabAccess
from fleet_tui.core.net.ssh import ConnectOptions
from fleet_tui.core.sim.advert import Advertiser
from fleet_tui.core.sim.control import ControlServer
from fleet_tui.core.sim.device import LOOPBACK, SimPi
from fleet_tui.core.sim.faults import (
    KINDS,
    Fault,
    FaultError,
    FaultSpec,
    canonical_kind,
    is_clearing_alias,
    make_fault,
    parse_spec,
)
from fleet_tui.core.sim.janitor import kill_detached, sweep_stale_labs
from fleet_tui.core.sim.lab_names import MODEL_MIX, hostname_for, target_indices
from fleet_tui.core.sim.lab_pis import build_trees, make_pi
from fleet_tui.core.sim.pi_faults import apply_fault
from fleet_tui.core.sim.power_lab import PowerLab, PowerOptions
from fleet_tui.core.sim.scratch import make_scratch_dir
from fleet_tui.core.sim.sshd import (
    SIM_USER,
    kill_agents,
    kill_all,
    start_hung,
    start_server,
    stop_hung,
    stop_server,
)
from fleet_tui.core.sim.tree_refresh import tick
from fleet_tui.core.sim.tree_writes import forget_trees

if TYPE_CHECKING:
    from fleet_tui.core.discovery.mdns import Candidate

__all__ = [
    "LOOPBACK",
    "MODEL_MIX",
    "SIM_USER",
    "LabOptions",
    "PowerOptions",
    "SimLab",
    "SimPi",
    "hostname_for",
    "target_indices",
]

STOP_WAIT_S = 3.0

Target = str | int | SimPi


@dataclass(frozen=True)
class LabOptions:
    faults: Sequence[str] = ()  # "HOST:KIND[=VALUE]" specs applied as the lab starts
    control_socket: Path | None = None  # serve `fleet-tui demo inject` on this Unix socket
    power: PowerOptions | None = None  # SNMP power hardware; reboot/poweroff really happen


class SimLab:
    """Start with `await lab.start()`; stop with `await lab.stop()` (also on failure).

    A `core.fleet.lab.Lab`: `run_fleet` runs the pipeline inside it when `fleet-tui demo` hands
    it one. Nothing touches the disk before `start`: an unstarted lab leaves nothing behind."""

    def __init__(
        self,
        count: int,
        workdir: Path | None = None,
        seed: int = 1,
        advertise: bool = True,
        tick_seconds: float = 1.0,
        options: LabOptions | None = None,
    ) -> None:
        self.count = count
        self.seed = seed
        self.advertise = advertise
        self.tick_seconds = tick_seconds
        self.options = options or LabOptions()
        self.faults = [parse_spec(s) for s in self.options.faults]  # bad specs fail here
        self._own_workdir = workdir is None
        self._workdir = workdir  # made on first use (start) when not given
        self.pis: list[SimPi] = []
        self.sim_time = 0.0
        self._advertiser: Advertiser | None = None
        self._control: ControlServer | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._tick_job: asyncio.Future[None] | None = None
        self._lock = asyncio.Lock()
        self.power: PowerLab | None = None  # with options.power: the switch, PDU and boots
        self._client_key = asyncssh.generate_private_key("ssh-ed25519")
        self._authorized = asyncssh.import_authorized_keys(
            self._client_key.export_public_key().decode()
        )

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = make_scratch_dir()
        return self._workdir

    @property
    def client_key_path(self) -> Path:
        return self.workdir / "client_ed25519"

    def connect_options(self) -> ConnectOptions:
        """How a client reaches the lab: its own key, no ssh-agent, no ~/.ssh/config."""
        return ConnectOptions(
            username=SIM_USER,
            client_keys=[self.client_key_path],
            use_ssh_agent=False,
            use_ssh_config=False,
            connect_timeout=5.0,
        )

    # --- start / stop -------------------------------------------------------------------------

    async def start(self) -> LabAccess:
        if self._own_workdir:  # labs of demos that were killed before they could stop
            await asyncio.to_thread(sweep_stale_labs, self.workdir.parent)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._client_key.write_private_key(str(self.client_key_path))
        self.client_key_path.chmod(0o600)
        rng = random.Random(self.seed)
        self.pis = [make_pi(i, rng, self.workdir) for i in range(self.count)]
        try:
            await build_trees(self.pis)
            await asyncio.gather(*(start_server(pi, self._authorized) for pi in self.pis))
            if self.advertise:
                self._advertiser = Advertiser()
                await self._advertiser.start(self.pis)
            for spec in self.faults:
                await self.apply(spec)
            if self.options.power is not None:
                self.power = PowerLab(self, self.options.power)
                await self.power.start()
            if self.options.control_socket is not None:
                self._control = ControlServer(self.options.control_socket, self._on_control)
                await self._control.start()
        except BaseException:
            await self.stop()
            raise
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        ours = frozenset(pi.endpoint for pi in self.pis)

        def accept(candidate: Candidate) -> bool:
            return candidate.endpoint in ours

        return LabAccess(self.connect_options(), [LOOPBACK], accept)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._tick_job is not None:  # a tick writing files must finish before the rmtree
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._tick_job), STOP_WAIT_S)
            self._tick_job = None
        if self._control is not None:
            await self._control.stop()
            self._control = None
        if self.power is not None:
            await self.power.stop()
        if self._advertiser is not None:
            await self._advertiser.close(self.pis)
            self._advertiser = None
        await asyncio.gather(*(stop_server(pi) for pi in self.pis))
        await asyncio.gather(*(stop_hung(pi) for pi in self.pis))
        for pi in self.pis:
            kill_all(pi)
        await self._wait_for_processes()
        if self._workdir is None:  # never started: nothing on disk
            return
        # What left its SSH session on purpose: deployed apps and deploy watchdogs (their own
        # sessions, so that they outlive the agent as on a real Pi) run in the lab's tree.
        await asyncio.to_thread(kill_detached, self.workdir)
        forget_trees(self.workdir)
        if self._own_workdir:
            await asyncio.to_thread(shutil.rmtree, self.workdir, True)

    async def _wait_for_processes(self, pis: Sequence[SimPi] | None = None) -> None:
        # Killed commands are reaped by their SSH session tasks; give those a bounded moment.
        for _ in range(int(STOP_WAIT_S / 0.02)):
            if not any(pi.processes for pi in (self.pis if pis is None else pis)):
                return
            await asyncio.sleep(0.02)

    # --- the simulation ---------------------------------------------------------------------

    async def _tick(self) -> None:
        rng = random.Random(self.seed + 7)
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick_seconds)
            now = loop.time()
            dt, last = now - last, now
            # File writes off the event loop (about 0.4 ms per Pi); faults wait for the tick.
            async with self._lock:
                self.sim_time += dt
                self._tick_job = loop.run_in_executor(None, self._advance, dt, rng)
                await asyncio.shield(self._tick_job)  # stop() waits for it, whatever happens

    async def advance(self, seconds: float, step_s: float = 5.0) -> None:
        """Run the simulation ``seconds`` ahead at once (tests, demos): load, heat, fans, files."""
        rng = random.Random(self.seed + int(self.sim_time))
        steps = [step_s] * int(seconds // step_s) + ([seconds % step_s] if seconds % step_s else [])

        def run() -> None:
            for dt in steps:
                self.sim_time += dt
                self._advance(dt, rng)

        async with self._lock:
            await asyncio.to_thread(run)

    def _advance(self, dt: float, rng: random.Random) -> None:
        for pi in self.pis:
            if not pi.running:  # off, halted or booting: no clock, no load
                continue
            if pi.workload is not None:
                pi.state.load = pi.workload.advance(pi.state.load, self.sim_time, dt, rng)
            with contextlib.suppress(OSError):
                tick(pi.root, pi.state, pi.model, dt)

    # --- faults -------------------------------------------------------------------------------

    def select(self, target: Target) -> list[SimPi]:
        """A Pi by SimPi, 0-based index, hostname, 1-based number as text, or "all"."""
        if isinstance(target, SimPi):
            return [target]
        if isinstance(target, int):
            if 0 <= target < len(self.pis):
                return [self.pis[target]]
            raise FaultError(f"no simulated Pi at index {target}")
        return [self.pis[i] for i in target_indices(target, [pi.hostname for pi in self.pis])]

    async def inject(
        self, target: Target, kind: str, value: str | float | None = None
    ) -> list[SimPi]:
        """Turn a fault on (``ssh-up`` turns ``ssh-down`` off); returns the Pis it hit."""
        if is_clearing_alias(kind):
            return await self.clear(target, kind)
        fault = make_fault(kind, value)
        pis = self.select(target)
        async with self._lock:
            for pi in pis:
                await self._set(pi, fault, True)
        return pis

    async def clear(self, target: Target, kind: str | None = None) -> list[SimPi]:
        """Turn one fault (or, with no kind, every active fault) off."""
        pis = self.select(target)
        async with self._lock:
            for pi in pis:
                kinds = [canonical_kind(kind)] if kind else list(pi.faults)
                for k in kinds:
                    if k in pi.faults:  # clearing what is not on changes nothing
                        await self._set(pi, Fault(k, pi.faults[k]), False)
        return pis

    async def apply(self, spec: FaultSpec | str) -> list[SimPi]:
        spec = parse_spec(spec) if isinstance(spec, str) else spec
        if spec.clears:
            return await self.clear(spec.target, spec.fault.kind)
        return await self.inject(spec.target, spec.fault.kind, spec.fault.value or None)

    async def change_host_key(self, pi: SimPi) -> None:
        """Restart a Pi's SSH server on the same port with a new host key (a re-imaged card)."""
        await self.inject(pi, "host-key-change")

    async def _set(self, pi: SimPi, fault: Fault, on: bool) -> None:
        kind = KINDS[fault.kind]
        if kind.pi_fault is not None:
            apply_fault(pi.root, pi.state, pi.model, kind.pi_fault, active=on, value=fault.value)
        elif fault.kind == "slow-link":
            pi.link_delay = fault.seconds if on else 0.0
        elif fault.kind == "agent-crash":
            pi.crash_agents = on and fault.value == "persist"
            if on:
                kill_agents(pi)
        elif fault.kind == "host-key-change":
            await self._rekey(pi, on)
        if on and fault.sticky:
            pi.faults[fault.kind] = fault.value
        elif not on:
            pi.faults.pop(fault.kind, None)
        await self._reconcile(pi)

    async def _rekey(self, pi: SimPi, on: bool) -> None:
        if on:
            pi.original_host_key = pi.original_host_key or pi.host_key
            pi.host_key = asyncssh.generate_private_key("ssh-ed25519")
        elif pi.original_host_key is not None:
            pi.host_key, pi.original_host_key = pi.original_host_key, None
        else:
            return
        if pi.server is not None:  # a re-imaged card means a reboot: connections drop
            await stop_server(pi)
            kill_all(pi)
            await self._wait_for_processes([pi])
            await start_server(pi, self._authorized)

    async def _reconcile(self, pi: SimPi) -> None:
        """Bring the Pi's SSH server and mDNS advert in line with its faults and power."""
        advert_wanted = pi.advert_wanted
        if not pi.hang_wanted:
            await stop_hung(pi)
        if not pi.ssh_wanted and pi.server is not None:  # first: a hung sshd takes its port
            await stop_server(pi)
            kill_all(pi)
            await self._wait_for_processes([pi])
        if pi.hang_wanted:
            await start_hung(pi)
        if pi.ssh_wanted and pi.server is None:
            await start_server(pi, self._authorized)  # the same port as before
        if self._advertiser is not None:
            if advert_wanted and pi.service is None:
                await self._advertiser.advertise(pi)
            elif not advert_wanted and pi.service is not None:
                await self._advertiser.withdraw(pi)

    async def reconcile(self, pi: SimPi) -> None:
        """`_reconcile` under the lab's lock (power changes from core/sim/power_lab.py)."""
        async with self._lock:
            await self._reconcile(pi)

    # --- status and the control socket ------------------------------------------------------

    def status(self, pis: Sequence[SimPi] | None = None) -> list[dict[str, Any]]:
        rows = []
        for pi in self.pis if pis is None else pis:
            s = pi.state
            rows.append(
                {
                    "number": pi.index + 1,
                    "hostname": pi.hostname,
                    "port": pi.port,
                    "model": pi.model.model_string,
                    "serial": pi.serial,
                    "workload": pi.workload.profile if pi.workload else None,
                    "load": round(s.load, 2),
                    "temperature_c": round(s.temperature_c, 1),
                    "power_w": s.power_w,
                    "fan_rpm": s.fan_rpm,
                    "throttled": f"0x{s.throttled:x}",
                    "ssh": pi.server is not None,
                    "powered": pi.powered,
                    "running": pi.running,
                    "advertised": pi.service is not None,
                    "faults": [str(Fault(k, v)) for k, v in pi.faults.items()],
                    "power_source": self._source(pi),
                }
            )
        return rows

    def _source(self, pi: SimPi) -> str | None:
        """`poe 127.0.0.1:PORT port N` (or `pdu … outlet N`): what powers the Pi."""
        if self.power is None:
            return None
        device, port = self.power.source_of(pi)
        return f"{device.kind} {device.address} {'port' if device.kind == 'poe' else 'outlet'} {port.number}"

    async def _on_control(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "status":
            power = self.power.status() if self.power is not None else []
            return {"ok": True, "pis": self.status(), "power": power}
        if op == "inject":
            pis = await self.apply(str(request.get("spec", "")))
        elif op == "clear":
            kind = request.get("kind")
            pis = await self.clear(str(request.get("target", "")), str(kind) if kind else None)
        else:
            raise FaultError(f"unknown request {op!r}: inject, clear or status")
        return {"ok": True, "pis": self.status(pis)}
