"""The sync screen's conflict resolution: which placement stays? Returns its id, or None."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from fleet_tui.core.sync.report import ConstraintConflict
from fleet_tui.core.sync.resolve import Choice, describe
from fleet_tui.screens.common.format import literal


class KeepDialog(ModalScreen[str | None]):
    """Which placement stays? Returns its id, or None (esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="sync.keep.cancel")
    ]

    def __init__(self, conflict: ConstraintConflict, options: list[Choice]) -> None:
        super().__init__(classes="dialog-screen")
        self._conflict = conflict
        self._options = options

    def compose(self) -> ComposeResult:
        question = (
            "Which device keeps the slot?"
            if self._conflict.kind == "slot-shared"
            else "Where does the device stay?"
        )
        with Vertical(classes="dialog", id="keep-dialog"):
            yield Static(literal(describe(self._conflict), "bold", 200), classes="dialog-title")
            yield Static(Text(question))
            yield OptionList(
                *(Option(literal(c.label, limit=120), id=c.placement) for c in self._options),
                id="keep-options",
            )
            yield Static(
                Text(
                    "The other placements are removed (their devices become unplaced); "
                    "the choice is logged and merges like any edit. esc cancels.",
                    style="dim",
                )
            )

    def on_mount(self) -> None:
        self.query_one("#keep-options", OptionList).focus()

    @on(OptionList.OptionSelected, "#keep-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
