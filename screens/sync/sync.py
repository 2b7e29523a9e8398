"""Sync: pick a peer file or a host, preview what would change, merge, resolve conflicts.

The peer is a file (a snapshot on a USB stick) or a mailbox over SSH (`[user@]host[:path]`,
`ssh://[user@]host[:port]/path`). Enter previews (a dry run: nothing changes), `m` merges
after a confirmation, `r` resolves the conflict under the cursor by choosing which placement
stays. Every store call runs in a thread worker (core/sync/session.py does the work); the SSH
exchange runs on the fleet pipeline's event loop (FleetContext.run_on_pipeline; with no
pipeline, on a loop of the worker's own) while the worker waits for it; results come back as
messages. The mailbox host's key is pinned like a Pi's: a first-use pin is a notification, a
changed key a failed preview. CLI twins: `fleet-tui merge [--dry-run]`, `fleet-tui sync`.

What it shows lives in sync_report (status, changes, edits, conflicts); the resolution dialog
in sync_keep; the workers' messages in sync_messages.
"""

from __future__ import annotations

from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static, TabbedContent, TabPane

from fleet_tui.assets import asset
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.sync.report import ConstraintConflict
from fleet_tui.core.sync.resolve import choices, resolve
from fleet_tui.core.sync.session import Outcome, Peer, SessionError, apply, classify, preview
from fleet_tui.screens.command_mode.help import show_help
from fleet_tui.screens.common.context import ReadOnlyError, fleet_context, reload_fleet_records
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.format import literal
from fleet_tui.screens.common.registry import CommandSpec, register_command
from fleet_tui.screens.sync.sync_keep import KeepDialog
from fleet_tui.screens.sync.sync_messages import (
    ChoicesLoaded,
    ConflictsLoaded,
    SyncFailed,
    SyncOutcome,
)
from fleet_tui.screens.sync.sync_report import ChangesTable, ConflictsTable, EditsTable, SyncStatus

__all__ = ["KeepDialog", "SyncScreen"]

MODIFYING = {"merge", "resolve"}


class PeerField(Input):
    """The peer field, focused when the screen opens. `?` in it while it is empty opens the
    help, as on every other screen (no peer file or host starts with `?`)."""

    async def _on_key(self, event: events.Key) -> None:
        if event.character == "?" and not self.value:
            event.stop()
            event.prevent_default()  # not typed in, and not Input's own handling
            show_help(self.app)


# ---- the screen ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tab:
    pane: str
    table: str


TABS = {
    "changes": _Tab("changes", "#sync-changes"),
    "edits": _Tab("edits", "#sync-edits"),
    "conflicts": _Tab("conflicts", "#sync-conflicts"),
}


