"""Which ACT LED a walkthrough blinks, and the identify requests that move the blink on.

Every blink is an `identify` operation (core/ops/device_actions.py) through the operation
runner: the new device blinks for WALK_BLINK_S, and the one that blinked before is stopped
first (identify with seconds 0: the agent puts back the LED trigger it found), so only the
position the technician looks at blinks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleet_tui.core.ops.journal import DeviceTarget

WALK_BLINK_S = 120  # long enough to find the slot; stopped as soon as the walk moves on
STOP: dict[str, Any] = {"seconds": 0}

Request = tuple[DeviceTarget, dict[str, Any]]  # one identify operation: target, params


@dataclass
class WalkBlink:
    current: DeviceTarget | None = None
    seconds: float = WALK_BLINK_S
    history: list[Request] = field(default_factory=list)  # every request planned, in order

    def show(self, target: DeviceTarget | None) -> list[Request]:
        """Blink `target` (None: nothing) instead of what blinks now: the requests to start,
        in order (the stop of the previous one first)."""
        out: list[Request] = []
        if self.current is not None and (target is None or target.serial != self.current.serial):
            out.append((self.current, dict(STOP)))
        if target is not None and (self.current is None or target.serial != self.current.serial):
            out.append((target, {"seconds": self.seconds}))
        self.current = target
        self.history += out
        return out

    def stop(self) -> list[Request]:
        return self.show(None)
