"""After a `config_push` operation: one `config_pushes` row per device step that ended, so
`config diff` knows what each device was last given. Idempotent: a step already recorded is
not recorded again (an operation resumed, or reconciled by a later process)."""

from __future__ import annotations

import time

from fleet_tui.core.configs.book import ConfigBook, PushRecord
from fleet_tui.core.ops.config_kind import UNCHANGED, WRITTEN
from fleet_tui.core.ops.journal import OperationJournal
from fleet_tui.core.ops.model import OperationRecord, StepStatus

KIND = "config_push"


def record_operation(book: ConfigBook, op: OperationRecord) -> int:
    """Record the finished steps of `op`; returns how many rows were added."""
    params = op.params
    name = str(params.get("config", ""))
    devices = params.get("devices") or {}
    contents = params.get("contents") or {}
    done = book.recorded_operations(name)
    added = 0
    for step in OperationJournal(book.store).steps(op.id):
        if (op.id, step.serial) in done or step.serial not in devices:
            continue
        if step.status is StepStatus.OK:
            status = UNCHANGED if step.message.startswith(UNCHANGED) else WRITTEN
        elif step.status in (StepStatus.FAILED, StepStatus.TIMEOUT):
            status = "failed"
        else:
            continue  # refused, cancelled, pending, unknown: nothing to say about the file
        mine = devices[step.serial]
        book.record_push(
            PushRecord(
                config=name,
                serial=step.serial,
                version=str(mine.get("version", "")),
                sha256=str(mine.get("sha256", "")),
                content=str(contents.get(mine.get("sha256"), "")),
                status=status,
                message=step.message,
                operation_id=op.id,
                who=op.who,
                time=step.finished or time.time(),
            )
        )
        added += 1
    return added


def reconcile(book: ConfigBook) -> int:
    """Record every finished config push this database has not recorded yet."""
    added = 0
    for op in OperationJournal(book.store).operations(limit=None):
        if op.kind == KIND and op.finished is not None:
            added += record_operation(book, op)
    return added
