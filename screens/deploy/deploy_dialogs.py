"""The `:deploy` screen's questions: where and how to deploy a release (or roll one back),
checked with the same code as `fleet-tui deploy` (core/deploy/start.py) before it closes."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from fleet_tui.core.deploy.rollout import Options
from fleet_tui.core.deploy.start import BY_CHOICES, make_options
from fleet_tui.core.deploy.waves import WaveError
from fleet_tui.screens.common.format import literal


@dataclass(frozen=True)
class StartChoice:
    release: str  # name@version, or a bare name: a rollback to each Pi's own previous
    options: Options


class StartDialog(ModalScreen[StartChoice | None]):
    """Deploy NAME@VERSION (or roll NAME back): the fleet filter, canary, batch, spread."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(
        self, kind: str, name: str, version: str = "", target: str = "*", ask_version: bool = False
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.kind, self.release_name, self.version = kind, name, version
        self.target, self.ask_version = target, ask_version

    def compose(self) -> ComposeResult:
        what = f"{self.release_name}@{self.version}" if not self.ask_version else self.release_name
        title = f"{self.kind.capitalize()} {what}"
        with Vertical(classes="dialog", id="deploy-dialog"):
            yield Static(literal(title, "bold", 70), classes="dialog-title")
            if self.ask_version:
                with Horizontal(classes="deploy-field"):
                    yield Label("Version")
                    yield Input(
                        self.version, id="deploy-version", placeholder="a kept version, e.g. 1.0"
                    )
            with Horizontal(classes="deploy-field"):
                yield Label("To")
                yield Input(self.target, id="deploy-to", placeholder="tag:lab, rack:R1, * = all")
            with Horizontal(classes="deploy-field"):
                yield Label("Canary")
                yield Input("1", id="deploy-canary", type="integer")
            with Horizontal(classes="deploy-field"):
                yield Label("Batch")
                yield Input("25%", id="deploy-batch", placeholder="N or P%")
            with Horizontal(classes="deploy-field"):
                yield Label("By")
                yield Input("", id="deploy-by", placeholder=" | ".join(BY_CHOICES))
            yield Static(id="deploy-problem", classes="dialog-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Check", id="check", variant="primary")

    def on_mount(self) -> None:
        first = "#deploy-version" if self.ask_version else "#deploy-to"
        self.query_one(first, Input).focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#deploy-{field}", Input).value.strip()

    @on(Input.Submitted)
    @on(Button.Pressed, "#check")
    def _submit(self) -> None:
        try:
            canary = int(self._value("canary") or "0")
            options = make_options(
                self.kind,
                self._value("to"),
                canary=canary,
                batch=self._value("batch") or "25%",
                by=self._value("by") or None,
            )
        except (WaveError, ValueError) as e:
            self.query_one("#deploy-problem", Static).update(Text(str(e)))
            return
        version = self._value("version") if self.ask_version else self.version
        ref = f"{self.release_name}@{version}" if version else self.release_name
        self.dismiss(StartChoice(ref, options))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
