"""Operations and their steps in the fleet database: written as they happen, read back after
a crash, merged with other technicians' copies like every other editable row.

Every step is written before it is sent and after it answers, so a process that dies leaves
a true record: steps that never started are `pending`, the ones in flight `running`. When a
process opens the journal (`reap`), operations of this database whose process is gone become
`interrupted`, their running steps `interrupted` (outcome unknown). Nothing re-runs them: a
technician resumes (`pending` steps only, unless they say the unknown ones may run again) or
abandons them.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fleet_tui.core.ops.model import (
    FINISHED_STEPS,
    OperationRecord,
    OpStatus,
    Progress,
    StepRecord,
    StepStatus,
)
from fleet_tui.core.ops.process import still_running, this_process
from fleet_tui.core.store.database import Store

OPS, STEPS = "operations", "operation_steps"
LIST_AT_MOST = 200
INTERRUPTED_STEP = "outcome unknown: fleet-tui stopped while this step ran"


class OperationNotFound(LookupError):
    pass


@dataclass(frozen=True)
class DeviceTarget:
    serial: str
    hostname: str


def new_operation_id(now: float) -> str:
    """Sortable by time, short enough to type: 20261203-101502-7f3a."""
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + "-" + secrets.token_hex(2)


def step_key(operation_id: str, serial: str) -> str:
    return f"{operation_id}/{serial}"


class OperationJournal:
    """The operations of one store (a service over its generic table API)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- writing ---------------------------------------------------------------------------
    def create(
        self,
        kind: str,
        title: str,
        targets: Sequence[DeviceTarget],
        params: dict[str, Any] | None = None,
        who: str = "",
    ) -> OperationRecord:
        now = time.time()
        pid, token = this_process()
        op = OperationRecord(
            id=new_operation_id(now),
            kind=kind,
            title=title,
            params=params or {},
            who=who,
            site=self.store.site_id,
            pid=pid,
            pid_start=token,
            created=now,
            total=len(targets),
        )
        self.store.set_row(OPS, op.id, **_op_fields(op))
        self.store.set_rows(
            STEPS,
            {
                step_key(op.id, t.serial): {
                    "operation_id": op.id,
                    "serial": t.serial,
                    "hostname": t.hostname,
                    "status": StepStatus.PENDING.value,
                    "attempt": 1,
                }
                for t in targets
            },
        )
        return op

    def claim(self, op: OperationRecord) -> OperationRecord:
        """This process runs `op` now (a resume): running again, one attempt more."""
        pid, token = this_process()
        claimed = op.model_copy(
            update={
                "status": OpStatus.RUNNING,
                "pid": pid,
                "pid_start": token,
                "site": self.store.site_id,
                "attempt": op.attempt + 1,
                "finished": None,
                "cancel_requested": False,
            }
        )
        self.store.set_row(OPS, op.id, **_op_fields(claimed))
        return claimed

    def set_step(
        self, op_id: str, serial: str, status: StepStatus, message: str = "", attempt: int = 1
    ) -> StepRecord:
        now = time.time()
        fields: dict[str, object] = {"status": status.value, "attempt": attempt}
        if status is StepStatus.RUNNING:
            fields.update(started=now, finished=None, message="")
        elif status in FINISHED_STEPS or status is StepStatus.INTERRUPTED:
            fields.update(finished=now, message=message)
        elif message:
            fields["message"] = message
        self.store.set_row(STEPS, step_key(op_id, serial), **fields)
        step = self.step(op_id, serial)
        assert step is not None
        return step

    def finish(self, op: OperationRecord, status: OpStatus) -> OperationRecord:
        done = op.model_copy(update={"status": status, "finished": time.time()})
        self.store.set_row(OPS, op.id, status=status.value, finished=done.finished)
        return done

    def request_cancel(self, op_id: str) -> None:
        self.store.set_row(OPS, op_id, cancel_requested=1)

    def cancel_requested(self, op_id: str) -> bool:
        row = self.store.get_row(OPS, op_id)
        return bool(row and row.get("cancel_requested"))

    def abandon(self, op: OperationRecord, who: str) -> OperationRecord:
        """A technician decided not to resume `op`: it stays in the history, logged."""
        if op.status is not OpStatus.INTERRUPTED:
            raise ValueError(f"operation {op.id} is {op.status.value}, not interrupted")
        with self.store.write() as c:
            self.store.lww_set(c, OPS, op.id, {"status": OpStatus.ABANDONED.value})
            self.store.log_event(
                c, None, "operation_abandoned", f"{op.title} ({op.id}) abandoned by {who}"
            )
        return op.model_copy(update={"status": OpStatus.ABANDONED})

    # ---- after a crash ---------------------------------------------------------------------
    def reap(self) -> list[OperationRecord]:
        """Mark this database's running operations whose process is gone as interrupted.
        Returns every interrupted operation (newly found or left from before)."""
        ours = {self.store.site_id}
        for op in self.operations(status=OpStatus.RUNNING):
            if op.site in ours and not still_running(op.pid, op.pid_start):
                self._interrupt(op)
        return self.operations(status=OpStatus.INTERRUPTED)

    def _interrupt(self, op: OperationRecord) -> None:
        running = [s for s in self.steps(op.id) if s.status is StepStatus.RUNNING]
        self.store.set_rows(
            STEPS,
            {
                step_key(op.id, s.serial): {
                    "status": StepStatus.INTERRUPTED.value,
                    "message": INTERRUPTED_STEP,
                }
                for s in running
            },
        )
        self.store.set_row(OPS, op.id, status=OpStatus.INTERRUPTED.value)

    # ---- reading ---------------------------------------------------------------------------
    def get(self, ref: str) -> OperationRecord:
        """By id, or by a unique prefix or suffix of one (what a technician types)."""
        row = self.store.get_row(OPS, ref)
        if row is not None:
            return OperationRecord.model_validate(row)
        found = [
            op for op in self.operations(limit=None) if op.id.startswith(ref) or op.id.endswith(ref)
        ]
        if len(found) == 1:
            return found[0]
        if not found:
            raise OperationNotFound(f"no operation {ref!r} (fleet-tui ops lists them)")
        raise OperationNotFound(f"{ref!r} names {len(found)} operations; give more of the id")

    def operations(
        self, status: OpStatus | None = None, limit: int | None = LIST_AT_MOST
    ) -> list[OperationRecord]:
        """Newest first."""
        where, params = ("status = ?", (status.value,)) if status else ("1", ())
        rows = self.store.rows(OPS, where, params)
        ops = sorted(
            (OperationRecord.model_validate(r) for r in rows),
            key=lambda o: (o.created, o.id),
            reverse=True,
        )
        return ops[:limit] if limit is not None else ops

    def steps(self, op_id: str) -> list[StepRecord]:
        # the key range "<id>/" … "<id>0" is every step of the operation ('0' follows '/')
        rows = self.store.rows(STEPS, "id > ? AND id < ?", (f"{op_id}/", f"{op_id}0"))
        return [StepRecord.model_validate(r) for r in rows]

    def step(self, op_id: str, serial: str) -> StepRecord | None:
        row = self.store.get_row(STEPS, step_key(op_id, serial))
        return StepRecord.model_validate(row) if row is not None else None

    def progress(self, op_id: str) -> Progress:
        return Progress.of(self.steps(op_id))

    def recent_ok_steps(self, kind: str, serial: str, since: float) -> list[StepRecord]:
        """Steps of `kind` operations on one device that finished ok after `since` (policy)."""
        rows = self.store.rows(
            STEPS,
            "serial = ? AND status = ? AND finished >= ?",
            (serial, StepStatus.OK.value, since),
        )
        steps = [StepRecord.model_validate(r) for r in rows]
        kinds = {
            op_id: (row or {}).get("kind")
            for op_id in {s.operation_id for s in steps}
            for row in [self.store.get_row(OPS, op_id)]
        }
        return [s for s in steps if kinds.get(s.operation_id) == kind]


def _op_fields(op: OperationRecord) -> dict[str, object]:
    return {
        "kind": op.kind,
        "title": op.title,
        "params": json.dumps(op.params, sort_keys=True),
        "status": op.status.value,
        "who": op.who,
        "site": op.site,
        "pid": op.pid,
        "pid_start": op.pid_start,
        "created": op.created,
        "finished": op.finished,
        "total": op.total,
        "attempt": op.attempt,
        "cancel_requested": int(op.cancel_requested),
    }
