"""`?`: the keys of the screen you are on (as remapped, minus what --readonly hides), and the
`:` commands with their aliases."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from fleet_tui.screens import registry
from fleet_tui.screens.format import literal

HIDDEN_ACTIONS = {"command_palette"}  # listed once below, not per screen


def screen_keys(screen: Screen[Any]) -> list[tuple[str, str, str]]:
    """(key, what it does, binding id) for every active binding with a description."""
    out = []
    seen: set[tuple[str, str]] = set()
    for key, active in screen.active_bindings.items():
        b: Binding = active.binding
        if not b.description or b.system:
            continue
        what = f"{b.description} — {b.tooltip}" if b.tooltip else b.description
        if (what, b.id or "") in seen:
            continue
        seen.add((what, b.id or ""))
        out.append((_label(screen.app, key, active), what, b.id or ""))
    # ours first (they carry ids), then the generic keys of tables and inputs
    return [k for k in out if k[2]] + [k for k in out if not k[2]]


def _label(app: App[Any], key: str, active: ActiveBinding) -> str:
    return active.binding.key_display or app.get_key_display(active.binding)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", id="help.close_again", show=False),
        Binding("q", "close", "Close", id="help.close_q", show=False),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help-dialog"):
            yield Static(Text(f"Keys — {self._title}", style="bold"), classes="dialog-title")
            yield DataTable(id="help-keys", cursor_type="row", show_cursor=False)
            yield Static(Text("esc closes · remap keys by id in config.toml [keys]", style="dim"))

    def on_mount(self) -> None:
        table = self.query_one("#help-keys", DataTable)
        table.add_column("Key", width=9)
        table.add_column("Does", width=40)
        table.add_column("Id (remap)", width=17)
        for key, what, bid in self._keys:
            table.add_row(literal(key), literal(what), literal(bid, "dim"))
        table.add_row(Text(""), Text(""), Text(""))
        for spec in registry.commands():
            names = ", ".join(f":{w}" for w in (spec.name, *spec.aliases))
            arg = f" {spec.argument}" if spec.argument else ""
            table.add_row(literal(names), literal(spec.title + arg), Text(""))
        for alias, target in registry.user_aliases().items():
            table.add_row(literal(f":{alias}"), literal(target), Text("(your alias)", style="dim"))
        table.focus()

    def action_close(self) -> None:
        self.dismiss()


def show_help(app: App[Any]) -> None:
    """Push the help for whatever screen is on top (a second `?` closes it)."""
    screen = app.screen
    if isinstance(screen, HelpScreen):
        screen.dismiss()
        return
    title = getattr(screen, "HELP_TITLE", None) or type(screen).__name__.removesuffix("Screen")
    app.push_screen(HelpScreen(title, screen_keys(screen)))


registry.register_command(
    registry.CommandSpec(
        "help",
        ("h", "?", "keys"),
        "Keys and commands",
        "the keys of the current screen",
        lambda app, arg: show_help(app),
        screen=False,
    )
)
