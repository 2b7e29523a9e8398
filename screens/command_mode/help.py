"""`?`: the keys of the screen you are on (as remapped, minus what --readonly hides), what the
screen's short forms mean, and the `:` commands with their aliases.

Laid out for 80×24: every text wraps to the dialog's width (nothing is cut, nothing scrolls
sideways); the screen's own keys come first, the `:` commands follow at once, then the legend
of the screen's short forms (`HELP_LEGEND`), and the generic keys of tables and fields (cursor,
paging, focus) are one paragraph at the end. ↑/↓/pgup/pgdn scroll.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from fleet_tui.screens.common import registry
from fleet_tui.screens.common.format import safe

HIDDEN_ACTIONS = {"command_palette"}  # listed once below, not per screen
KEY_WIDTH = (3, 12)  # the first column: at least, at most (a longer remap wraps)
ID_WIDTH = 20  # the last column at most


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


def command_rows() -> list[tuple[str, str, str]]:
    """(command, what it does, its aliases) for every `:` command, then the user's aliases."""
    rows = []
    for spec in registry.commands():
        arg = f" {spec.argument}" if spec.argument else ""
        what = f"{spec.title}{arg} — {spec.help}" if spec.help else f"{spec.title}{arg}"
        rows.append((f":{spec.name}", what, " ".join(f":{a}" for a in spec.aliases)))
    for alias, target in registry.user_aliases().items():
        rows.append((f":{alias}", f":{target}", "your alias"))
    return rows


def _grid(
    headers: tuple[str, str, str], rows: list[tuple[str, str, str]], first: int, last: int
) -> Table:
    """Three columns: a narrow first one, the middle one wraps, the last one dim."""
    table = Table(box=None, padding=(0, 2, 0, 0), expand=True, header_style="bold")
    table.add_column(headers[0], width=first, overflow="fold")
    table.add_column(headers[1], ratio=1, overflow="fold")
    table.add_column(headers[2], width=last, overflow="fold", style="dim")
    for a, b, c in rows:  # untrusted text (a remapped key, an alias): made safe, never markup
        table.add_row(Text(safe(a)), Text(safe(b)), Text(safe(c)))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", id="help.close_again", show=False),
        Binding("q", "close", "Close", id="help.close_q", show=False),
    ]

    def __init__(
        self, title: str, keys: list[tuple[str, str, str]], legend: str | None = None
    ) -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._keys = keys
        self._legend = legend
        self.commands = command_rows()

    def compose(self) -> ComposeResult:
        ours = [k for k in self._keys if k[2]]
        generic = [k for k in self._keys if not k[2]]
        firsts = [k[0] for k in ours] + [c[0] for c in self.commands]
        first = min(max(KEY_WIDTH[0], *(len(f) for f in firsts)), KEY_WIDTH[1])
        lasts = [k[2] for k in ours] + [c[2] for c in self.commands]
        last = min(max(len("Id (remap)"), *(len(s) for s in lasts)), ID_WIDTH)
        with Vertical(classes="dialog", id="help-dialog"):
            yield Static(Text(f"Keys — {self._title}", style="bold"), id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(
                    _grid(("Key", "Does", "Id (remap)"), ours, first, last), id="help-keys"
                )
                yield Static(
                    _grid(
                        ("Command", "Does (: then tab completes)", "Aliases"),
                        self.commands,
                        first,
                        last,
                    ),
                    id="help-commands",
                )
                if self._legend:
                    yield Static(Text(self._legend), id="help-legend")
                if generic:
                    also = Text("Also: ", style="bold")
                    for i, (key, what, _) in enumerate(generic):
                        if i:
                            also.append(" · ")
                        also.append(safe(key), style="bold")
                        also.append(f" {safe(what)}")
                    yield Static(also, id="help-also")
            yield Static(
                Text(
                    "esc closes · ↑ ↓ pgup pgdn scroll · remap keys by id: config.toml [keys]",
                    style="dim",
                ),
                id="help-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#help-body", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss()


def show_help(app: App[Any]) -> None:
    """Push the help for whatever screen is on top (a second `?` closes it)."""
    screen = app.screen
    if isinstance(screen, HelpScreen):
        screen.dismiss()
        return
    title = getattr(screen, "HELP_TITLE", None) or type(screen).__name__.removesuffix("Screen")
    legend = getattr(screen, "HELP_LEGEND", None)
    app.push_screen(HelpScreen(title, screen_keys(screen), legend))


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
