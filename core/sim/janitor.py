"""Sweep up labs whose process was killed before it could stop them (SIGKILL, a closed terminal).

A lab's default workdir records its owner's pid (``scratch.OWNER_FILE``). When a new lab
starts, any ``fleet-lab-*`` directory of ours whose owner is gone is removed, after killing
the processes still running in it (an agent's detached helper outlives a killed demo).
Directories without an owner file, of another user, or of a live process are left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import psutil

from fleet_tui.core.sim.leftovers import lab_processes
from fleet_tui.core.sim.scratch import OWNER_FILE, PREFIX


def sweep_stale_labs(parent: Path) -> list[Path]:
    """Remove abandoned lab directories under ``parent``; return what was removed."""
    removed = []
    for path in parent.glob(f"{PREFIX}*"):
        owner = _owner(path)
        if owner is None or psutil.pid_exists(owner):
            continue
        kill_detached(path)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def kill_detached(workdir: Path) -> int:
    """Kill every process still running in a lab's tree (detached helpers, deployed apps,
    deploy watchdogs); returns how many."""
    victims = lab_processes(workdir)
    for pid in victims:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    return len(victims)


def _owner(path: Path) -> int | None:
    try:
        if path.lstat().st_uid != os.getuid() or path.is_symlink():
            return None
        return int((path / OWNER_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
