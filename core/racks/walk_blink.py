"""Which ACT LED a walkthrough blinks, and the identify requests that move the blink on.

Every blink is an `identify` operation (core/ops/device_actions.py) through the operation
runner: the new device blinks for WALK_BLINK_S, and the one that blinked before is stopped
first (identify with seconds 0: the agent puts back the LED trigger it found), so only the
position the technician looks at blinks. Each operation is titled after the walk and the
position ("Walk R2 U10 slot 1"; its stop "Off: Walk R2 U10 slot 1": the words that differ
come first, as `:ops` cuts titles at 80 columns) and carries the walk's session in its params
(`walk`), so `fleet-tui ops` shows a walk's blinks as one line (`walk_groups`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.model import OPEN_OPERATIONS, OperationRecord, OpStatus, Progress

WALK_BLINK_S = 120  # long enough to find the slot; stopped as soon as the walk moves on
WALK_PARAM = "walk"  # params key: the walkthrough session a blink belongs to
RACK_PARAM = "walk_rack"  # params key: the walked rack's name


@dataclass(frozen=True)
class BlinkRequest:
    """One identify operation to start: its target, params and title."""

    target: DeviceTarget
    params: dict[str, Any]
    title: str


@dataclass
class WalkBlink:
    session: str = ""
    rack: str = ""
    current: DeviceTarget | None = None
    here: str = ""  # the position the current blink is for ("R2 U10 slot 1")
    seconds: float = WALK_BLINK_S
    history: list[BlinkRequest] = field(default_factory=list)  # every request, in order

    def _request(self, target: DeviceTarget, seconds: float, title: str) -> BlinkRequest:
        params: dict[str, Any] = {"seconds": seconds}
        if self.session:
            params[WALK_PARAM] = self.session
            params[RACK_PARAM] = self.rack
        return BlinkRequest(target, params, title)

    def show(self, target: DeviceTarget | None, here: str = "") -> list[BlinkRequest]:
        """Blink `target` (None: nothing) at position `here` instead of what blinks now: the
        requests to start, in order (the stop of the previous one first)."""
        out: list[BlinkRequest] = []
        now = self.current
        if now is not None and (target is None or target.serial != now.serial):
            out.append(self._request(now, 0, f"Off: Walk {self.here}"))
        if target is not None and (now is None or target.serial != now.serial):
            out.append(self._request(target, self.seconds, f"Walk {here}"))
        if target is None or now is None or target.serial != now.serial:
            self.here = here
        self.current = target
        self.history += out
        return out

    def stop(self) -> list[BlinkRequest]:
        return self.show(None)


@dataclass(frozen=True)
class WalkGroup:
    """Consecutive operations of one listing: one walk's blinks, or a single operation."""

    ops: tuple[OperationRecord, ...]

    @property
    def newest(self) -> OperationRecord:
        return self.ops[0]

    @property
    def title(self) -> str:
        if len(self.ops) == 1:
            return self.ops[0].title
        blinks = sum(1 for op in self.ops if op.params.get("seconds"))
        rack = str(self.ops[0].params.get(RACK_PARAM) or "")
        return f"Walk {rack}: {blinks} blink{'s' if blinks != 1 else ''}".replace("  ", " ")

    @property
    def folded(self) -> bool:
        return len(self.ops) > 1

    @property
    def walk(self) -> str:
        """The walkthrough session of a walk's blink (folded or not), else ""."""
        return str(self.newest.params.get(WALK_PARAM) or "")

    @property
    def key(self) -> str:
        """A listing key: the operation's id; a fold's, after its oldest (it grows newer)."""
        return f"walk:{self.ops[-1].id}" if self.folded else self.newest.id

    def summary(self, progress: Progress) -> str:
        """The steps counted, with how many operations a fold holds."""
        counted = progress.summary()
        return f"{len(self.ops)} operations: {counted}" if self.folded else counted

    @property
    def status(self) -> OpStatus:
        """The operations' status when they share it, else partial."""
        statuses = {op.status for op in self.ops}
        return statuses.pop() if len(statuses) == 1 else OpStatus.PARTIAL


def _folds(op: OperationRecord) -> str:
    """The walk an operation folds into, "" when it stays on its own line (not a walk's, or
    still running / interrupted: those are acted on by id)."""
    if op.status in OPEN_OPERATIONS:
        return ""
    return str(op.params.get(WALK_PARAM) or "")


def walk_groups(
    ops: Sequence[OperationRecord], fold: bool = True, unfolded: Collection[str] = ()
) -> list[WalkGroup]:
    """`ops` (newest first) with each run of consecutive finished operations of one
    walkthrough folded into one group; every other operation alone (all of them without
    `fold`, and the walks named in `unfolded`)."""
    out: list[list[OperationRecord]] = []
    for op in ops:
        walk = _folds(op) if fold else ""
        walk = "" if walk in unfolded else walk
        if walk and out and _folds(out[-1][0]) == walk:
            out[-1].append(op)
        else:
            out.append([op])
    return [WalkGroup(tuple(g)) for g in out]
