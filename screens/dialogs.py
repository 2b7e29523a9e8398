"""Small modal dialogs: a typed yes/no confirmation and the export file prompt."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Static


class ConfirmDialog(ModalScreen[bool]):
    """Ask before acting. With `typed`, the user must type that word to enable the action."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(
        self, title: str, body: Text, action: str, *, danger: bool = False, typed: str | None = None
    ) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._body, self._action = title, body, action
        self._danger, self._typed = danger, typed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-dialog"):
            yield Static(Text(self._title, style="bold"), classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            if self._typed is not None:
                yield Static(Text.assemble("Type ", (self._typed, "bold"), " to confirm:"))
                yield Input(id="confirm-typed", placeholder=self._typed)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(
                    self._action,
                    id="confirm",
                    variant="error" if self._danger else "primary",
                    disabled=self._typed is not None,
                )

    def on_mount(self) -> None:
        if self._typed is not None:
            self.query_one("#confirm-typed", Input).focus()
        elif self._danger:
            self.query_one("#cancel", Button).focus()
        else:
            self.query_one("#confirm", Button).focus()

    @on(Input.Changed, "#confirm-typed")
    def _typed_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value.strip() != self._typed

    @on(Input.Submitted, "#confirm-typed")
    def _typed_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self._typed:
            self.dismiss(True)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class _NewFile(Validator):
    def validate(self, value: str) -> ValidationResult:
        path = Path(value.strip()).expanduser()
        if not value.strip():
            return self.failure("give a file name")
        if path.exists():
            return self.failure(f"{path} exists; choose another name")
        if not path.parent.is_dir():
            return self.failure(f"{path.parent} is not a directory")
        return self.success()


class ExportDialog(ModalScreen[Path | None]):
    """Where to write the CSV of what a table shows."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, what: str, default: Path) -> None:
        super().__init__(classes="dialog-screen")
        self._what, self._default = what, default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export-dialog"):
            yield Static(Text(f"Export {self._what} to CSV", style="bold"), classes="dialog-title")
            yield Input(str(self._default), id="export-path", validators=[_NewFile()])
            yield Static(id="export-problem", classes="dialog-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Export", id="export", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    @on(Input.Changed, "#export-path")
    def _changed(self, event: Input.Changed) -> None:
        result = event.validation_result
        problem = (
            "" if result is None or result.is_valid else "; ".join(result.failure_descriptions)
        )
        self.query_one("#export-problem", Static).update(Text(problem))

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def _submit(self) -> None:
        field = self.query_one("#export-path", Input)
        result = field.validate(field.value)
        if result is not None and not result.is_valid:
            self.query_one("#export-problem", Static).update(
                Text("; ".join(result.failure_descriptions))
            )
            return
        self.dismiss(Path(field.value.strip()).expanduser().absolute())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
