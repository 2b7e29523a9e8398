"""A deployment in waves (the Orchestrator), on the operation runner.

    rollout = Rollout(store, caller, who="ana@laptop")
    record = rollout.create(release, chosen, options)    # the plan, journalled
    record = await rollout.run(record.id)                # or a later process: resume

Each wave is one operation of the runner (kind `deploy`, core/ops/deploy_kind.py); each
device of it runs core/deploy/device.py. Between waves the deployment looks at its record:
failures past `max_failures` stop it (no further wave starts, the running one is cancelled),
`deploy pause` stops it after the current wave, `deploy abort` cancels the wave running.
Everything is in the database as it happens, so a deployment whose process died is
`interrupted` and `run` again goes on from its recorded steps: devices already on the
version are skipped, the others redone (every step on the Pi is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fleet_tui.core.deploy.content import ContentStore, ReleaseFiles
from fleet_tui.core.deploy.device import DeviceFailed, DeviceJob, DeviceRefused, Traffic
from fleet_tui.core.deploy.releases import ReleaseBook, ReleaseRecord
from fleet_tui.core.deploy.steps import (
    OPEN,
    DeploymentBook,
    DeploymentRecord,
    DeployStatus,
    DeviceState,
    Plan,
    new_deployment_id,
    tally,
)
from fleet_tui.core.deploy.targets import Chosen
from fleet_tui.core.deploy.waves import count_of, plan_waves
from fleet_tui.core.ops import deploy_kind
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.kinds import DeviceCaller, StepContext
from fleet_tui.core.ops.policy import OperationPolicy
from fleet_tui.core.ops.process import still_running, this_process
from fleet_tui.core.ops.runner import Limits, OperationRunner
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog

CONTROL_POLL_S = 0.5


class DeployRefused(Exception):
    """Nothing to do, or not in a state to do it (one line for the technician)."""


@dataclass(frozen=True)
class Options:
    canary: int = 1
    batch: str = "25%"
    by_rack: bool = False
    by_outlet: bool = False
    max_failures: str = "0"
    pause_after_canary: bool = False
    confirm_s: float = 30.0
    kind: str = "deploy"  # or "rollback"
    filter: str = ""


@dataclass
class _Live:
    """One deployment while this process runs it."""

    record: DeploymentRecord
    release: ReleaseRecord
    files: ReleaseFiles
    traffic: Traffic = field(default_factory=Traffic)
    failures: int = 0
    op_id: str | None = None


@dataclass(frozen=True)
class DeployEvent:
    """For watchers (CLI lines, a screen): the deployment, and the device that changed."""

    deployment: DeploymentRecord
    device: str | None = None  # serial
    outcome: str = ""


class Rollout:
    def __init__(
        self,
        store: Store,
        caller: DeviceCaller,
        *,
        who: str,
        policy: OperationPolicy | None = None,
        on_event: Callable[[DeployEvent], None] | None = None,
    ) -> None:
        self.store = store
        self.caller = caller
        self.who = who
        self.book = DeploymentBook(store)
        self.releases = ReleaseBook(store)
        self.content: ContentStore = self.releases.content
        self.on_event = on_event or (lambda e: None)
        self.runner = OperationRunner(store, caller, who=who, policy=policy)
        self.traffic = Traffic()

    # ---- planning ------------------------------------------------------------------------------
    def create(
        self, release: ReleaseRecord, chosen: Sequence[Chosen], options: Options
    ) -> DeploymentRecord:
        if not chosen:
            raise DeployRefused("no devices match")
        total = len(chosen)
        waves = plan_waves(
            [(c.device.serial, _group(c, options)) for c in chosen],
            options.canary,
            count_of(options.batch, total, "--batch", minimum=1),
            options.by_rack or options.by_outlet,
        )
        plan = Plan(
            release=release.id,
            kind=options.kind,
            filter=options.filter,
            waves=waves,
            hostnames={c.device.serial: c.name for c in chosen},
            max_failures=count_of(options.max_failures, total, "--max-failures"),
            pause_after_canary=options.pause_after_canary,
            confirm_s=options.confirm_s,
            canary=len(waves[0]) if options.canary > 0 else 0,
        )
        now = time.time()
        record = DeploymentRecord(
            id=new_deployment_id(now),
            release_id=release.id,
            status=DeployStatus.PAUSED,  # not running until `run` claims it
            plan=plan,
            created=now,
            kind=options.kind,
            who=self.who,
            site=self.store.site_id,
        )
        self.book.create(record)
        EventLog(self.store).record(
            None,
            f"{options.kind}_created",
            f"{options.kind} {release.id} to {total} device(s) in {len(waves)} wave(s) "
            f"({record.id}) by {self.who}",
        )
        return record

    # ---- control from anywhere ------------------------------------------------------------------
    def reap(self) -> list[DeploymentRecord]:
        """Running deployments of this database whose process is gone become interrupted."""
        found = []
        for d in self.book.all():
            if d.status is DeployStatus.RUNNING and d.site == self.store.site_id:
                if not still_running(d.pid, d.pid_start):
                    self.book.update(d.id, status=DeployStatus.INTERRUPTED)
                    d = d.model_copy(update={"status": DeployStatus.INTERRUPTED})
            if d.status is DeployStatus.INTERRUPTED:
                found.append(d)
        return found

    def request(self, ref: str, control: str) -> DeploymentRecord:
        """`pause` or `abort` a deployment: a running one sees it within a second; one that
        runs nowhere (paused, interrupted) is aborted here and now."""
        self.reap()
        d = self.book.get(ref)
        if d.status not in OPEN:
            raise DeployRefused(f"deployment {d.id} is {d.status.value}")
        if d.status is DeployStatus.RUNNING:
            self.book.update(d.id, control=control)
        elif control == "abort":
            self._finish(d, DeployStatus.ABORTED, f"aborted by {self.who}")
        elif d.status is DeployStatus.INTERRUPTED:
            raise DeployRefused(f"deployment {d.id} runs nowhere (interrupted): resume or abort it")
        EventLog(self.store).record(
            None, f"deploy_{control}", f"{control} {d.id} asked by {self.who}"
        )
        return self.book.get(d.id)

    # ---- running --------------------------------------------------------------------------------
    async def run(self, ref: str) -> DeploymentRecord:
        """Run (or go on with) a deployment in this process until it ends or pauses."""
        self.reap()
        record = self.book.get(ref)
        if record.status not in (DeployStatus.PAUSED, DeployStatus.INTERRUPTED):
            raise DeployRefused(
                f"deployment {record.id} is {record.status.value}: only a paused or "
                "interrupted one goes on"
            )
        try:
            release = self.releases.get(record.release_id)
            files = self.content.files(release.sha256)
        except (LookupError, ValueError) as e:  # ReleaseError, ContentError: it cannot run
            self._finish(record, DeployStatus.FAILED, f"could not start: {e}")
            raise DeployRefused(f"deployment {record.id} failed: {e}") from None
        pid, token = this_process()
        self.book.update(
            record.id,
            status=DeployStatus.RUNNING,
            pid=pid,
            pid_start=token,
            site=self.store.site_id,
            control="",
        )
        record = self.book.get(record.id)
        live = _Live(record, release, files, self.traffic)
        deploy_kind.attach(record.id, lambda ctx: self._device(live, ctx))
        try:
            return await self._waves(live)
        except BaseException as e:
            self._finish(live.record, DeployStatus.INTERRUPTED, f"stopped: {e or type(e).__name__}")
            raise
        finally:
            deploy_kind.detach(record.id)

    async def _waves(self, live: _Live) -> DeploymentRecord:
        plan = live.record.plan
        states = {s.serial: s for s in self.book.devices(live.record)}
        for i, wave in enumerate(plan.waves):
            todo = [s for s in wave if not states[s].done]
            if not todo:
                continue
            control = self.book.get(live.record.id).control
            if control:
                return self._controlled(live, control, i)
            self.book.update(live.record.id, wave=i)
            live.record = self.book.get(live.record.id)
            self.on_event(DeployEvent(live.record))
            targets = [DeviceTarget(s, plan.hostnames.get(s, s)) for s in todo]
            timeout = live.release.manifest.health.deadline_s * 2 + plan.confirm_s + 600
            op = self.runner.start(
                "deploy",
                targets,
                {"deployment": live.record.id, "wave": i, "release": live.release.id},
                force=True,
                limits=Limits(timeout_s=timeout, concurrency=len(todo)),
            )
            live.op_id = op.id
            watcher = asyncio.get_running_loop().create_task(self._watch(live))
            try:
                await self.runner.wait(op.id)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            live.op_id = None
            if live.failures > plan.max_failures:
                what = "the canary" if i == 0 and plan.canary else f"wave {i + 1}"
                return self._finish(
                    live.record,
                    DeployStatus.STOPPED,
                    f"{live.failures} device(s) failed in {what}, more than --max-failures "
                    f"{plan.max_failures}: no further wave started",
                )
            control = self.book.get(live.record.id).control
            if control == "abort":
                return self._controlled(live, control, i + 1)
            if i == 0 and plan.canary and plan.pause_after_canary and len(plan.waves) > 1:
                return self._pause(
                    live, f"paused after the canary: fleet-tui deploy resume {live.record.id}"
                )
            if control == "pause":
                return self._controlled(live, control, i + 1)
        final = self.book.devices(live.record)
        if all(s.done for s in final):
            return self._finish(
                live.record, DeployStatus.DONE, f"{len(final)} device(s) on {live.release.version}"
            )
        return self._finish(live.record, DeployStatus.PARTIAL, _summary(final))

    async def _watch(self, live: _Live) -> None:
        """Cancel the running wave on abort, or once failures pass the threshold."""
        while True:
            await asyncio.sleep(CONTROL_POLL_S)
            if live.op_id is None:
                continue
            if (
                self.book.get(live.record.id).control == "abort"
                or live.failures > live.record.plan.max_failures
            ):
                self.runner.cancel(live.op_id)
                return

    async def _device(self, live: _Live, ctx: StepContext) -> str:
        serial = ctx.target.serial
        job = DeviceJob(
            deployment_id=live.record.id,
            serial=serial,
            hostname=ctx.target.hostname,
            wave=int(ctx.params.get("wave", 0)),
            release=live.release,
            files=live.files,
            content=self.content,
            caller=self.caller,
            book=self.book,
            traffic=live.traffic,
            confirm_s=live.record.plan.confirm_s,
        )
        try:
            outcome = await job.run()
        except DeviceFailed as e:
            live.failures += 1
            self.on_event(DeployEvent(live.record, serial, f"failed: {e}"))
            raise
        except DeviceRefused as e:
            self.on_event(DeployEvent(live.record, serial, f"refused: {e}"))
            raise
        except Exception as e:  # a bug or a lost link mid-step: this device failed
            live.failures += 1
            self.book.record_step(
                live.record.id, serial, "error", "failed", str(e) or type(e).__name__
            )
            self.on_event(DeployEvent(live.record, serial, f"failed: {e}"))
            raise
        self.on_event(DeployEvent(live.record, serial, outcome))
        return outcome

    def _controlled(self, live: _Live, control: str, next_wave: int) -> DeploymentRecord:
        if control == "abort":
            return self._finish(live.record, DeployStatus.ABORTED, "aborted")
        return self._pause(
            live, f"paused before wave {next_wave + 1}: fleet-tui deploy resume {live.record.id}"
        )

    def _pause(self, live: _Live, message: str) -> DeploymentRecord:
        self.book.update(live.record.id, status=DeployStatus.PAUSED, control="", message=message)
        EventLog(self.store).record(None, "deploy_paused", f"{live.record.id}: {message}")
        live.record = self.book.get(live.record.id)
        self.on_event(DeployEvent(live.record))
        return live.record

    def _finish(
        self, record: DeploymentRecord, status: DeployStatus, message: str
    ) -> DeploymentRecord:
        self.book.update(
            record.id, status=status, finished=time.time(), control="", message=message
        )
        EventLog(self.store).record(
            None,
            f"{record.kind}_{status.value}",
            f"{record.kind} {record.release_id} ({record.id}) {status.value}: {message}",
        )
        done = self.book.get(record.id)
        self.on_event(DeployEvent(done))
        return done

    async def close(self) -> None:
        await self.runner.close()


def _group(chosen: Chosen, options: Options) -> str:
    """What two devices of one batch may not share: a rack, or a power source."""
    if options.by_outlet:
        return chosen.power
    return chosen.rack if options.by_rack else ""


def _summary(states: list[DeviceState]) -> str:
    return ", ".join(f"{n} {w}" for w, n in tally(states).items() if n)
