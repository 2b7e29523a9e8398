"""Making a lab's Pis: identity, a workload, a warmed-up state, and their files on disk."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path

import asyncssh

from fleet_tui.core.sim.device import SimPi
from fleet_tui.core.sim.lab_names import MODEL_MIX, hostname_for
from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_physics import step
from fleet_tui.core.sim.pi_state import SimPiState
from fleet_tui.core.sim.probes import probes_for
from fleet_tui.core.sim.tree_build import build_pi_tree
from fleet_tui.core.sim.workload import make_workload

BUILD_THREADS = 4
WARM_UP_S = 900.0  # Pis have been running a while: start near their steady temperature


def make_pi(index: int, rng: random.Random, workdir: Path) -> SimPi:
    """The Pi at ``index`` of a lab, its files to live under ``workdir/pis/<hostname>``."""
    model = MODELS[MODEL_MIX[index % len(MODEL_MIX)]]
    hostname = hostname_for(index)
    serial = (
        f"{rng.getrandbits(64):016x}" if model.key == "5" else f"10000000{rng.getrandbits(32):08x}"
    )
    workload = make_workload(index, model.cores, rng)
    state = SimPiState(temperature_c=40.0, uptime_s=rng.uniform(600, 900_000))
    state.probes = probes_for(index, random.Random(f"probes-{serial}"))
    state.load = workload.runnable(0.0)
    for _ in range(int(WARM_UP_S / 60.0)):
        step(state, model, 60.0)
    state.boot_time = float(int(time.time() - state.uptime_s))
    key = asyncssh.generate_private_key("ssh-ed25519")
    base = workdir / "pis" / hostname
    return SimPi(index, hostname, model, serial, base, state, key, workload=workload)


async def build_trees(pis: list[SimPi]) -> None:
    """Build every Pi's home and fake tree, with ``python3`` on its PATH."""
    # File creation is syscall-bound: a few threads overlap it on a disk-backed workdir.
    chunks = [pis[i::BUILD_THREADS] for i in range(BUILD_THREADS)]
    await asyncio.gather(*(asyncio.to_thread(_build, chunk) for chunk in chunks if chunk))


def _build(pis: list[SimPi]) -> None:
    for pi in pis:
        pi.home.mkdir(parents=True, exist_ok=True)
        build_pi_tree(pi.root, pi.model, pi.hostname, pi.serial, pi.state)
        bindir = pi.root / "bin"
        link = bindir / "python3"
        if not link.exists():
            link.symlink_to(_device_python())


def _device_python() -> str:
    """The simulated Pi's python3: the system one when there is one, as on a real Pi.

    It also starts about 4x faster than a venv interpreter with many packages installed,
    which is most of the CPU a cold start of 100 simulated Pis costs. The agent is stdlib-only,
    so any python3 >= 3.9 will do; without a system one we fall back to whatever runs us.
    """
    system = "/usr/bin/python3"
    if os.access(system, os.X_OK):
        return system
    return sys.executable
