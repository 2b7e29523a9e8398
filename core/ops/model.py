"""An operation as the store keeps it: one row per operation, one per device step.

Statuses are words a technician reads in `fleet-tui ops` and the `:ops` screen, so they say
what happened, including what nobody knows: a step that was running when fleet-tui died is
`interrupted` (the reboot may or may not have been sent), never silently `failed` or re-run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator


class OpStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"  # every step ok
    PARTIAL = "partial"  # some steps ok, some not
    FAILED = "failed"  # no step ok
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the process running it stopped (killed, crashed, lid closed)
    ABANDONED = "abandoned"  # interrupted, and a technician decided not to resume it


class StepStatus(StrEnum):
    PENDING = "pending"  # not started (yet)
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    REFUSED = "refused"  # a policy said no; nothing was sent to the device
    INTERRUPTED = "interrupted"  # was running when its process stopped: outcome unknown


FINISHED_STEPS = frozenset(
    {StepStatus.OK, StepStatus.FAILED, StepStatus.TIMEOUT, StepStatus.CANCELLED, StepStatus.REFUSED}
)
BAD_STEPS = frozenset({StepStatus.FAILED, StepStatus.TIMEOUT})
OPEN_OPERATIONS = frozenset({OpStatus.RUNNING, OpStatus.INTERRUPTED})


class OperationRecord(BaseModel):
    id: str
    kind: str
    title: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    status: OpStatus = OpStatus.RUNNING
    who: str = ""
    site: str = ""
    pid: int | None = None
    pid_start: str | None = None
    created: float = 0.0
    finished: float | None = None
    total: int = 0
    attempt: int = 1
    cancel_requested: bool = False

    @field_validator("params", mode="before")
    @classmethod
    def _decode(cls, value: object) -> object:
        if isinstance(value, str):  # stored as JSON text
            try:
                decoded = json.loads(value)
            except ValueError:
                return {}
            return decoded if isinstance(decoded, dict) else {}
        return value if value is not None else {}

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> object:
        # a peer's newer fleet-tui may know statuses we do not: show them as interrupted
        return value if value in OpStatus._value2member_map_ else OpStatus.INTERRUPTED

    @field_validator("cancel_requested", mode="before")
    @classmethod
    def _flag(cls, value: object) -> bool:
        return bool(value)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"pid_start"})


class StepRecord(BaseModel):
    operation_id: str
    serial: str
    hostname: str = ""
    status: StepStatus = StepStatus.PENDING
    message: str = ""
    started: float | None = None
    finished: float | None = None
    attempt: int = 1

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> object:
        return value if value in StepStatus._value2member_map_ else StepStatus.INTERRUPTED

    @field_validator("message", "hostname", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return "" if value is None else value

    @property
    def finished_ok(self) -> bool:
        return self.status is StepStatus.OK

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Progress(BaseModel):
    """Counts of an operation's steps, for a progress bar and the summary line."""

    total: int = 0
    ok: int = 0
    bad: int = 0  # failed or timed out
    refused: int = 0
    cancelled: int = 0
    running: int = 0
    pending: int = 0
    unknown: int = 0  # interrupted while running

    @property
    def finished(self) -> int:
        return self.ok + self.bad + self.refused + self.cancelled

    @classmethod
    def of(cls, steps: list[StepRecord]) -> Progress:
        p = cls(total=len(steps))
        for s in steps:
            if s.status is StepStatus.OK:
                p.ok += 1
            elif s.status in BAD_STEPS:
                p.bad += 1
            elif s.status is StepStatus.REFUSED:
                p.refused += 1
            elif s.status is StepStatus.CANCELLED:
                p.cancelled += 1
            elif s.status is StepStatus.RUNNING:
                p.running += 1
            elif s.status is StepStatus.INTERRUPTED:
                p.unknown += 1
            else:
                p.pending += 1
        return p

    @classmethod
    def combined(cls, parts: Iterable[Progress]) -> Progress:
        """The counts of several operations' steps together (a walk's folded blinks)."""
        out = cls()
        for p in parts:
            for name in cls.model_fields:
                setattr(out, name, getattr(out, name) + getattr(p, name))
        return out

    def summary(self) -> str:
        parts = [f"{self.ok} ok"]
        for n, word in (
            (self.bad, "failed"),
            (self.refused, "refused"),
            (self.cancelled, "cancelled"),
            (self.unknown, "unknown"),
            (self.pending, "not run"),
            (self.running, "running"),
        ):
            if n:
                parts.append(f"{n} {word}")
        return ", ".join(parts)


def final_status(progress: Progress, cancelled: bool) -> OpStatus:
    if cancelled:
        return OpStatus.CANCELLED
    if progress.ok == progress.total:
        return OpStatus.DONE
    return OpStatus.PARTIAL if progress.ok else OpStatus.FAILED
