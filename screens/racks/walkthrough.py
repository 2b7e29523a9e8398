"""`:walk RACK`: walk a rack position by position with the keyboard (core/racks/walkthrough.py).

The screen says which slot to look at (and draws where it is in the rack), what should be
there, and blinks that Pi's ACT LED (an identify operation; the previous blink stops). The
technician answers `y` (it is the blinking one), `n` (a Pi, not the blinking one), `e` (empty)
or scans the serial / asset tag: a USB barcode scanner types the code fast and presses Enter,
so printable keys go into the scan field and Enter submits it. An answer letter typed into an
empty field is an answer unless more keys follow within SCANNER_GAP_S (a scanner's code may
start with that letter). `s` stops (`:walk RACK` resumes, also a walk merged from another
laptop), `r` blinks candidates one by one to identify an unknown Pi (and offers to place it
there), and at the end `f` applies the next placement fix, confirmed (core/racks/walk_fixes.py:
fixes come only from evidence; `n` stays at the position and asks for a scan). `--readonly`: look only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static

from fleet_tui.assets import asset
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.racks.audits import Result, technician
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.known import Known
from fleet_tui.core.racks.layout import load_elevation
from fleet_tui.core.racks.walk_blink import WalkBlink
from fleet_tui.core.racks.walk_fixes import Fix, fix_at, fixes, summary, unresolved
from fleet_tui.core.racks.walk_order import walk_positions
from fleet_tui.core.racks.walkthrough import (
    EMPTY,
    NO,
    YES,
    Outcome,
    WalkState,
    Walkthroughs,
    reverse_candidates,
)
from fleet_tui.core.store.database import StoreError
from fleet_tui.core.text import visible
from fleet_tui.screens.command_mode.help import show_help
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.registry import CommandError, CommandSpec, register_command

SCANNER_GAP_S = 0.15  # an answer key followed this soon by another key is a scan's first key
PICTURE_UNITS = 3  # units drawn above and below the one to look at
MODIFYING = {"yes", "no", "empty", "reverse", "fix"}
RESULT_STYLE = {
    Result.OK: "bold green",
    Result.MOVED: "bold yellow",
    Result.MISSING: "bold red",
    Result.UNEXPECTED: "bold yellow",
    Result.UNKNOWN: "bold magenta",
}
KEY_ACTIONS = {"y": "yes", "n": "no", "e": "empty", "s": "stop", "r": "reverse", "f": "fix"}


class WalkLoaded(Message, bubble=False):
    def __init__(self, state: WalkState, resumed: bool, known: Known) -> None:
        super().__init__()
        self.state, self.resumed, self.known = state, resumed, known


class Answered(Message, bubble=False):
    def __init__(
        self, outcome: Outcome | None, error: str = "", answer: str = "", index: int = 0
    ) -> None:
        super().__init__()
        self.outcome, self.error, self.answer, self.index = outcome, error, answer, index


@dataclass
class _Reverse:
    """Blinking candidates one by one for the Pi at one position."""

    index: int
    serials: list[str]
    at: int = 0


class ScanField(Input):
    """The scan field. A scanner types a code and Enter; answer keys typed into the empty
    field wait SCANNER_GAP_S for a next key before they count as an answer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="scan or type a serial / asset tag, then Enter", **kwargs)
        self._pending: Timer | None = None

    async def _on_key(self, event: events.Key) -> None:
        if self._pending is not None:  # a second key soon after: a scan, keep typing
            self._pending.stop()
            self._pending = None
        elif not self.value and event.character in KEY_ACTIONS:
            key = event.character
            self._pending = self.set_timer(SCANNER_GAP_S, lambda: self._answer_key(key))
        elif not self.value and event.character == "?":
            event.stop()
            event.prevent_default()
            show_help(self.app)
            return
        await super()._on_key(event)

    def _answer_key(self, key: str) -> None:
        self._pending = None
        if self.value == key:  # nothing followed: the letter was an answer
            self.value = ""
            screen = self.screen
            if isinstance(screen, WalkScreen):
                screen.run_key(key)