class SyncScreen(Screen[None]):
    CSS_PATH = asset("sync.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="sync.back", key_display="esc"),
        Binding("t", "target", "Peer", id="sync.target", tooltip="type a peer file or host"),
        Binding("p", "preview", "Preview", id="sync.preview", tooltip="dry run: what would change"),
        Binding(
            "m", "merge", "Merge", id="sync.merge", tooltip="merge / sync after a confirmation"
        ),
        Binding("r", "resolve", "Resolve", id="sync.resolve", tooltip="resolve the conflict"),
        Binding("1", "tab('changes')", "Changes", id="sync.tab_changes", show=False),
        Binding("2", "tab('edits')", "Edits", id="sync.tab_edits", show=False),
        Binding("3", "tab('conflicts')", "Conflicts", id="sync.tab_conflicts", show=False),
    ]

    def __init__(self, target: str = "") -> None:
        super().__init__(id="sync")
        self._initial = target
        self.peer: Peer | None = None
        self.outcome: Outcome | None = None  # the last preview or exchange
        self.conflicts: list[ConstraintConflict] = []
        self.busy: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="sync-bar"):
            yield Static(Text("Peer ", style="bold"), id="sync-label")
            yield PeerField(
                self._initial,
                id="sync-target",
                placeholder="PATH.db  or  [user@]host[:path]   (enter: preview)",
            )
        yield SyncStatus(id="sync-status")
        with TabbedContent(id="sync-tabs", initial="changes"):
            with TabPane("1 Changes", id="changes"):
                yield ChangesTable(id="sync-changes")
            with TabPane("2 Edits", id="edits"):
                yield EditsTable(id="sync-edits")
            with TabPane("3 Conflicts", id="conflicts"):
                yield ConflictsTable(id="sync-conflicts")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "fleet-tui"
        self.sub_title = "sync"
        field = self.query_one("#sync-target", Input)
        field.cursor_blink = fleet_context(self.app).options.animate
        self._status(Text("Type a peer file or a host, then enter to preview.", style="dim"))
        self.load_conflicts()
        if self._initial:
            self._start_preview(self._initial)
        else:
            field.focus()

    def _status(self, text: Text) -> None:
        self.query_one("#sync-status", SyncStatus).update(text)

    # ---- keys ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MODIFYING and fleet_context(self.app).options.readonly:
            return False
        return True  # `m` before a preview, or while one runs, says why it waits

    def action_back(self) -> None:
        self.dismiss()

    def action_target(self) -> None:
        self.query_one("#sync-target", Input).focus()

    def action_tab(self, tab: str) -> None:
        self.query_one("#sync-tabs", TabbedContent).active = TABS[tab].pane
        self.query_one(TABS[tab].table, DataTable).focus()

    def action_preview(self) -> None:
        self._start_preview(self.query_one("#sync-target", Input).value)

    @on(Input.Submitted, "#sync-target")
    def _submitted(self, event: Input.Submitted) -> None:
        self._start_preview(event.value)

    def _start_preview(self, text: str) -> None:
        try:
            peer = classify(text)
        except SessionError as e:
            self._failed("Preview", str(e))
            return
        self.peer = peer
        self.busy = "preview"
        self._status(literal(f"Reading {peer.label} …", "italic", 200))
        self.refresh_bindings()
        self._preview(peer)

    def action_merge(self) -> None:
        peer, outcome = self.peer, self.outcome
        if peer is None or self.busy:
            self.app.notify(
                f"Wait: the {self.busy} is running"
                if self.busy
                else "Type a peer file or host first, then enter to preview it",
                title="Merge",
                severity="warning",
                markup=False,
            )
            return
        verb = "Merge" if peer.path is not None else "Sync"
        body = Text()
        if outcome is not None and outcome.dry_run and outcome.peer == peer:
            for line in outcome.lines[:12]:
                body.append_text(literal(line, limit=200))
                body.append("\n")
        body.append(
            "One transaction: a failure changes nothing. The merge is logged as an event.",
            style="dim",
        )
        title = f"{verb} {'from' if peer.path else 'with'} {peer.label}?"

        def answered(yes: bool | None) -> None:
            if yes:
                self.busy = "merge"
                self._status(literal(f"{verb} with {peer.label} …", "italic", 200))
                self.refresh_bindings()
                self._apply(peer)

        self.app.push_screen(ConfirmDialog(title, body, verb), answered)

    def action_resolve(self) -> None:
        table = self.query_one("#sync-conflicts", DataTable)
        if not self.conflicts:
            self.app.notify("No conflicts to resolve", markup=False)
            return
        row = table.cursor_row if 0 <= table.cursor_row < len(self.conflicts) else 0
        self._load_choices(self.conflicts[row])

    @on(DataTable.RowSelected, "#sync-conflicts")
    def _conflict_selected(self) -> None:
        self.action_resolve()

    # ---- workers ---------------------------------------------------------------------------
    def _store_for_preview(self) -> Store:
        ctx = fleet_context(self.app)
        if ctx.options.readonly:
            store = ctx.read_store()
            if store is None:
                raise StoreError("there is no fleet database yet")
            return store  # a read-only store previews on a private copy
        return ctx.write_store()

    @work(
        thread=True,
        exclusive=True,
        group="sync-preview",
        exit_on_error=False,
        description="previewing a merge",
    )
    def _preview(self, peer: Peer) -> None:
        ctx = fleet_context(self.app)
        try:
            outcome = preview(self._store_for_preview(), peer, ctx.ssh_options, ctx.run_on_pipeline)
        except CancelledError:  # a newer preview replaced this one (or the app is quitting)
            return
        except (SessionError, StoreError, ReadOnlyError) as e:
            self.post_message(SyncFailed("Preview", str(e)))
            return
        self.post_message(SyncOutcome(outcome))

    @work(
        thread=True, exclusive=True, group="sync-apply", exit_on_error=False, description="merging"
    )
    def _apply(self, peer: Peer) -> None:
        ctx = fleet_context(self.app)
        try:
            outcome = apply(ctx.write_store(), peer, ctx.ssh_options, ctx.run_on_pipeline)
        except CancelledError:  # the app is quitting
            return
        except (SessionError, StoreError, ReadOnlyError) as e:
            self.post_message(SyncFailed("Merge", str(e)))
            return
        self.post_message(SyncOutcome(outcome))
        self.app.call_from_thread(reload_fleet_records, self.app)

    @work(
        thread=True,
        exclusive=True,
        group="sync-conflicts",
        exit_on_error=False,
        description="reading placement conflicts",
    )
    def load_conflicts(self) -> None:
        store = fleet_context(self.app).read_store()
        self.post_message(
            ConflictsLoaded(PeerMerge(store).conflicts() if store is not None else [])
        )

    @work(
        thread=True,
        exclusive=True,
        group="sync-conflicts",
        exit_on_error=False,
        description="reading a conflict's placements",
    )
    def _load_choices(self, conflict: ConstraintConflict) -> None:
        store = fleet_context(self.app).read_store()
        if store is None:
            return
        self.post_message(ChoicesLoaded(conflict, choices(store, conflict)))

    @work(
        thread=True,
        exclusive=True,
        group="sync-resolve",
        exit_on_error=False,
        description="resolving a conflict",
    )
    def _resolve(self, conflict: ConstraintConflict, keep: str) -> None:
        try:
            removed = resolve(fleet_context(self.app).write_store(), conflict, keep)
        except (StoreError, ReadOnlyError) as e:
            self.post_message(SyncFailed("Resolve", str(e)))
            return
        self.app.call_from_thread(
            self.app.notify,
            f"Kept placement {keep}; removed {', '.join(removed)}",
            title="Conflict resolved",
            markup=False,
        )
        self.load_conflicts()

    # ---- results -------------------------------------------------------------------------------
    def on_sync_outcome(self, message: SyncOutcome) -> None:
        outcome = message.outcome
        self.outcome, self.busy = outcome, None
        for notice in outcome.notices:
            self.app.notify(notice, title="Host key pinned", markup=False, timeout=15)
        self.refresh_bindings()
        self._render_outcome(outcome)
        if not outcome.dry_run:
            verb = "Merged" if outcome.peer.path is not None else "Synced"
            self.app.notify(
                f"{verb}: {outcome.changes} rows changed here", title="Sync", markup=False
            )
            self.load_conflicts()
            if outcome.conflicts:
                self.action_tab("conflicts")
        else:
            self.conflicts = outcome.conflicts
            self._render_conflicts()
            self.query_one("#sync-changes", DataTable).focus()

    def on_sync_failed(self, message: SyncFailed) -> None:
        self.busy = None
        self.refresh_bindings()
        self._failed(message.what, message.reason)

    def _failed(self, what: str, reason: str) -> None:
        self.query_one("#sync-status", SyncStatus).failed(what, reason)
        self.app.notify(reason, title=f"{what} failed", severity="error", markup=False)

    def on_conflicts_loaded(self, message: ConflictsLoaded) -> None:
        if self.outcome is not None and self.outcome.dry_run:
            return  # the preview's conflicts (what would be) stay on show until it is applied
        self.conflicts = message.conflicts
        self._render_conflicts()

    def on_choices_loaded(self, message: ChoicesLoaded) -> None:
        if not message.options:
            self.app.notify("That conflict is gone already", markup=False)
            self.load_conflicts()
            return

        def chosen(keep: str | None) -> None:
            if keep is not None:
                self._resolve(message.conflict, keep)

        self.app.push_screen(KeepDialog(message.conflict, message.options), chosen)

    # ---- rendering -------------------------------------------------------------------------------
    def _render_outcome(self, outcome: Outcome) -> None:
        self.query_one("#sync-status", SyncStatus).show_outcome(outcome)
        self.query_one("#sync-changes", ChangesTable).show(outcome)
        self.query_one("#sync-edits", EditsTable).show(outcome)

    def _render_conflicts(self) -> None:
        self.query_one("#sync-conflicts", ConflictsTable).show(self.conflicts)


# ---- `:sync` ---------------------------------------------------------------------------------
def _open_sync(app: App[Any], arg: str) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(SyncScreen(arg))


register_command(
    CommandSpec(
        "sync",
        ("sy", "merge"),
        "Sync with a peer",
        "merge a peer file or sync with a host: preview, merge, resolve conflicts",
        _open_sync,
        argument="[PATH.db|[user@]host[:path]]",
    )
)
