"""Small modal dialogs: a typed yes/no confirmation, a choice among a few actions, and the
export file prompt."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Choice:
    id: str  # what the dialog answers
    label: str
    variant: str = "default"  # a Button variant: default | primary | error | warning


class ChoiceDialog(ModalScreen[str | None]):
    """Ask which of a few actions to take; answers the chosen id. `escape` (and the first
    choice, focused) is the safe one: it answers None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, body: Text, safe: str, choices: list[Choice]) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._body, self._safe, self._choices = title, body, safe, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="choice-dialog"):
            yield Static(Text(self._title, style="bold"), classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._safe, id="cancel")
                for choice in self._choices:
                    yield Button(
                        choice.label,
                        id=f"choice-{choice.id}",
                        variant=choice.variant,  # type: ignore[arg-type]
                    )

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id or ""
        self.dismiss(button.removeprefix("choice-") if button.startswith("choice-") else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class _Writable(Validator):
    """A file name whose folder exists (or is `makeable`, the default export folder)."""

    def __init__(self, makeable: Path | None) -> None:
        super().__init__()
        self._makeable = makeable

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.failure("give a file name")
        path = Path(value.strip()).expanduser().absolute()
        if path.is_dir():
            return self.failure(f"{path} is a folder; give a file name")
        if not path.parent.is_dir() and path.parent != self._makeable:
            return self.failure(f"{path.parent} is not a folder")
        return self.success()


@dataclass(frozen=True)
class ExportChoice:
    path: Path  # absolute
    replace: bool  # the user said to replace the file there


class ExportDialog(ModalScreen[ExportChoice | None]):
    """Where to write the CSV of what a table shows; asks again before replacing a file."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, what: str, default: Path, makeable: Path | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self._what, self._default, self._makeable = what, default, makeable

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export-dialog"):
            yield Static(Text(f"Export {self._what} to CSV", style="bold"), classes="dialog-title")
            yield Input(
                str(self._default), id="export-path", validators=[_Writable(self._makeable)]
            )
            yield Static(id="export-problem", classes="dialog-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Export", id="export", variant="primary")

    def on_mount(self) -> None:
        field = self.query_one("#export-path", Input)
        field.focus()
        self._say(field.value)

    def _path(self, value: str) -> Path:
        return Path(value.strip()).expanduser().absolute()

    def _say(self, value: str) -> bool:
        """Show what is wrong with `value`, or that it exists; True when it can be used."""
        result = self.query_one("#export-path", Input).validate(value)
        if result is not None and not result.is_valid:
            problem = "; ".join(result.failure_descriptions)
        elif self._path(value).exists():
            problem = f"{self._path(value)} exists: Export asks before replacing it"
        else:
            problem = ""
        self.query_one("#export-problem", Static).update(Text(problem))
        return result is None or result.is_valid

    @on(Input.Changed, "#export-path")
    def _changed(self, event: Input.Changed) -> None:
        self._say(event.value)

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def _submit(self) -> None:
        value = self.query_one("#export-path", Input).value
        if not self._say(value):
            return
        path = self._path(value)
        if not path.exists():
            self.dismiss(ExportChoice(path, replace=False))
            return

        def answered(replace: bool | None) -> None:
            if replace:
                self.dismiss(ExportChoice(path, replace=True))
            else:
                self.query_one("#export-path", Input).focus()

        body = Text.assemble(
            (str(path), "bold"), f" exists.\nReplace it with the CSV of {self._what}?"
        )
        self.app.push_screen(
            ConfirmDialog("Replace the file?", body, "Replace", danger=True), answered
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
