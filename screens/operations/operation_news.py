"""What the app remembers of this session's operations, and what it tells the technician when
one ends or is found interrupted. No widgets: the app turns these into notifications."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.ops.catalogue import KINDS
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.model import BAD_STEPS, StepRecord, StepStatus
from fleet_tui.core.racks.walk_blink import WALK_PARAM
from fleet_tui.core.text import visible

LIST_AT_MOST = 8


@dataclass(frozen=True)
class Notice:
    title: str
    message: str
    severity: str = "information"  # information | warning | error


def _names(steps: list[StepRecord]) -> str:
    names = [visible(s.hostname or s.serial, 40) for s in steps[:LIST_AT_MOST]]
    return ", ".join(names) + (" …" if len(steps) > LIST_AT_MOST else "")


def _lines(steps: list[StepRecord]) -> str:
    lines = [f"{visible(s.hostname or s.serial, 40)}: {visible(s.message, 200)}" for s in steps]
    more = len(lines) - LIST_AT_MOST
    return "\n".join(lines[:LIST_AT_MOST] + ([f"… and {more} more"] if more > 0 else []))


class OperationNews:
    def __init__(self) -> None:
        self.latest: dict[str, OperationEvent] = {}
        self._steps: dict[str, dict[str, StepRecord]] = {}

    def add(self, event: OperationEvent) -> list[Notice]:
        op = event.operation
        self.latest[op.id] = event
        if event.step is not None:
            self._steps.setdefault(op.id, {})[event.step.serial] = event.step
        if event.event == "interrupted":
            return [
                Notice(
                    "Operation interrupted",
                    f"{visible(op.title, 60)} ({op.id}), started by {visible(op.who, 40)}, "
                    f"stopped with fleet-tui: {event.progress.summary()}. "
                    ":ops to resume or dismiss it; nothing re-runs by itself.",
                    "warning",
                )
            ]
        if event.event != "finished":
            return []
        return self._finished(event)

    def _finished(self, event: OperationEvent) -> list[Notice]:
        op = event.operation
        verb = KINDS[op.kind].verb if op.kind in KINDS else op.kind
        steps = list(self._steps.pop(op.id, {}).values())
        ok = [s for s in steps if s.status is StepStatus.OK]
        bad = [s for s in steps if s.status in BAD_STEPS]
        refused = [s for s in steps if s.status is StepStatus.REFUSED]
        cancelled = [s for s in steps if s.status is StepStatus.CANCELLED]
        out = []
        # a walkthrough's blinks: its screen says which Pi blinks; only trouble is news
        if ok and WALK_PARAM not in op.params:
            out.append(Notice(f"{verb}: {len(ok)} accepted", _names(ok)))
        if bad:
            out.append(Notice(f"{verb}: {len(bad)} failed", _lines(bad), "error"))
        if refused:
            out.append(Notice(f"{verb}: {len(refused)} refused", _lines(refused), "warning"))
        if cancelled:
            out.append(Notice(f"{verb}: {len(cancelled)} cancelled", _names(cancelled), "warning"))
        return out

    def now(self) -> list[OperationEvent]:
        return list(self.latest.values())
