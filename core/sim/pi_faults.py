"""Pi-level faults of a simulated Pi: what each one changes in its state and its tree.

Network-level faults (SSH down, slow link, agent crash) belong to the lab (``core.sim.lab``).
"""

from __future__ import annotations

from pathlib import Path

from fleet_tui.core.sim.pi_models import PiModel
from fleet_tui.core.sim.pi_state import SimPiState
from fleet_tui.core.sim.tree_refresh import write_dynamic
from fleet_tui.core.sim.tree_writes import write_file

FAULTS = ("overheat", "under_voltage", "disk_full", "vcgencmd_fail", "sudo_denied", "clock_skew")
CLOCK_OFFSET = "sim/clock_offset"  # read by the agent, re-rooted only (hardware/clock.py)


def apply_fault(
    root: Path,
    state: SimPiState,
    model: PiModel,
    kind: str,
    active: bool = True,
    value: str = "",
) -> None:
    """Turn a Pi-level fault on or off, then rewrite the dynamic files.

    Effects are visible at once (not only after ``step``): ``overheat`` jumps past the
    throttle temperature and keeps heating in ``step``; ``under_voltage`` sets bits 0/16 of
    get_throttled; ``disk_full`` leaves 0 MB free; ``vcgencmd_fail`` makes vcgencmd fail like a
    Pi without /dev/vchiq access; ``sudo_denied`` makes the fake sudo refuse like one without a
    NOPASSWD rule; ``clock_skew`` makes the agent's clock ``value`` seconds off (negative:
    behind), like a Pi that booted without NTP. Network-level faults (SSH down, slow link,
    agent crash) belong to the lab.
    """
    root = Path(root)
    if kind == "overheat":
        state.overheat = active
        if active:
            state.saved.setdefault("temperature_c", state.temperature_c)
            state.temperature_c = max(state.temperature_c, model.throttle_temp_c + 3.0)
            state.throttled |= 0x6 | 0x60000
        else:
            state.temperature_c = min(state.temperature_c, state.saved.pop("temperature_c", 50.0))
            state.throttled &= ~0xE
    elif kind == "under_voltage":
        state.under_voltage = active
        if active:
            state.throttled |= 0x1 | 0x10000
        else:
            state.throttled &= ~0x1
    elif kind == "disk_full":
        if active:
            state.saved.setdefault("disk_free_mb", float(state.disk_free_mb))
            state.disk_free_mb = 0
        else:
            state.disk_free_mb = int(state.saved.pop("disk_free_mb", state.disk_total_mb * 0.7))
    elif kind == "vcgencmd_fail":
        state.vcgencmd_fail = active
    elif kind == "sudo_denied":
        _marker(root / "sim/sudo_denied", "1\n" if active else None)
    elif kind == "clock_skew":
        _marker(root / CLOCK_OFFSET, f"{float(value or 0)!r}\n" if active else None)
    else:
        raise ValueError(f"unknown Pi fault {kind!r}; known: {', '.join(FAULTS)}")
    write_dynamic(root, state, model)


def _marker(path: Path, text: str | None) -> None:
    """A file the agent checks: written (atomically) with `text`, or removed for None."""
    if text is not None:
        write_file(path, text)
    elif path.exists():
        path.unlink()
