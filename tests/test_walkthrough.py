"""Rack walkthroughs (core/racks/): walk order, answers as audit rows, scans, resume after a
merge of two technicians' walks, the fixes at the end, and the blink moving on through the
operation runner to a simulated Pi's real LED trigger file."""

from __future__ import annotations

from pathlib import Path

import pytest
from walk_support import LOOSE, PI1, PI2, PI3, PI4, build_rack

from fleet_tui.core.fleet.pool_caller import PoolCaller
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.routes import Target
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.runner import OperationRunner
from fleet_tui.core.racks.audits import AuditLog, Result
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.known import Known
from fleet_tui.core.racks.spot import SpotError, parse_spot
from fleet_tui.core.racks.walk_blink import BlinkRequest, WalkBlink
from fleet_tui.core.racks.walk_fixes import fixes, summary, unresolved
from fleet_tui.core.racks.walkthrough import Walkthroughs, reverse_candidates
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.hardware.actions import current_trigger


def test_walk_order_top_first_slots_then_rear_and_answers_become_audit_rows(store: Store) -> None:
    build_rack(store)
    walks = Walkthroughs(store)
    session, resumed = walks.begin("R2", "ana")
    assert not resumed
    state = walks.state(session)
    assert [(p.unit, p.slot, p.face, p.expected) for p in state.positions] == [
        (10, 1, "front", PI1),
        (10, 2, "front", ""),
        (10, 3, "front", PI2),
        (10, 4, "front", ""),
        (8, None, "front", PI3),
        (8, None, "rear", PI4),
    ]
    assert walks.answer(state, 0, "y", "ana").result is Result.OK
    with pytest.raises(RackError, match="nothing should be in R2 U10 slot 2"):
        walks.answer(state, 1, "y", "ana")
    assert walks.answer(state, 1, "e", "ana").result is Result.OK
    missing = walks.answer(state, 2, "e", "ana")
    assert (
        missing.result is Result.MISSING and "pi-5-002 is not in R2 U10 slot 3" in missing.message
    )
    # U10 slot 4 should be empty: the Pi there is pi-5-002, which the records put in slot 3
    moved = walks.answer(state, 3, "  000000010000000ABCDEF01\r", "ana")  # zeros, case, a CR
    assert moved.result is Result.MOVED
    assert moved.message == "this is pi-5-002, which should be in R2 U10 slot 3"
    assert walks.answer(state, 4, "asset-o-3", "ana").result is Result.OK  # the asset tag
    unknown = walks.answer(state, 5, "NOPE-123", "ana")
    assert unknown.result is Result.UNKNOWN and "'NOPE-123' matches no known device" in (
        unknown.message
    )
    rows = AuditLog(store).rows(session=session)
    assert [r.result for r in rows] == ["ok", "ok", "missing", "moved", "ok", "unknown"]
    assert rows[3].scanned == "  000000010000000ABCDEF01\r" and rows[3].found == PI2
    assert {r.who for r in rows} == {"ana"} and state.done
    # the fixes come from evidence only: pi-5-002 was scanned in slot 4 (its place fix moves
    # it, so the "missing" of slot 3 needs no unplace); the rear is unresolved (no fix)
    known = Known.load(store)
    todo = fixes(state, known)
    assert [f.text for f in todo] == [
        "place pi-5-002 in R2 U10 slot 4 (the records say R2 U10 slot 3)",
    ]
    assert unresolved(state, known) == [
        "unresolved — check R2 U8 rear: 'NOPE-123' matches no known device"
    ]
    assert summary(state)["ok"] == 3
    # reverse identification of the rear Pi: the unplaced one first
    assert reverse_candidates(state, 5, known)[0] == LOOSE
    identified = walks.identified(state, 5, LOOSE, "ana")
    assert identified.result is Result.UNEXPECTED
    assert [f.text for f in fixes(state, Known.load(store))][-1] == (
        "place pi-loose in R2 U8 rear (placed nowhere); pi-rear-4 out of here (unplaced)"
    )
    book = RackBook(store)
    for fix in fixes(state, Known.load(store)):
        fix.apply(book)
    now = Known.load(store)
    assert now.place_of(PI2) == "R2 U10 slot 4" and now.place_of(LOOSE) == "R2 U8 rear"
    assert now.place_of(PI4) is None
    assert all(f.done(now) for f in fixes(state, now))


def test_n_is_no_evidence_e_unplaces_and_scans_fix_a_swap(store: Store) -> None:
    build_rack(store)
    walks = Walkthroughs(store)
    session, _ = walks.begin("R2", "ana")
    state = walks.state(session)
    # slot 1 and slot 3 hold each other's Pi (both scanned); U8: `n` (a dead LED, maybe);
    # the rear of U8 is seen empty
    assert walks.answer(state, 0, PI2, "ana").result is Result.MOVED
    walks.answer(state, 1, "e", "ana")
    assert walks.answer(state, 2, PI1, "ana").result is Result.MOVED
    walks.answer(state, 3, "e", "ana")
    no = walks.answer(state, 4, "n", "ana")
    assert no.result is Result.UNKNOWN
    assert no.message == "not pi-zero-3: scan what is there, or r to find it by blinking"
    assert walks.answer(state, 5, "e", "ana").result is Result.MISSING
    known = Known.load(store)
    todo = fixes(state, known)
    assert [f.text for f in todo] == [
        "unplace pi-rear-4: missing — R2 U8 rear was seen empty",
        "place pi-5-002 in R2 U10 slot 1 (the records say R2 U10 slot 3); "
        "pi-4b-017 out of here (found elsewhere)",
        "place pi-4b-017 in R2 U10 slot 3 (the records say R2 U10 slot 1); "
        "pi-5-002 out of here (found elsewhere)",
    ]
    assert unresolved(state, known) == ["unresolved — check R2 U8: not pi-zero-3 (n)"]
    book = RackBook(store)
    for fix in reversed(todo):  # in any order: each place takes the other Pi out first
        fix.apply(book)
    now = Known.load(store)
    assert now.place_of(PI1) == "R2 U10 slot 3" and now.place_of(PI2) == "R2 U10 slot 1"
    assert now.place_of(PI3) == "R2 U8"  # `n` alone never unplaces
    assert now.place_of(PI4) is None
    assert all(f.done(now) for f in fixes(state, now))


