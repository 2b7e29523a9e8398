"""What the sync screen's thread workers post back to it."""

from __future__ import annotations

from textual.message import Message

from fleet_tui.core.sync.report import ConstraintConflict
from fleet_tui.core.sync.resolve import Choice
from fleet_tui.core.sync.session import Outcome


class SyncOutcome(Message, bubble=False):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__()
        self.outcome = outcome


class SyncFailed(Message, bubble=False):
    def __init__(self, what: str, reason: str) -> None:
        super().__init__()
        self.what = what
        self.reason = reason


class ConflictsLoaded(Message, bubble=False):
    def __init__(self, conflicts: list[ConstraintConflict]) -> None:
        super().__init__()
        self.conflicts = conflicts


class ChoicesLoaded(Message, bubble=False):
    def __init__(self, conflict: ConstraintConflict, options: list[Choice]) -> None:
        super().__init__()
        self.conflict = conflict
        self.options = options
