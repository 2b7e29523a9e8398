"""Names of a lab's Pis: the model mix that decides each hostname, and which Pis a target
(a hostname, a 1-based number or "all") names, for fault specs typed by people."""

from __future__ import annotations

from collections.abc import Sequence

from fleet_tui.core.sim.faults import FaultError

MODEL_MIX = ("4b", "5", "3b+", "zero2w", "cm4")


def hostname_for(index: int) -> str:
    """The hostname of the Pi at ``index`` (0-based): pi-4b-001, pi-5-002, pi-3bp-003, ..."""
    key = MODEL_MIX[index % len(MODEL_MIX)]
    return f"pi-{key.replace('+', 'p')}-{index + 1:03d}"


def target_indices(target: str, hostnames: Sequence[str]) -> list[int]:
    """Which Pis a target names: a hostname, a 1-based number, or "all" (also "*")."""
    text = target.strip()
    if text.lower() in ("all", "*"):
        return list(range(len(hostnames)))
    if text.isdigit() and 1 <= int(text) <= len(hostnames):
        return [int(text) - 1]
    if text in hostnames:
        return [hostnames.index(text)]
    raise FaultError(
        f"no simulated Pi {target!r}: use a hostname (e.g. {hostnames[0] if hostnames else 'pi-4b-001'}),"
        f" a number 1..{len(hostnames)}, or all"
    )
