"""`:` command mode (k9s style): a one-line prompt at the bottom with completion."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static


class CommandPrompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, suggestions: list[str], blink: bool = True) -> None:
        super().__init__(id="command-prompt")
        self._suggestions = suggestions
        self._blink = blink

    def compose(self) -> ComposeResult:
        with Horizontal(id="command-bar"):
            yield Static(Text(":", style="bold"), id="command-colon")
            yield Input(
                id="command-input",
                placeholder="fleet · device HOST · help · quit   (tab completes)",
                suggester=SuggestFromList(self._suggestions, case_sensitive=False),
            )

    def on_mount(self) -> None:
        field = self.query_one("#command-input", Input)
        field.cursor_blink = self._blink
        field.focus()

    @on(Input.Submitted, "#command-input")
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
