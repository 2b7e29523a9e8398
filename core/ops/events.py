"""What an operation tells whoever watches it: the TUI draws progress bars from these, the CLI
prints them as JSON lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fleet_tui.core.ops.model import OperationRecord, Progress, StepRecord

EventName = Literal["started", "step", "finished", "interrupted"]


@dataclass(frozen=True)
class OperationEvent:
    event: EventName
    operation: OperationRecord
    progress: Progress
    step: StepRecord | None = None  # with "step": the step that changed

    def to_json(self) -> dict[str, Any]:
        op = self.operation
        out: dict[str, Any] = {
            "event": self.event,
            "operation": op.id,
            "kind": op.kind,
            "title": op.title,
            "status": op.status.value,
            "progress": self.progress.model_dump(),
        }
        if self.step is not None:
            out["step"] = self.step.to_json()
        return out
