"""`:ops`: every operation of this fleet database (this session's, earlier ones, other
technicians' after a merge, and the CLI's), its steps device by device, and what can be done
with it: cancel one that runs, resume or dismiss one that was interrupted. A walkthrough's
finished blinks fold into one row, as in `fleet-tui ops` (core/racks/walk_blink.py): enter on
it lists them, `a` lists every operation.

The store is read in a worker; a running operation's events refresh the lists at most twice
a second.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from fleet_tui.core.ops.catalogue import KINDS
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.journal import OperationJournal
from fleet_tui.core.ops.model import OperationRecord, OpStatus, Progress, StepRecord, StepStatus
from fleet_tui.core.ops.process import operator
from fleet_tui.core.racks.walk_blink import WalkGroup, walk_groups
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.format import Cell, cell, when
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.common.registry import CommandSpec, register_command

MODIFYING = {"cancel_op", "resume", "dismiss_op"}
REFRESH_S = 0.5
# At 80 columns: the id (its last 4 characters, enough for `fleet-tui ops show`) beside the
# time, then what and how it went; a step's message (why it failed) wraps instead of being
# cut, and takes the width left, the serial staying in view for two Pis of one hostname.
# operations another process runs (`fleet-tui reboot` in another pane) send us no events
OTHERS_S = 5.0
OP_COLUMNS = [
    ("when", "When", 11),
    ("id", "Id", 4),
    ("what", "What", 19),
    ("status", "Status", 11),
    ("steps", "Steps", 24),
]
STEP_COLUMNS = [
    ("host", "Host", 14),
    ("status", "Status", 11),
    ("message", "Message", 20),
    ("serial", "Serial", 16),
]
STATUS_STYLE = {
    OpStatus.RUNNING: "bold",
    OpStatus.PARTIAL: "yellow",
    OpStatus.FAILED: "bold red",
    OpStatus.INTERRUPTED: "bold magenta",
    StepStatus.FAILED: "bold red",
    StepStatus.TIMEOUT: "bold red",
    StepStatus.REFUSED: "yellow",
    StepStatus.INTERRUPTED: "bold magenta",
}


class OperationsLoaded(Message, bubble=False):
    def __init__(self, ops: list[tuple[OperationRecord, Progress]]) -> None:
        super().__init__()
        self.ops = ops


class StepsLoaded(Message, bubble=False):
    def __init__(self, op_id: str, steps: list[StepRecord]) -> None:
        super().__init__()
        self.op_id = op_id
        self.steps = steps


class OperationsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back", id="ops.back", tooltip="back to the previous screen"),
        Binding("c", "cancel_op", "Cancel", id="ops.cancel", tooltip="stop a running one"),
        Binding(
            "R",
            "resume",
            "Resume",
            id="ops.resume",
            tooltip="run what an interrupted one never ran",
        ),
        Binding(
            "d",
            "dismiss_op",
            "Dismiss",
            id="ops.dismiss",
            tooltip="mark an interrupted one abandoned",
        ),
        Binding("r", "reload", "Reload", id="ops.reload", tooltip="read the operations again"),
        Binding(
            "a",
            "show_all",
            "All",
            id="ops.all",
            tooltip="every operation on its own row, or a walk's blinks folded",
        ),
    ]

    def __init__(self) -> None:
        super().__init__(id="operations")
        self.ops: dict[str, tuple[OperationRecord, Progress]] = {}
        self.rows: dict[str, WalkGroup] = {}  # by table key: one operation, or a walk's fold
        self.show_all = False
        self.unfolded: set[str] = set()  # walks whose blinks enter listed
        self.steps: list[StepRecord] = []
        self._stale = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyedTable(OP_COLUMNS, id="ops-table", wrap=("steps",), flex="steps")
        yield Static(id="ops-detail")
        yield KeyedTable(STEP_COLUMNS, id="ops-steps", wrap=("message",), flex="message")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "operations"
        self.set_interval(REFRESH_S, self._refresh_if_stale)
        self.set_interval(OTHERS_S, self.load)
        self.load()
        self.query_one("#ops-table", KeyedTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Always enabled (except read-only): a key that does not apply to the highlighted
        # operation says why, instead of being greyed out in a footer nobody can read under
        # NO_COLOR and doing nothing.
        if action in MODIFYING and fleet_context(self.app).options.readonly:
            return False
        return True

    def _applies(self, verb: str, done: str, status: OpStatus) -> OperationRecord | None:
        """The highlighted operation if it is `status`; else say why `verb` does nothing."""
        group = self.selected_group
        if group is not None and group.folded:
            self.app.notify(
                f"{visible(group.title, 40)} are finished: nothing to {verb} (enter lists them)",
                title=verb.capitalize(),
                severity="warning",
                markup=False,
            )
            return None
        op = self.selected
        if op is None:
            self.app.notify(f"No operation to {verb}", severity="warning", markup=False)
            return None
        if op.status is not status:
            self.app.notify(
                f"Only {'a' if status is OpStatus.RUNNING else 'an'} {status.value} operation "
                f"can be {done}: {visible(op.title, 40)} is {op.status.value}",
                title=verb.capitalize(),
                severity="warning",
                markup=False,
            )
            return None
        return op

    @property
    def selected_group(self) -> WalkGroup | None:
        key = self.query_one("#ops-table", KeyedTable).cursor_key
        return self.rows.get(key) if key is not None else None

    @property
    def selected(self) -> OperationRecord | None:
        """The highlighted operation (None on a walk's folded blinks)."""
        group = self.selected_group
        return group.newest if group is not None and not group.folded else None

    # ---- data -------------------------------------------------------------------------------
    def operation_updated(self, event: OperationEvent) -> None:
        self._stale = True  # many steps a second: read again at most every REFRESH_S

    def _refresh_if_stale(self) -> None:
        if self._stale:
            self._stale = False
            self.load()

    @work(
        thread=True,
        exclusive=True,
        group="ops-list",
        exit_on_error=False,
        description="reading operations",
    )
    def load(self) -> None:
        store = fleet_context(self.app).read_store()
        if store is None:
            return
        journal = OperationJournal(store)
        ops = [(op, journal.progress(op.id)) for op in journal.operations()]
        self.post_message(OperationsLoaded(ops))

    @work(
        thread=True,
        exclusive=True,
        group="ops-steps",
        exit_on_error=False,
        description="reading an operation's steps",
    )
    def load_steps(self, op_id: str) -> None:
        store = fleet_context(self.app).read_store()
        if store is not None:
            self.post_message(StepsLoaded(op_id, OperationJournal(store).steps(op_id)))

    def on_operations_loaded(self, message: OperationsLoaded) -> None:
        self.ops = {op.id: (op, p) for op, p in message.ops}
        self._show_rows()

    def _show_rows(self) -> None:
        ops = [op for op, _ in self.ops.values()]
        groups = walk_groups(ops, fold=not self.show_all, unfolded=self.unfolded)
        self.rows = {g.key: g for g in groups}
        table = self.query_one("#ops-table", KeyedTable)
        with self.app.batch_update():
            table.sync(list(self.rows), self._op_cells, set(self.rows))
        self._show_selected()
        self.refresh_bindings()

    def on_steps_loaded(self, message: StepsLoaded) -> None:
        op = self.selected
        if op is None or op.id != message.op_id:
            return
        self.steps = message.steps
        ordered = sorted(message.steps, key=lambda s: ((s.hostname or "").lower(), s.serial))
        by_key = {s.serial: s for s in ordered}
        with self.app.batch_update():
            self.query_one("#ops-steps", KeyedTable).sync(
                list(by_key), lambda k: self._step_cells(by_key[k]), set(by_key)
            )

    @on(DataTable.RowHighlighted, "#ops-table")
    def _highlighted(self) -> None:
        self._show_selected()
        self.refresh_bindings()

    def _show_selected(self) -> None:
        group = self.selected_group
        detail = self.query_one("#ops-detail", Static)
        if group is not None and group.folded:
            text = Text()
            text.append(visible(group.title, 40), style="bold")
            text.append(f" · {group.summary(self._progress(group))}")
            text.append("  enter lists them · a every operation", style="dim")
            detail.update(text)
            self.query_one("#ops-steps", KeyedTable).sync([], lambda k: [], set())
            return
        op = self.selected
        if op is None:
            detail.update("no operations yet: i (identify) and R (reboot) on the fleet start one")
            self.query_one("#ops-steps", KeyedTable).sync([], lambda k: [], set())
            return
        progress = self.ops[op.id][1]
        text = Text()
        text.append(visible(op.title, 40), style="bold")
        text.append(f" · {op.id} · by {visible(op.who, 40)} · ")
        text.append(op.status.value, style=STATUS_STYLE.get(op.status, ""))
        text.append(f": {progress.summary()}")
        if op.attempt > 1:
            text.append(f" · attempt {op.attempt}")
        if op.status is OpStatus.INTERRUPTED:
            text.append("  R resume · d dismiss", style="dim")
        detail.update(text)
        self.load_steps(op.id)

    def _progress(self, group: WalkGroup) -> Progress:
        return Progress.combined(self.ops[op.id][1] for op in group.ops)

    def _op_cells(self, key: str) -> list[Cell]:
        group = self.rows[key]
        op = group.newest
        return [
            cell(when(op.created, fleet_context(self.app).options.now())),
            cell(op.id[-4:]),
            cell(visible(group.title, 40)),
            cell(group.status.value, STATUS_STYLE.get(group.status, "")),
            cell(group.summary(self._progress(group))),
        ]

    def _step_cells(self, step: StepRecord) -> list[Cell]:
        return [
            cell(visible(step.hostname or "?", 40)),
            cell(step.status.value, STATUS_STYLE.get(step.status, "")),
            cell(visible(step.message, 200)),
            cell(step.serial),
        ]

    # ---- actions ----------------------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()

    def action_show_all(self) -> None:
        self.show_all = not self.show_all
        self.unfolded.clear()
        self._show_rows()

    @on(DataTable.RowSelected, "#ops-table")
    def _toggle_walk(self) -> None:
        """Enter on a walk's folded blinks lists them; on one of them, folds them again."""
        group = self.selected_group
        if group is None or not group.walk or self.show_all:
            return
        if group.folded:
            self.unfolded.add(group.walk)
        elif group.walk in self.unfolded:
            self.unfolded.discard(group.walk)
        else:
            return
        self._show_rows()
        # the cursor stays on the newest blink: its own row now, or the fold it went back into
        table = self.query_one("#ops-table", KeyedTable)
        key = next((k for k, g in self.rows.items() if group.newest in g.ops), None)
        if key is not None:
            table.move_cursor(row=table.order.index(key))

    def action_cancel_op(self) -> None:
        op = self._applies("cancel", "cancelled", OpStatus.RUNNING)
        if op is not None:
            fleet_context(self.app).cancel_operation(op.id)
            self.app.notify(f"Cancelling {op.title}", markup=False)

    def action_resume(self) -> None:
        op = self._applies("resume", "resumed", OpStatus.INTERRUPTED)
        if op is None:
            return
        pending = [s for s in self.steps if s.status is StepStatus.PENDING]
        unknown = [s for s in self.steps if s.status is StepStatus.INTERRUPTED]
        if not pending:
            self.app.notify(
                "Nothing left that never ran; steps of unknown outcome are resumed only from "
                f"the command line: fleet-tui ops resume {op.id} --include-unknown",
                severity="warning",
                markup=False,
            )
            return
        kind = KINDS.get(op.kind)
        body = Text(f"Run the {len(pending)} step(s) of {op.title} that never ran:\n")
        for s in pending[:8]:
            body.append(f"  {visible(s.hostname or s.serial, 40)}\n", style="bold")
        if unknown:
            body.append(
                f"{len(unknown)} step(s) were running when fleet-tui stopped; they are not run "
                "again (their outcome is unknown).\n"
            )
        names = [visible(s.hostname or s.serial) for s in pending]
        dialog = ConfirmDialog(
            f"Resume {op.title}?",
            body,
            "Resume",
            danger=bool(kind and kind.danger),
            typed=kind.typed_word(names) if kind else None,
        )

        def answered(ok: bool | None) -> None:
            if ok:
                fleet_context(self.app).resume_operation(op.id)

        self.app.push_screen(dialog, answered)

    def action_dismiss_op(self) -> None:
        op = self._applies("dismiss", "dismissed", OpStatus.INTERRUPTED)
        if op is None:
            return
        dialog = ConfirmDialog(
            "Dismiss this interrupted operation?",
            Text(f"{op.title} ({op.id}) is marked abandoned; its steps stay in the history."),
            "Dismiss",
        )

        def answered(ok: bool | None) -> None:
            if ok:
                self._dismiss(op)

        self.app.push_screen(dialog, answered)

    @work(thread=True, group="ops-write", exit_on_error=False, description="dismissing")
    def _dismiss(self, op: OperationRecord) -> None:
        OperationJournal(fleet_context(self.app).write_store()).abandon(op, operator())
        self.app.call_from_thread(self.load)


def _open_ops(app: App[Any], arg: str) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(OperationsScreen())


register_command(
    CommandSpec(
        "ops",
        ("operations", "op"),
        "Operations",
        "identify, reboot, …: running, done and interrupted; cancel, resume or dismiss",
        _open_ops,
    )
)
