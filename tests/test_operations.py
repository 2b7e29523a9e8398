"""The operation runner against the simulated lab: real SSH on 127.0.0.1, the real agent, the
fake Pi tree recording what reached it (`sim/requests`), a real SQLite journal."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from fleet_tui.core.fleet.pool_caller import PoolCaller
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.routes import Target
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.model import OpStatus, StepStatus
from fleet_tui.core.ops.policy import OperationPolicy
from fleet_tui.core.ops.runner import Limits, OperationRefused, OperationRunner
from fleet_tui.core.sim.lab import LOOPBACK, SimLab, SimPi
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge


def _targets(lab: SimLab) -> list[Target]:
    return [Target(LOOPBACK, pi.port, "pi", None, pi.serial, pi.hostname) for pi in lab.pis]


def _devices(pis: list[SimPi]) -> list[DeviceTarget]:
    return [DeviceTarget(pi.serial, pi.hostname) for pi in pis]


def _requests(pi: SimPi) -> list[str]:
    path = pi.root / "sim/requests"
    return path.read_text().split() if path.exists() else []


def _runner(
    store: Store, pool: ConnectionPool, lab: SimLab, events: list[OperationEvent] | None = None
) -> OperationRunner:
    sink = events.append if events is not None else None
    return OperationRunner(store, PoolCaller(pool, _targets(lab)), who="ana@laptop", on_event=sink)


async def test_reboot_runs_on_every_device_and_is_journalled_and_logged(
    lab: SimLab, store: Store, pool: ConnectionPool
) -> None:
    events: list[OperationEvent] = []
    runner = _runner(store, pool, lab, events)
    op = await runner.run("reboot", _devices(lab.pis))
    assert op.status is OpStatus.DONE and op.title == "Reboot 3 devices"
    assert all("reboot" in _requests(pi) for pi in lab.pis)
    steps = OperationJournal(store).steps(op.id)
    assert {s.serial: s.status for s in steps} == {pi.serial: StepStatus.OK for pi in lab.pis}
    assert all(s.started and s.finished and s.finished >= s.started for s in steps)
    kinds = [e.kind for e in EventLog(store).recent(lab.pis[0].serial)]
    assert "reboot" in kinds and "reboot_done" in kinds
    # the events a UI draws progress from: started, running/ok per device, finished at 3/3
    assert events[0].event == "started" and events[-1].event == "finished"
    assert events[-1].progress.ok == 3 and events[-1].progress.total == 3
    assert [e.step.status for e in events if e.step and e.step.serial == lab.pis[1].serial] == [
        StepStatus.RUNNING,
        StepStatus.OK,
    ]


async def test_one_failing_device_is_its_own_result(
    lab: SimLab, store: Store, pool: ConnectionPool
) -> None:
    await lab.apply(f"{lab.pis[1].hostname}:ssh-down")
    runner = _runner(store, pool, lab)
    op = await runner.run("identify", _devices(lab.pis))
    assert op.status is OpStatus.PARTIAL
    steps = {s.serial: s for s in OperationJournal(store).steps(op.id)}
    down = steps[lab.pis[1].serial]
    assert down.status is StepStatus.FAILED and down.message
    assert steps[lab.pis[0].serial].status is StepStatus.OK
    assert "identify_failed" in [e.kind for e in EventLog(store).recent(lab.pis[1].serial)]


async def test_a_slow_device_times_out_without_holding_the_others(
    lab: SimLab, store: Store, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = _runner(store, pool, lab)
    await runner.run("identify", _devices(lab.pis))  # connected first: only the call is slow
    await lab.apply(f"{lab.pis[2].hostname}:slow-link=3")
    op = await runner.run("identify", _devices(lab.pis), limits=Limits(timeout_s=1.5))
    steps = {s.serial: s.status for s in OperationJournal(store).steps(op.id)}
    assert steps[lab.pis[2].serial] is StepStatus.TIMEOUT
    assert steps[lab.pis[0].serial] is StepStatus.OK
    assert op.status is OpStatus.PARTIAL


async def test_reboot_cooldown_refuses_before_sending_and_force_overrides(
    lab: SimLab, store: Store, pool: ConnectionPool
) -> None:
    runner = _runner(store, pool, lab)
    first = lab.pis[0]
    await runner.run("reboot", _devices([first]))
    again = await runner.run("reboot", _devices(lab.pis[:2]))
    steps = {s.serial: s for s in OperationJournal(store).steps(again.id)}
    refused = steps[first.serial]
    assert refused.status is StepStatus.REFUSED and "cooldown_s.reboot" in refused.message
    assert _requests(first).count("reboot") == 1  # nothing was sent the second time
    assert steps[lab.pis[1].serial].status is StepStatus.OK
    forced = await runner.run("reboot", _devices([first]), force=True)
    assert forced.status is OpStatus.DONE and _requests(first).count("reboot") == 2
    relaxed = OperationRunner(
        store,
        PoolCaller(pool, _targets(lab)),
        who="ana",
        policy=OperationPolicy(cooldown_s={"reboot": 0}),
    )
    assert (await relaxed.run("reboot", _devices([first]))).status is OpStatus.DONE


async def test_cancel_stops_what_has_not_started(
    lab: SimLab, store: Store, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await lab.apply("all:slow-link=0.5")
    events: list[OperationEvent] = []
    runner = _runner(store, pool, lab, events)
    op = runner.start("identify", _devices(lab.pis), limits=Limits(concurrency=1))
    for _ in range(200):  # the first device answered
        if any(e.step and e.step.status is StepStatus.OK for e in events):
            break
        await asyncio.sleep(0.05)
    runner.cancel(op.id)
    done = await runner.wait(op.id)
    assert done.status is OpStatus.CANCELLED
    statuses = [s.status for s in OperationJournal(store).steps(op.id)]
    assert statuses.count(StepStatus.OK) >= 1 and StepStatus.CANCELLED in statuses
    assert StepStatus.PENDING not in statuses and StepStatus.RUNNING not in statuses


async def test_a_cancel_from_another_process_reaches_the_running_operation(
    lab: SimLab, store: Store, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleet_tui.core.ops import runner as runner_module

    monkeypatch.setattr(runner_module, "CANCEL_POLL_S", 0.1)
    await lab.apply("all:slow-link=0.5")
    runner = _runner(store, pool, lab)
    op = runner.start("identify", _devices(lab.pis), limits=Limits(concurrency=1))
    with Store.open(store.path) as other:  # another process's handle on the same file
        OperationJournal(other).request_cancel(op.id)
    done = await asyncio.wait_for(runner.wait(op.id), 20)
    assert done.status is OpStatus.CANCELLED


async def test_an_operation_whose_process_died_is_interrupted_not_lost_and_resumes(
    lab: SimLab, store: Store, pool: ConnectionPool
) -> None:
    journal = OperationJournal(store)
    pis = lab.pis
    op = journal.create("reboot", "Reboot 3 devices", _devices(pis), who="bo")
    journal.set_step(op.id, pis[0].serial, StepStatus.RUNNING)
    journal.set_step(op.id, pis[0].serial, StepStatus.OK, "reboot accepted")
    journal.set_step(op.id, pis[1].serial, StepStatus.RUNNING)  # in flight when it died
    # the process that ran it is gone (a real, finished process: its pid is free)
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    store.set_row("operations", op.id, pid=dead.pid, pid_start="gone")

    interrupted = journal.reap()
    assert [o.id for o in interrupted] == [op.id]
    got = journal.get(op.id)
    assert got.status is OpStatus.INTERRUPTED
    steps = {s.serial: s for s in journal.steps(op.id)}
    assert steps[pis[0].serial].status is StepStatus.OK
    assert steps[pis[1].serial].status is StepStatus.INTERRUPTED
    assert "unknown" in steps[pis[1].serial].message
    assert steps[pis[2].serial].status is StepStatus.PENDING
    assert not any("reboot" in _requests(pi) for pi in pis)  # nothing re-ran by itself

    runner = _runner(store, pool, lab)
    runner.resume(op.id[-4:])  # by the id's tail, as a technician types it
    done = await runner.wait(op.id)
    steps = {s.serial: s for s in journal.steps(op.id)}
    assert steps[pis[2].serial].status is StepStatus.OK and "reboot" in _requests(pis[2])
    assert steps[pis[1].serial].status is StepStatus.INTERRUPTED  # unknown: not re-sent
    assert _requests(pis[1]) == [] and done.attempt == 2
    assert done.status is OpStatus.PARTIAL
    with pytest.raises(OperationRefused):
        runner.resume(op.id)  # finished now: nothing to resume


async def test_resume_may_rerun_unknown_steps_when_asked(
    lab: SimLab, store: Store, pool: ConnectionPool
) -> None:
    journal = OperationJournal(store)
    op = journal.create("identify", "Identify 1 device", _devices(lab.pis[:1]), who="bo")
    journal.set_step(op.id, lab.pis[0].serial, StepStatus.RUNNING)
    store.set_row("operations", op.id, pid=2**22 + 7, pid_start="gone")
    journal.reap()
    runner = _runner(store, pool, lab)
    with pytest.raises(OperationRefused, match="unknown"):
        runner.resume(op.id)
    runner.resume(op.id, include_unknown=True)
    assert (await runner.wait(op.id)).status is OpStatus.DONE


async def test_a_running_operation_of_a_live_process_is_left_alone(store: Store) -> None:
    journal = OperationJournal(store)
    op = journal.create("identify", "Identify 1 device", [DeviceTarget("s1", "pi")], who="bo")
    assert journal.reap() == []  # our own process runs it
    assert journal.get(op.id).status is OpStatus.RUNNING


async def test_a_different_pi_at_the_address_gets_nothing(
    lab: SimLab, store: Store, pool: ConnectionPool
) -> None:
    a, b = lab.pis[0], lab.pis[1]
    # the database thinks `a` lives at b's address (a DHCP lease moved)
    wrong = [Target(LOOPBACK, b.port, "pi", None, a.serial, a.hostname)]
    runner = OperationRunner(store, PoolCaller(pool, wrong), who="ana")
    op = await runner.run("reboot", _devices([a]))
    (step,) = OperationJournal(store).steps(op.id)
    assert step.status is StepStatus.FAILED and "another Pi has this address" in step.message
    assert _requests(a) == [] and _requests(b) == []


def test_operations_merge_between_technicians(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as a:
        journal = OperationJournal(a)
        op = journal.create("identify", "Identify 1 device", [DeviceTarget("s1", "pi")], who="ana")
        journal.set_step(op.id, "s1", StepStatus.OK, "blinking")
        journal.finish(op, OpStatus.DONE)
        Exchange(a).snapshot(tmp_path / "a-snap.db")
    with Store.open(tmp_path / "b.db") as b:
        PeerMerge(b).merge(tmp_path / "a-snap.db")
        theirs = OperationJournal(b).get(op.id)
        assert theirs.status is OpStatus.DONE and theirs.who == "ana"
        assert OperationJournal(b).reap() == []  # another site's operation: never reaped here
        assert [s.status for s in OperationJournal(b).steps(op.id)] == [StepStatus.OK]
