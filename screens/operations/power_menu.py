"""Power from the TUI (`P` on the fleet table, the device screen and the rack screen): a small
menu (on, off, off --hard, cycle) for the selected or marked devices, then the usual
confirmation (a cut asks for the hostname typed out, `off --hard` for `cut N`), then a power
operation on the pipeline (core/power/service.py checks the interlocks; a refusal is shown as
its message, naming the rule). Refused outright in --readonly mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from fleet_tui.core.ops.power_actions import HARD_QUESTION, hard_word
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.operations import actions


@dataclass(frozen=True)
class PowerChoice:
    id: str  # the option's id, and the key that picks it
    kind: str  # the operation kind
    text: str
    hard: bool = False


CHOICES = (
    PowerChoice("n", "power_on", "n  power on (staggered, within the rack budget)"),
    PowerChoice("f", "power_off", "f  power off (shut down, wait, then cut the outlet)"),
    PowerChoice("h", "power_off", "h  power off --hard (cut now, no shutdown)", hard=True),
    PowerChoice("c", "power_cycle", "c  power cycle (SSH reboot, then an outlet off/on)"),
)


class PowerMenu(ModalScreen[PowerChoice | None]):
    """Which power action: arrows and enter, or its letter; esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="power_menu.cancel"),
        Binding("n", "pick('n')", "On", id="power_menu.on", show=False),
        Binding("f", "pick('f')", "Off", id="power_menu.off", show=False),
        Binding("h", "pick('h')", "Off hard", id="power_menu.hard", show=False),
        Binding("c", "pick('c')", "Cycle", id="power_menu.cycle", show=False),
    ]

    def __init__(self, names: str) -> None:
        super().__init__(classes="dialog-screen")
        self._names = names

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="power-menu"):
            yield Static(Text(f"Power: {self._names}", style="bold"), classes="dialog-title")
            yield OptionList(*(Option(c.text, id=c.id) for c in CHOICES), id="power-choices")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_pick(event.option.id or "")

    def action_pick(self, choice: str) -> None:
        self.dismiss(next((c for c in CHOICES if c.id == choice), None))

    def action_cancel(self) -> None:
        self.dismiss(None)


def request_power(screen: Screen[Any], targets: list[actions.Target]) -> None:
    """Ask which power action, then confirm and start it (see the module's docstring)."""
    app = screen.app
    if fleet_context(app).options.readonly:
        app.notify("Power refused: read-only mode", severity="warning", markup=False)
        return
    if not targets:
        app.notify("No device selected", severity="warning", markup=False)
        return
    names = ", ".join(visible(t.hostname, 30) for t in targets[:3])
    names += f" and {len(targets) - 3} more" if len(targets) > 3 else ""

    def chosen(choice: PowerChoice | None) -> None:
        if choice is None:
            return
        if choice.hard:
            actions.request(
                screen,
                choice.kind,
                targets,
                {"hard": True},
                question=HARD_QUESTION,
                typed=hard_word,
            )
        else:
            actions.request(screen, choice.kind, targets)

    app.push_screen(PowerMenu(names), chosen)