def test_two_technicians_walks_merge_and_resume_on_the_other_laptop(tmp_path: Path) -> None:
    with Store.open(tmp_path / "ana.db") as ana, Store.open(tmp_path / "bo.db") as bo:
        build_rack(ana)
        build_rack(bo)  # the same names: the same rack id on both laptops
        walks = Walkthroughs(ana)
        session, _ = walks.begin("R2", "ana")
        state = walks.state(session)
        walks.answer(state, 0, "y", "ana")
        walks.answer(state, 1, "e", "ana")
        # bo started his own walk of the same rack on his laptop before any merge
        bo_walks = Walkthroughs(bo)
        other, _ = bo_walks.begin("R2", "bo")
        bo_state = bo_walks.state(other)
        bo_walks.answer(bo_state, 4, PI3, "bo")
        # ana stops; her copy reaches bo's laptop (and bo's hers)
        PeerMerge(bo).merge(Exchange(ana).snapshot(tmp_path / "ana-snap.db"))
        PeerMerge(ana).merge(Exchange(bo).snapshot(tmp_path / "bo-snap.db"))
        for store in (ana, bo):
            assert len(AuditLog(store).rows()) == 3
        # two open walks of R2 now: the one answered last is the one resumed
        walks.answer(state, 2, "y", "ana")
        PeerMerge(bo).merge(Exchange(ana).snapshot(tmp_path / "ana-snap2.db"))
        resumed, was_open = Walkthroughs(bo).begin("R2", "bo")
        assert was_open and resumed == session
        there = Walkthroughs(bo).state(resumed)
        assert there.answered == 3 and there.next_index() == 3
        Walkthroughs(bo).answer(there, 3, "e", "bo")
        assert [a.who for a in AuditLog(bo).rows(session=session)] == ["ana"] * 3 + ["bo"]


async def test_the_walk_blink_changes_the_simulated_pis_led_trigger_and_restores_it(
    lab: SimLab, store: Store, pool: ConnectionPool
) -> None:
    targets = [Target(LOOPBACK, pi.port, "pi", None, pi.serial, pi.hostname) for pi in lab.pis]
    runner = OperationRunner(store, PoolCaller(pool, targets), who="ana")
    first, second = lab.pis[0], lab.pis[1]

    def trigger(pi: object) -> str:
        return current_trigger((pi.root / "sys/class/leds/ACT/trigger").read_text())  # type: ignore[attr-defined]

    before = trigger(first)
    assert before != "timer"
    blink = WalkBlink("walk-1", "R2")

    async def run(requests: list[BlinkRequest]) -> None:
        for r in requests:
            op = await runner.run("identify", [r.target], r.params, title=r.title)
            assert op.status.value == "done", op

    await run(blink.show(DeviceTarget(first.serial, first.hostname), "R2 U10 slot 1"))
    assert trigger(first) == "timer"
    # the walk moves on: the previous Pi's LED is back to what it was, the next one blinks
    await run(blink.show(DeviceTarget(second.serial, second.hostname), "R2 U10 slot 2"))
    assert trigger(first) == before and trigger(second) == "timer"
    await run(blink.stop())
    assert trigger(second) == before
    # each blink is an operation titled after the walk and the position
    titles = [op.title for op in reversed(OperationJournal(store).operations())]
    assert titles == [
        "Walk R2 U10 slot 1",
        "Off: Walk R2 U10 slot 1",
        "Walk R2 U10 slot 2",
        "Off: Walk R2 U10 slot 2",
    ]
    steps = [
        s
        for op in OperationJournal(store).operations()
        for s in OperationJournal(store).steps(op.id)
    ]
    assert sorted(s.message for s in steps).count("LED back to its usual trigger") == 2


@pytest.mark.parametrize(
    ("text", "spot"),
    [
        ("R2:12/3", ("R2", 12, 3)),
        (" R2:U12 ", ("R2", 12, None)),
        ("Lab/R2:u7 / 2", ("Lab/R2", 7, 2)),
    ],
)
def test_one_spot_parser_for_place_and_audit_record(
    text: str, spot: tuple[str, int, int | None]
) -> None:
    assert parse_spot(text) == spot


@pytest.mark.parametrize("text", ["R2", "R2-10", ":12", "R2:12/", "R2:x", "R2:-3"])
def test_a_malformed_spot_is_one_usage_error(text: str) -> None:
    with pytest.raises(SpotError, match="is not RACK:UNIT or RACK:UNIT/SLOT"):
        parse_spot(text)
