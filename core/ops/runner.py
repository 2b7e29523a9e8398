"""The one runner every long or physical action goes through.

    runner = OperationRunner(store, caller, who="ana@laptop", on_event=show)
    op = runner.start("reboot", targets)          # on the event loop; returns at once
    await runner.wait(op.id)                      # or watch the events
    runner.cancel(op.id)                          # here, or from another process (journal)

An operation is journalled before anything is sent (core/ops/journal.py): its row, then one
step per device, each step written when it starts and when it ends, and every device's
request and outcome written to the event log as well. Devices run with bounded concurrency
and a timeout each (core/ops/fanout.py); one device's failure is its own step's result. A
policy (core/ops/policy.py) may refuse a device before anything is sent.

Events go to `on_event` on the loop's thread; a UI posts them on as messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fleet_tui.core.ops.catalogue import kind_of
from fleet_tui.core.ops.events import EventName, OperationEvent
from fleet_tui.core.ops.fanout import Operation, Result
from fleet_tui.core.ops.journal import INTERRUPTED_STEP, DeviceTarget, OperationJournal
from fleet_tui.core.ops.kinds import (
    DeviceCaller,
    OperationKind,
    PowerPort,
    StepContext,
    StepRefused,
)
from fleet_tui.core.ops.model import (
    OperationRecord,
    OpStatus,
    Progress,
    StepRecord,
    StepStatus,
    final_status,
)
from fleet_tui.core.ops.policy import OperationPolicy
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.text import visible

log = logging.getLogger("fleet_tui.ops")
CANCEL_POLL_S = 1.0  # how often a running operation looks for a cancel from another process
_STATUS_OF_RESULT = {
    "ok": StepStatus.OK,
    "failed": StepStatus.FAILED,
    "timeout": StepStatus.TIMEOUT,
    "cancelled": StepStatus.CANCELLED,
}


class OperationRefused(Exception):
    """Nothing to run: no targets, or an operation that is not interrupted was resumed."""


@dataclass(frozen=True)
class Limits:
    """Per run: seconds per device and devices at once (None: the kind's default)."""

    timeout_s: float | None = None
    concurrency: int | None = None


class _Run:
    """One operation while this process runs it."""

    def __init__(
        self, op: OperationRecord, kind: OperationKind, steps: list[StepRecord], limits: Limits
    ) -> None:
        self.op = op
        self.kind = kind
        self.limits = limits
        self.steps = {s.serial: s for s in steps}
        self.fanout: Operation[str, str] | None = None
        self.cancelled = False
        self.leaving = False  # the process stops: what still runs is left interrupted
        self.task: asyncio.Task[OperationRecord] | None = None
        self.skipped: dict[str, str] = {}  # serial -> why its step refused itself (StepRefused)

    def progress(self) -> Progress:
        return Progress.of(list(self.steps.values()))


class OperationRunner:
    def __init__(
        self,
        store: Store,
        caller: DeviceCaller,
        *,
        who: str,
        policy: OperationPolicy | None = None,
        on_event: Callable[[OperationEvent], None] | None = None,
        power: PowerPort | None = None,
    ) -> None:
        self.journal = OperationJournal(store)
        self.caller = caller
        self.power = power
        self.who = who
        self.policy = policy or OperationPolicy()
        self.on_event = on_event or (lambda event: None)
        self._runs: dict[str, _Run] = {}

    # ---- starting --------------------------------------------------------------------------
    def start(
        self,
        kind_name: str,
        targets: Sequence[DeviceTarget],
        params: dict[str, Any] | None = None,
        *,
        force: bool = False,
        limits: Limits | None = None,
        title: str | None = None,
    ) -> OperationRecord:
        """Journal a new operation and run it in the background (call on the event loop).
        `title` names it in `:ops` and `fleet-tui ops` (default: "Identify 3 devices")."""
        kind = kind_of(kind_name)
        unique = list({t.serial: t for t in targets}.values())
        if not unique:
            raise OperationRefused(f"{kind.verb}: no devices")
        op = self.journal.create(
            kind.name, title or kind.title(len(unique)), unique, params, self.who
        )
        log.info("%s %s started by %s on %d device(s)", op.kind, op.id, self.who, op.total)
        run = _Run(op, kind, self.journal.steps(op.id), limits or Limits())
        self._launch(run, "started", force)
        return op

    async def run(
        self,
        kind_name: str,
        targets: Sequence[DeviceTarget],
        params: dict[str, Any] | None = None,
        *,
        force: bool = False,
        limits: Limits | None = None,
        title: str | None = None,
    ) -> OperationRecord:
        op = self.start(kind_name, targets, params, force=force, limits=limits, title=title)
        return await self.wait(op.id)

    def resume(
        self,
        ref: str,
        *,
        include_unknown: bool = False,
        force: bool = False,
        limits: Limits | None = None,
    ) -> OperationRecord:
        """Run an interrupted operation's steps that never ran (and, when asked, the ones
        whose outcome is unknown) in this process, as the same operation."""
        op = self.journal.get(ref)
        if op.status is not OpStatus.INTERRUPTED:
            raise OperationRefused(
                f"operation {op.id} is {op.status.value}: only an interrupted one resumes"
            )
        kind = kind_of(op.kind)
        again = {StepStatus.PENDING} | ({StepStatus.INTERRUPTED} if include_unknown else set())
        steps = self.journal.steps(op.id)
        if not any(s.status in again for s in steps):
            raise OperationRefused(
                f"operation {op.id}: nothing left to run"
                + ("" if include_unknown else " (steps of unknown outcome need include_unknown)")
            )
        op = self.journal.claim(op)
        log.info("%s %s resumed by %s (attempt %d)", op.kind, op.id, self.who, op.attempt)
        run = _Run(op, kind, steps, limits or Limits())
        self._launch(run, "started", force, only=again)
        return op

    def _launch(
        self, run: _Run, event: EventName, force: bool, only: set[StepStatus] | None = None
    ) -> None:
        self._runs[run.op.id] = run
        self._emit(run, event)
        run.task = asyncio.get_running_loop().create_task(
            self._run(run, force, only or {StepStatus.PENDING}), name=f"operation {run.op.id}"
        )

    # ---- control ---------------------------------------------------------------------------
    def cancel(self, op_id: str) -> None:
        """Stop an operation: running steps are cancelled, pending ones never start. One run
        by another process is asked to stop through the journal."""
        run = self._runs.get(op_id)
        if run is None:
            self.journal.request_cancel(self.journal.get(op_id).id)
            return
        run.cancelled = True
        if run.fanout is not None:
            run.fanout.cancel()

    async def wait(self, op_id: str) -> OperationRecord:
        run = self._runs.get(op_id)
        if run is None or run.task is None:
            return self.journal.get(op_id)
        return await asyncio.shield(run.task)

    def running(self) -> list[OperationRecord]:
        return [run.op for run in self._runs.values()]

    def progress(self, op_id: str) -> Progress:
        run = self._runs.get(op_id)
        return run.progress() if run is not None else self.journal.progress(op_id)

    async def close(self, *, interrupt: bool = False) -> None:
        """Stop what still runs (the pipeline is stopping) and wait for the journal. Cancelled,
        or with `interrupt` (the process leaves, nobody gave up on the work) left
        `interrupted`: steps in flight of unknown outcome, the others pending, so that
        `ops resume` goes on with it later."""
        for op_id, run in list(self._runs.items()):
            run.leaving = interrupt and not run.cancelled
            self.cancel(op_id)
        tasks = [r.task for r in self._runs.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10.0)

    # ---- running ---------------------------------------------------------------------------
    async def _run(self, run: _Run, force: bool, only: set[StepStatus]) -> OperationRecord:
        try:
            return await self._run_steps(run, force, only)
        finally:
            self._runs.pop(run.op.id, None)

    async def _run_steps(self, run: _Run, force: bool, only: set[StepStatus]) -> OperationRecord:
        op, kind = run.op, run.kind
        todo: list[str] = []
        for step in list(run.steps.values()):
            if step.status not in only:
                continue
            target = DeviceTarget(step.serial, step.hostname)
            reason = None if force else self.policy.refusal(self.journal, kind.name, target)
            if reason is None and kind.refuse is not None:
                reason = kind.refuse(self._context(op, kind, target))
            if reason is not None:
                self._set_step(
                    run, step.serial, StepStatus.REFUSED, reason, (kind.name + "_refused", reason)
                )
            else:
                todo.append(step.serial)
        if todo and not run.cancelled:
            concurrency = min(run.limits.concurrency or kind.concurrency, self.policy.concurrency)
            timeout = run.limits.timeout_s or kind.timeout_s

            async def one(serial: str) -> str:
                step = self._set_step(
                    run,
                    serial,
                    StepStatus.RUNNING,
                    event=(
                        kind.name,
                        f"{kind.name} requested by {self.who} from fleet-tui (operation {op.id})",
                    ),
                )
                try:
                    return await kind.run_step(
                        self._context(op, kind, DeviceTarget(serial, step.hostname))
                    )
                except StepRefused as e:
                    run.skipped[serial] = str(e) or type(e).__name__
                    raise

            run.fanout = Operation(todo, one, concurrency=concurrency, timeout=timeout)
            watcher = asyncio.get_running_loop().create_task(self._watch_cancel(run))
            try:
                async for result in run.fanout:
                    self._finish_step(run, result)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        elif todo and not run.leaving:  # cancelled before it began (leaving: still pending)
            for serial in todo:
                self._set_step(run, serial, StepStatus.CANCELLED, "cancelled before it started")
        progress = run.progress()
        status = OpStatus.INTERRUPTED if run.leaving else final_status(progress, run.cancelled)
        run.op = self.journal.finish(op, status)
        log.info("%s %s %s: %s", op.kind, op.id, run.op.status.value, progress.summary())
        self._emit(run, "finished")
        return run.op

    def _context(
        self, op: OperationRecord, kind: OperationKind, target: DeviceTarget
    ) -> StepContext:
        return StepContext(op.id, target, op.params, self.caller, kind.timeout_s, self.power)

    def _finish_step(self, run: _Run, result: Result[str, str]) -> None:
        status = _STATUS_OF_RESULT[result.status]
        before = run.steps[result.target].status
        skipped = run.skipped.pop(result.target, None)
        if skipped is not None and result.status == "failed":  # nothing changed on the device
            why = visible(f"skipped: {skipped}", 500)
            self._set_step(
                run, result.target, StepStatus.REFUSED, why, (f"{run.kind.name}_skipped", why)
            )
            return
        if status is StepStatus.CANCELLED and run.leaving:
            if before is StepStatus.RUNNING:  # as a crash leaves it (journal.reap)
                self._set_step(run, result.target, StepStatus.INTERRUPTED, INTERRUPTED_STEP)
            return  # never started: still pending
        if status is StepStatus.CANCELLED and before is StepStatus.RUNNING:
            message = "cancelled while running: the request may have reached the device"
        else:
            message = visible(result.value if result.ok else result.error or "", 500)
        kind = run.kind.name
        event: tuple[str, str] | None = None
        if status is StepStatus.OK:
            hostname = run.steps[result.target].hostname
            event = (f"{kind}_done", f"{kind} accepted by {hostname}: {message}")
        elif before is StepStatus.RUNNING:
            event = (f"{kind}_failed", f"{status.value}: {message}")
        self._set_step(run, result.target, status, message, event)

    async def _watch_cancel(self, run: _Run) -> None:
        while True:
            await asyncio.sleep(CANCEL_POLL_S)
            if self.journal.cancel_requested(run.op.id):
                log.info("%s %s: cancel requested through the journal", run.op.kind, run.op.id)
                self.cancel(run.op.id)
                return

    # ---- bookkeeping -----------------------------------------------------------------------
    def _set_step(
        self,
        run: _Run,
        serial: str,
        status: StepStatus,
        message: str = "",
        event: tuple[str, str] | None = None,
    ) -> StepRecord:
        """Journal a step's new status and its event (kind, message) in the event log, then
        tell the watchers: whoever reloads on a step finds its event already written."""
        step = self.journal.set_step(run.op.id, serial, status, message, run.op.attempt)
        run.steps[serial] = step
        if event is not None:
            self._record(step, *event)
        self._emit(run, "step", step)
        return step

    def _record(self, step: StepRecord, kind: str, message: str) -> None:
        log.info("%s %s (%s): %s", kind, step.hostname, step.serial, message)
        try:
            EventLog(self.journal.store).record(step.serial, kind, message)
        except Exception as e:  # the action matters more than its log line
            log.warning("could not record event %s for %s: %s", kind, step.serial, e)

    def _emit(self, run: _Run, event: EventName, step: StepRecord | None = None) -> None:
        try:
            self.on_event(OperationEvent(event, run.op, run.progress(), step))
        except Exception:  # a watcher's bug must not stop the operation
            log.exception("operation event handler failed")
