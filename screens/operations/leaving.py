"""What this process still runs when the technician quits, and the question it asks then.

Operations of the runner are known from their events (operation_news.py): one whose latest
event is not `finished` still runs here. A deployment runs in an app worker of the group
`DEPLOY_WORKERS` (screens/common/context.py; screens/deploy/deploy.py `launch`); its waves run on a runner of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual.worker import Worker, WorkerState

from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import DEPLOY_WORKERS
from fleet_tui.screens.common.dialogs import Choice, ChoiceDialog

LIVE_WORKERS = frozenset({WorkerState.PENDING, WorkerState.RUNNING})
QUIT, CANCEL = "quit", "cancel"
NAMED_AT_MOST = 6


@dataclass(frozen=True)
class Unfinished:
    name: str  # what the technician reads: "Reboot 8 devices (3 of 8 done)"
    op_id: str | None = None  # an operation of the runner; None: a deployment


def unfinished(
    events: Iterable[OperationEvent], workers: Iterable[Worker[object]]
) -> list[Unfinished]:
    out = []
    for e in events:
        if e.event in ("started", "step"):
            p = e.progress
            title = visible(e.operation.title or e.operation.kind, 60)
            out.append(Unfinished(f"{title} ({p.finished} of {p.total} done)", e.operation.id))
    for w in workers:
        if w.group == DEPLOY_WORKERS and w.state in LIVE_WORKERS:
            name = visible(w.description, 60)
            out.append(Unfinished(name[:1].upper() + name[1:] or "Deployment"))
    return out


def question(running: list[Unfinished]) -> ChoiceDialog:
    """Answers QUIT, CANCEL, or None (stay)."""
    n = len(running)
    names = ", ".join(u.name for u in running[:NAMED_AT_MOST])
    more = f" and {n - NAMED_AT_MOST} more" if n > NAMED_AT_MOST else ""
    deploying = any(u.op_id is None for u in running)
    body = Text.assemble(
        (f"{n} operation{'s' if n != 1 else ''} still running: ", "bold"),
        f"{names}{more}.\n\nQuit anyway? They will be marked interrupted; ",
        (":ops", "bold"),
        " resumes them",
    )
    if deploying:
        body.append_text(Text.assemble(" (a deployment: ", (":deploy", "bold"), ")"))
    body.append(".\nCancel them: each stops (a step in flight may still reach its Pi), then quit.")
    return ChoiceDialog(
        "Quit with operations running?",
        body,
        "Wait",
        [Choice(QUIT, "Quit anyway", "error"), Choice(CANCEL, "Cancel them, quit", "warning")],
    )
