"""`:` command mode (k9s style): a one-line prompt at the bottom with completion.

The empty prompt lists every command that exists (the demo's `:fault` too) above it, wrapped
over as many lines as that takes; while typing, that line says what the command does, or which commands start with what was typed. The
grey suggestion is the first completion; `tab` takes it, `tab` again the next one (`shift+tab`
back). Aliases complete like their command (`dev pi-5` → `dev pi-5-002`).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from fleet_tui.screens.common import registry
from fleet_tui.screens.common.format import literal


def completions(words: list[str], value: str) -> list[str]:
    """What `value` may complete to, in the order of `words` (case-insensitive, longer only).
    After an alias (`dev pi-5`), its command's arguments complete under the alias."""
    low = value.lower()
    out = [w for w in words if len(w) > len(value) and w.lower().startswith(low)]
    word, sep, rest = value.partition(" ")
    spec = registry.find(word) if sep else None
    if spec is not None and word != spec.name:
        full = f"{spec.name} {rest}".lower()
        out += [
            word + w[len(spec.name) :]
            for w in words
            if len(w) > len(full) and w.lower().startswith(full)
        ]
    return list(dict.fromkeys(out))


class CommandSuggester(Suggester):
    """The grey suggestion: the first of `completions`, so `tab` takes what is shown."""

    def __init__(self, words: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.words = words

    async def get_suggestion(self, value: str) -> str | None:
        found = completions(self.words, value) if value else []
        return found[0] if found else None


def hint_for(value: str) -> Text:
    """The line above the prompt while typing: what the command does, or what matches."""
    word = value.strip().split(" ", 1)[0]
    if not word:
        return Text("")
    spec = registry.find(word)
    if spec is not None:
        return literal(registry.usage(spec))
    alias = registry.user_aliases().get(word)
    if alias is not None:
        return literal(f":{word} → :{alias} (your alias)")
    near = registry.matches(word)
    if len(near) == 1 and " " not in value.strip():
        return literal(f"tab: {registry.usage(near[0])}")
    if near:
        return literal("tab: " + " · ".join(f":{s.name}" for s in near))
    return literal(f"no command starts with :{word} · esc cancels · :help lists them")


class CommandPrompt(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
        Binding("tab", "complete(1)", "Complete", id="prompt.complete", show=False),
        Binding("shift+tab", "complete(-1)", "Previous", id="prompt.complete_back", show=False),
    ]

    def __init__(self, suggestions: list[str], blink: bool = True) -> None:
        super().__init__(id="command-prompt")
        self._suggestions = suggestions
        self._blink = blink
        self._cycle: tuple[str, list[str], int] | None = None  # (typed, completions, shown)
        self._completed: str | None = None  # the value `tab` put in (not the user's typing)

    def compose(self) -> ComposeResult:
        yield Static(literal(registry.listing()), id="command-hint", classes="listing")
        with Horizontal(id="command-bar"):
            yield Static(Text(":", style="bold"), id="command-colon")
            yield Input(
                id="command-input",
                placeholder=registry.PROMPT_PLACEHOLDER,
                suggester=CommandSuggester(self._suggestions),
            )

    def on_mount(self) -> None:
        field = self.query_one("#command-input", Input)
        field.cursor_blink = self._blink
        field.focus()

    @property
    def field(self) -> Input:
        return self.query_one("#command-input", Input)

    @on(Input.Changed, "#command-input")
    def _changed(self, event: Input.Changed) -> None:
        if event.value != self._completed:
            self._cycle = None  # typed by the user: the next tab starts from this
        hint = self.query_one("#command-hint", Static)
        typing = bool(event.value.strip())
        hint.update(hint_for(event.value) if typing else literal(registry.listing()))
        hint.set_class(not typing, "listing")

    def action_complete(self, step: int) -> None:
        field = self.field
        if self._cycle is None:
            typed = field.value
            found = (
                completions(self._suggestions, typed)
                if typed
                else [s.name for s in registry.commands()]
            )
            index = 0 if step > 0 else len(found) - 1
        else:
            typed, found, shown = self._cycle
            index = (shown + step) % (len(found) + 1)  # one past the end: back to what was typed
        if not found:
            self.app.bell()
            return
        value = found[index] if index < len(found) else typed
        self._cycle = (typed, found, index)
        self._completed = value
        field.value = value
        field.cursor_position = len(value)

    @on(Input.Submitted, "#command-input")
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
