"""Running operations under a screen's table: one line each with a progress bar.

The app hands every operation event down (`operation_updated`); a finished operation stays a
few seconds with its result, then its line goes. Nothing here talks to devices or the store.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.model import OpStatus
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import fleet_context

LINGER_S = 8.0  # a finished operation's line stays this long
LINES_AT_MOST = 3


def progress_text(event: OperationEvent) -> str:
    p, op = event.progress, event.operation
    if op.status is OpStatus.RUNNING:
        extra = f" · {p.bad} failed" if p.bad else ""
        return f"{p.finished}/{p.total}{extra}"
    return f"{op.status.value}: {p.summary()}"


class OperationLine(Horizontal):
    def __init__(self, event: OperationEvent) -> None:
        super().__init__(classes="operation-line")
        self.op_id = event.operation.id
        self._event = event

    def compose(self) -> ComposeResult:
        event = self._event
        yield Label(visible(event.operation.title, 40), classes="operation-title")
        yield ProgressBar(
            total=max(1, event.progress.total), show_eta=False, classes="operation-bar"
        )
        yield Label(progress_text(event), classes="operation-counts")

    def on_mount(self) -> None:
        self.show(self._event)

    def show(self, event: OperationEvent) -> None:
        """Draw `event`; before the line is composed, only remember it (on_mount draws it)."""
        self._event = event
        bars = self.query(ProgressBar)
        if not bars:
            return
        p = event.progress
        bars.first().update(total=max(1, p.total), progress=p.finished)
        self.query_one(".operation-counts", Label).update(progress_text(event))
        self.set_class(event.operation.status is not OpStatus.RUNNING, "-finished")


class OperationsBar(Vertical):
    """Hidden while nothing runs."""

    def __init__(self) -> None:
        super().__init__(id="operations-bar", classes="hidden")
        self._lines: dict[str, OperationLine] = {}

    def on_mount(self) -> None:
        # a screen opened while something runs shows it at once
        for event in fleet_context(self.app).operations_now():
            if event.operation.status is OpStatus.RUNNING:
                self.operation_updated(event)

    def operation_updated(self, event: OperationEvent) -> None:
        op = event.operation
        if event.event == "interrupted":
            return  # said in a notification and in :ops; not a running line
        line = self._lines.get(op.id)
        if line is None:
            line = self._lines[op.id] = OperationLine(event)
            self.mount(line)
            for old in list(self._lines)[:-LINES_AT_MOST]:
                self._drop(old)
        else:
            line.show(event)
        if event.event == "finished":
            self.set_timer(LINGER_S, lambda: self._drop(op.id))
        self.set_class(not self._lines, "hidden")

    def _drop(self, op_id: str) -> None:
        line = self._lines.pop(op_id, None)
        if line is not None:
            line.remove()
        self.set_class(not self._lines, "hidden")