class WalkScreen(Screen[None]):
    CSS_PATH = asset("walkthrough.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="walk.back", key_display="esc"),
        Binding("y", "yes", "Yes", id="walk.yes", tooltip="the blinking Pi is there"),
        Binding("n", "no", "No", id="walk.no", tooltip="a Pi, not the blinking one"),
        Binding("e", "empty", "Empty", id="walk.empty", tooltip="nothing in this slot"),
        Binding("s", "stop", "Stop", id="walk.stop", tooltip="stop here; :walk RACK resumes"),
        Binding("r", "reverse", "Find Pi", id="walk.reverse", tooltip="blink candidates"),
        Binding("f", "fix", "Fix", id="walk.fix", tooltip="apply the next placement fix"),
        Binding("up", "move(-1)", "Prev", id="walk.prev", show=False),
        Binding("down", "move(1)", "Next", id="walk.next", show=False),
    ]
    HELP_LEGEND = (
        "y yes it blinks · n a Pi, not the blinking one (then scan it, or r) · e empty · or "
        "scan its serial or asset tag (Enter) · r blink candidates for an unknown Pi, y places "
        "it · ↓ after the last: the summary · f apply a fix · s stop"
    )

    def __init__(self, rack: str) -> None:
        super().__init__(id="walk")
        self.rack_ref = rack
        self.state: WalkState | None = None
        self.known: Known | None = None
        self.index: int | None = None
        self.blink = WalkBlink()
        self.reverse: _Reverse | None = None
        self.last: Text = Text("")
        self.last_at: int | None = None  # the position `last` is about

    def _keys(self) -> Text:
        """The answer keys: the footer leaves out letters while the scan field has the focus."""
        if self.readonly:
            return Text("↑↓ positions · esc back (read-only)", style="dim")
        if self.state is not None and self.index is None:  # the summary
            return Text(
                "f fix the first placement (confirmed) · ↑↓ positions · s stop", style="dim"
            )
        return Text(
            "y it blinks · n not it · e empty · r find Pi · ↑↓ positions · f fix · s stop",
            style="dim",
        )

    @property
    def readonly(self) -> bool:
        return fleet_context(self.app).options.readonly

    def compose(self) -> ComposeResult:
        yield Header()
        if self.readonly:
            yield Static("read-only: look only, nothing is recorded, nothing blinks", id="walk-ro")
        yield Static(id="walk-where")
        yield Static(id="walk-picture")
        yield Static(id="walk-expected")
        yield Static(id="walk-last")
        yield ScanField(id="walk-scan")
        yield Static(self._keys(), id="walk-keys")
        yield Static(id="walk-summary")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = f"walkthrough {visible(self.rack_ref, 40)}"
        self.query_one("#walk-scan", ScanField).focus()
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MODIFYING and self.readonly:
            return False
        return True

    # ---- loading ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="walk-load", exit_on_error=False)
    def load(self) -> None:
        ctx = fleet_context(self.app)
        try:
            if self.readonly:
                store = ctx.read_store()
                if store is None:
                    raise StoreError("no fleet database")
                walks = Walkthroughs(store)
                rack = RackBook(store).find_rack(self.rack_ref)
                session = walks.open_for(rack.id)
                if session is not None:
                    state = walks.state(session)
                else:
                    elev = load_elevation(store, rack.id)
                    state = WalkState("", rack, elev, walk_positions(elev))
                resumed = session is not None
            else:
                store = ctx.write_store()
                walks = Walkthroughs(store)
                if self.state is not None and self.state.session:  # again, after a fix
                    session, resumed = self.state.session, True
                else:
                    session, resumed = walks.begin(
                        self.rack_ref, technician(ctx.options.technician)
                    )
                state = walks.state(session)
            known = Known.load(store)
        except (RackError, StoreError) as e:
            self.app.call_from_thread(self._failed, str(e))
            return
        self.post_message(WalkLoaded(state, resumed, known))

    def _failed(self, message: str) -> None:
        self.app.notify(visible(message, 300), title="Walkthrough", severity="error", markup=False)
        self.query_one("#walk-where", Static).update(
            Text.assemble((visible(message, 300), "bold red"), "  (esc: back)")
        )

    def on_walk_loaded(self, message: WalkLoaded) -> None:
        first = self.state is None
        self.state, self.known = message.state, message.known
        self.blink.session, self.blink.rack = self.state.session, visible(self.state.rack.name, 40)
        if message.resumed and first:
            self.last = Text(f"resumed: {self.state.answered} of {self.state.total} answered")
        if self.index is None or self.state.done:
            self.index = self.state.next_index()
        self.show()

    # ---- drawing ------------------------------------------------------------------------------
    def show(self) -> None:
        state, known = self.state, self.known
        if state is None or known is None:
            return
        where = self.query_one("#walk-where", Static)
        expected = self.query_one("#walk-expected", Static)
        summary_box = self.query_one("#walk-summary", Static)
        self.query_one("#walk-last", Static).update(self.last)
        self.query_one("#walk-keys", Static).update(self._keys())
        scan = self.query_one("#walk-scan", ScanField)
        scan.display = self.index is not None  # no scanning on the summary
        if scan.display and not scan.has_focus:
            scan.focus()
        if self.index is None:  # every position answered
            where.update(Text(f"{visible(state.rack.name, 40)}: every position answered"))
            self.query_one("#walk-picture", Static).update("")
            expected.update("")
            summary_box.update(self._summary_text())
            self._blink(None)
            self._finish()
            return
        summary_box.update("")
        p = state.positions[self.index]
        head = Text()
        head.append(state.where(p), style="bold")
        if p.face == "rear":
            head.append("  (go round to the back)")
        head.append(f"   position {self.index + 1} of {state.total}", style="dim")
        head.append(f" · {state.answered} answered", style="dim")
        where.update(head)
        self.query_one("#walk-picture", Static).update(self._picture())
        if self.reverse is not None:
            serial = self.reverse.serials[self.reverse.at]
            text = Text("Is this one blinking now? ")
            text.append(known.name(serial), style="bold")
            text.append(f"  ({self.reverse.at + 1} of {len(self.reverse.serials)})  ")
            text.append("y it is · n next · esc give up", style="dim")
            expected.update(text)
            self._blink(serial, state.where(p))
            return
        text = Text("should be here: ")
        if p.expected:
            d = known.devices.get(p.expected)
            text.append(known.name(p.expected), style="bold")
            text.append(f"  serial {p.expected}")
            if d is not None and d.label:
                text.append(f"  tag {visible(d.label, 30)}")
        else:
            text.append("nothing", style="bold")
        answered = state.answers.get(p.key)
        if answered is not None and self.last_at != self.index:
            text.append(f"\nanswered before: {answered.result}", style="dim")
        expected.update(text)
        self._blink(p.expected or None, state.where(p))

    def _picture(self) -> Text:
        """The units around the one to look at, its slot marked."""
        state = self.state
        assert state is not None and self.index is not None
        p = state.positions[self.index]
        units = state.elevation.units
        at = next(i for i, u in enumerate(units) if u.number == p.unit)
        out = Text()
        for u in units[max(0, at - PICTURE_UNITS) : at + PICTURE_UNITS + 1]:
            here = u.number == p.unit
            out.append(("▶" if here else " ") + f"U{u.number:<3}", style="bold" if here else "dim")
            if u.kind == "tray":
                for s in range(1, u.slots + 1):
                    mark = "■" if (s, p.face) in u.occupants else "·"
                    mine = here and s == p.slot
                    out.append(f"[{mark}]", style="reverse bold" if mine else "")
            elif u.kind == "device":
                out.append(" ██ full width", style="reverse bold" if here else "")
            elif u.item is not None:
                out.append(f" {u.item.kind} {visible(u.item.label, 20)}", style="dim")
            else:
                out.append(" ·", style="dim")
            out.append("\n")
        return out

    def _summary_text(self) -> Text:
        state, known = self.state, self.known
        assert state is not None and known is not None
        counts = summary(state)
        text = Text("Summary: ", style="bold")
        text.append(", ".join(f"{n} {what}" for what, n in sorted(counts.items())) + "\n")
        pending = [f for f in fixes(state, known) if not f.done(known)]
        if pending:
            text.append(f"Placements to fix ({len(pending)}; f applies the first):\n")
            for f in pending:
                text.append(f"  {f.text}\n")
        else:
            text.append("No placement to fix.\n")
        questions = unresolved(state, known)
        if questions:
            text.append("To check (no one-key fix; ↑ to the position, scan or r):\n")
        for q in questions:
            text.append(f"  {q}\n", style="magenta")
        return text

    # ---- blinking -----------------------------------------------------------------------------
    def _blink(self, serial: str | None, here: str = "") -> None:
        """Blink `serial` at position `here` (through the operation runner, titled after the
        walk and the position), stopping the previous blink."""
        if self.readonly:
            return
        ctx = fleet_context(self.app)
        target = None
        if serial is not None and ctx.live_state(serial) is not None:  # reachable now
            target = DeviceTarget(serial, self.known.name(serial) if self.known else serial)
        for r in self.blink.show(target, here):
            ctx.start_operation("identify", [r.target], r.params, title=r.title)

    def on_unmount(self) -> None:
        self._blink(None)

    # ---- answers ------------------------------------------------------------------------------
    def run_key(self, key: str) -> None:
        """An answer letter typed into the empty scan field (ScanField)."""
        action = KEY_ACTIONS[key]
        if self.check_action(action, ()):
            getattr(self, f"action_{action}")()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        code = event.value
        event.input.value = ""
        if code.strip():
            self._answer(code)

    def action_yes(self) -> None:
        if self.reverse is not None:
            self._identified(self.reverse.serials[self.reverse.at])
        else:
            self._answer(YES)

    def action_no(self) -> None:
        if self.reverse is not None:
            self.reverse.at = (self.reverse.at + 1) % len(self.reverse.serials)
            self.show()
        else:
            self._answer(NO)

    def action_empty(self) -> None:
        if self.reverse is None:
            self._answer(EMPTY)

    def action_move(self, step: int) -> None:
        """↑↓: the previous / next position; once every position is answered, the summary
        is one more stop after the last position."""
        state = self.state
        if state is None or not state.total:
            return
        if self.index is None:  # on the summary
            self.index = 0 if step > 0 else state.total - 1
        else:
            nxt = self.index + step
            if state.done and not 0 <= nxt < state.total:
                self.index, self.last, self.last_at = None, Text(""), None
            else:
                self.index = nxt % state.total
        self.reverse = None
        self.show()

    def _answer(self, answer: str) -> None:
        if self.readonly:
            self.app.notify("read-only: answers are not recorded", markup=False)
            return
        if self.state is None or self.index is None or not self.state.session:
            return
        self._write(self.index, answer)

    @work(thread=True, group="walk-write", exit_on_error=False, description="recording an answer")
    def _write(self, index: int, answer: str, serial: str | None = None) -> None:
        ctx = fleet_context(self.app)
        state = self.state
        assert state is not None
        try:
            walks = Walkthroughs(ctx.write_store())
            if serial is not None:
                outcome = walks.identified(state, index, serial, technician(ctx.options.technician))
            else:
                outcome = walks.answer(state, index, answer, technician(ctx.options.technician))
        except (RackError, StoreError) as e:
            self.post_message(Answered(None, str(e)))
            return
        self.post_message(
            Answered(outcome, answer="" if serial is not None else answer, index=index)
        )

    def on_answered(self, message: Answered) -> None:
        if message.outcome is None:
            self.last = Text(visible(message.error, 300), style="bold red")
            self.show()
            return
        o = message.outcome
        self.last = Text.assemble((o.result.value, RESULT_STYLE[o.result]), ": ", o.message)
        self.last_at = message.index
        identified = self.reverse is not None
        self.reverse = None
        if message.answer == NO:  # no evidence yet: stay, and ask for some (scan or r)
            self.last = Text(o.message, style=RESULT_STYLE[o.result])
            self.show()
            return
        if identified and o.result in (Result.MOVED, Result.UNEXPECTED):
            self._offer_place(message.index)
        if self.state is not None:
            self.index = self.state.next_index(message.index)
        self.show()

    def _offer_place(self, index: int) -> None:
        """Reverse identification found the Pi at `index`: place it there now (confirmed)."""
        state, known = self.state, self.known
        if state is None or known is None:
            return
        fix = fix_at(state, known, state.positions[index])
        if fix is None or fix.done(known):
            return
        dialog = ConfirmDialog("Place it here now?", Text(fix.text), "Place")

        def answered(ok: bool | None) -> None:
            if ok:
                self._apply(fix)

        self.app.push_screen(dialog, answered)

    # ---- reverse identification ---------------------------------------------------------------
    def action_reverse(self) -> None:
        if self.state is None or self.known is None or self.index is None:
            return
        serials = reverse_candidates(self.state, self.index, self.known)
        if not serials:
            self.app.notify("No candidate: every known Pi is placed and confirmed", markup=False)
            return
        self.reverse = _Reverse(self.index, serials)
        self.show()

    def _identified(self, serial: str) -> None:
        if self.reverse is not None:
            self._write(self.reverse.index, "", serial)

    # ---- the end ------------------------------------------------------------------------------
    @work(thread=True, group="walk-finish", exit_on_error=False, description="finishing")
    def _finish(self) -> None:
        state = self.state
        if self.readonly or state is None or not state.session:
            return
        walks = Walkthroughs(fleet_context(self.app).write_store())
        if walks.row(state.session).get("status") != "finished":
            walks.finish(state.session)

    def action_fix(self) -> None:
        state, known = self.state, self.known
        if state is None or known is None or not state.done:
            self.app.notify("Fixes come at the end of the walk", markup=False)
            return
        pending = [f for f in fixes(state, known) if not f.done(known)]
        if not pending:
            self.app.notify("No placement to fix", markup=False)
            return
        fix = pending[0]
        dialog = ConfirmDialog("Fix this placement?", Text(fix.text), "Fix")

        def answered(ok: bool | None) -> None:
            if ok:
                self._apply(fix)

        self.app.push_screen(dialog, answered)

    @work(thread=True, group="walk-write", exit_on_error=False, description="fixing a placement")
    def _apply(self, fix: Fix) -> None:
        ctx = fleet_context(self.app)
        try:
            fix.apply(RackBook(ctx.write_store()))
        except (RackError, StoreError) as e:
            ctx.report_error("Fix", str(e))
            return
        self.last = Text(f"fixed: {fix.text}")
        self.app.call_from_thread(self.load)

    # ---- leaving ------------------------------------------------------------------------------
    def action_stop(self) -> None:
        state = self.state
        if state is not None and state.session and not state.done:
            self.app.notify(
                f"Walk stopped at {state.answered} of {state.total}: :walk "
                f"{state.rack.name} resumes it",
                markup=False,
            )
        self.dismiss()

    def action_back(self) -> None:
        if self.reverse is not None:
            self.reverse = None
            self.show()
            return
        self.action_stop()


def _open_walk(app: App[Any], arg: str) -> None:
    if not arg.strip():
        raise CommandError(":walk needs a rack: :walk R2 (or ROOM/R2)")
    app.push_screen(WalkScreen(arg.strip()))


register_command(
    CommandSpec(
        "walk",
        ("wk", "audit"),
        "Rack walkthrough",
        "walk a rack slot by slot: y / n / e or scan; resumes an open walk; fixes at the end",
        _open_walk,
        argument="RACK",
    )
)
