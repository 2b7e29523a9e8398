"""A closed world for the pipeline to run in instead of the LAN (the demo's simulated fleet).

The runtime knows a lab only by this protocol: started, it says how to reach its devices, on
which interfaces to browse and which candidates are its own; it is stopped with the pipeline.
Production code never names an implementation (the simulator lives in core/sim and is handed
in by `fleet-tui demo`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fleet_tui.core.discovery.mdns import Candidate
    from fleet_tui.core.net.ssh import ConnectOptions


@dataclass(frozen=True)
class LabAccess:
    """How the pipeline reaches a started lab's devices (and only those)."""

    options: ConnectOptions  # replaces the user's: the lab's own keys, no ~/.ssh/config
    interfaces: Sequence[str]  # browse only these, whatever the user asked for
    accept: Callable[[Candidate], bool]  # another lab may be advertising on the same interface


class Lab(Protocol):
    async def start(self) -> LabAccess:
        """Bring the lab up; `stop` follows in any case, also when this fails half-way."""
        ...

    async def stop(self) -> None:
        """Leave nothing behind (no process, socket or file), whatever `start` got to."""
        ...
