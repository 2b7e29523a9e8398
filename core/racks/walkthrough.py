"""Rack walkthroughs: the technician walks a rack position by position (core/racks/walk_order.py)
and answers at each one: `y` (the blinking one is there), `n` (a Pi is there, not the
blinking one), `e` (empty), or a scanned serial / asset tag. Every answer is an audit row
(core/racks/audits.py); where a walk stands and what was answered is derived from those rows
alone, so a walk stopped on one laptop resumes on another after a merge.

A walkthrough is an LWW row (`walkthroughs`: rack, who started it, status open|finished).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from fleet_tui.core.racks.audits import AuditLog, AuditRow, Result
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.known import Known
from fleet_tui.core.racks.layout import Elevation, RackInfo, load_elevation
from fleet_tui.core.racks.model import where
from fleet_tui.core.racks.scan import clean_code, match_code
from fleet_tui.core.racks.walk_order import Key, Position, walk_positions
from fleet_tui.core.store.database import Store
from fleet_tui.core.text import visible

OPEN, FINISHED = "open", "finished"
YES, NO, EMPTY = "y", "n", "e"
ASK_WHAT = "scan what is there, or r to find it by blinking"


@dataclass(frozen=True)
class Outcome:
    """What an answer means at a position, before it is written."""

    result: Result
    found: str  # serial, "" for empty / an unidentified Pi
    scanned: str  # the code as typed ("" for y / n / e)
    message: str  # one line for the technician


@dataclass
class WalkState:
    session: str
    rack: RackInfo
    elevation: Elevation
    positions: list[Position]
    answers: dict[Key, AuditRow] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.positions)

    @property
    def answered(self) -> int:
        return sum(1 for p in self.positions if p.key in self.answers)

    def next_index(self, after: int = -1) -> int | None:
        """The first unanswered position after `after` (wrapping round), None when all are."""
        n = len(self.positions)
        for i in range(n):
            j = (after + 1 + i) % n
            if self.positions[j].key not in self.answers:
                return j
        return None

    @property
    def done(self) -> bool:
        return self.next_index() is None

    def where(self, position: Position) -> str:
        return where(visible(self.rack.name, 40), position.unit, position.slot, position.face)


def classify(position: Position, answer: str, known: Known, here: str = "") -> Outcome:
    """The outcome of `answer` ("y", "n", "e", or a scanned code) at `position`.
    `here` names the position for messages ("R2 U7 slot 3")."""
    exp = position.expected
    if answer == YES:
        if not exp:
            raise RackError(f"nothing should be in {here}: answer e (empty) or scan what is there")
        return Outcome(Result.OK, exp, "", f"{known.name(exp)} is in {here}")
    if answer == NO:
        what = f"not {known.name(exp)}" if exp else "a Pi where nothing should be"
        return Outcome(Result.UNKNOWN, "", "", f"{what}: {ASK_WHAT}")
    if answer == EMPTY:
        if exp:
            return Outcome(Result.MISSING, "", "", f"{known.name(exp)} is not in {here}")
        return Outcome(Result.OK, "", "", f"{here} is empty, as it should be")
    code = clean_code(answer)
    device = match_code(code, known.devices.values())
    if device is None:
        return Outcome(
            Result.UNKNOWN,
            "",
            answer,
            f"{visible(code, 64)!r} matches no known device (serial or asset tag)",
        )
    return found_outcome(position, device.serial, known, here, scanned=answer)


def found_outcome(
    position: Position, serial: str, known: Known, here: str, scanned: str = ""
) -> Outcome:
    """The outcome of finding the known device `serial` at `position` (scanned, or picked out
    by blinking candidates)."""
    name = known.name(serial)
    if serial == position.expected:
        return Outcome(Result.OK, serial, scanned, f"this is {name}, in its place")
    placed = known.place_of(serial)
    if placed is not None:
        return Outcome(
            Result.MOVED, serial, scanned, f"this is {name}, which should be in {placed}"
        )
    return Outcome(
        Result.UNEXPECTED, serial, scanned, f"this is {name}, which is not placed in any rack"
    )


class Walkthroughs:
    """Rack walkthroughs over the store. Holds no state: make one wherever needed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open_for(self, rack_id: str) -> str | None:
        """The open walkthrough of a rack (the one answered last, when a merge brought two)."""
        rows = self.store.rows("walkthroughs", "rack_id = ? AND status = ?", (rack_id, OPEN))
        if not rows:
            return None
        last: dict[str, float] = {}
        for a in AuditLog(self.store).rows():
            last[a.session] = max(last.get(a.session, 0.0), a.time)
        return max(rows, key=lambda r: (last.get(r["id"], 0.0), r.get("started") or 0.0))["id"]

    def start(self, rack_id: str, who: str, now: float | None = None) -> str:
        session = time.strftime("walk-%Y%m%d-%H%M%S-", time.localtime(now)) + secrets.token_hex(2)
        self.store.set_row(
            "walkthroughs",
            session,
            rack_id=rack_id,
            who=who,
            status=OPEN,
            started=time.time() if now is None else now,
        )
        return session

    def begin(self, rack_ref: str, who: str) -> tuple[str, bool]:
        """The open walkthrough of a rack, else a new one: (session, resumed)."""
        rack = RackBook(self.store).find_rack(rack_ref)
        session = self.open_for(rack.id)
        if session is not None:
            return session, True
        return self.start(rack.id, who), False

    def row(self, session: str) -> dict[str, object]:
        row = self.store.get_row("walkthroughs", session)
        if row is None:
            raise RackError(f"unknown walkthrough {session!r}")
        return row

    def state(self, session: str) -> WalkState:
        rack_id = str(self.row(session)["rack_id"])
        elevation = load_elevation(self.store, rack_id)
        return WalkState(
            session,
            elevation.rack,
            elevation,
            walk_positions(elevation),
            AuditLog(self.store).latest(session),
        )

    def answer(
        self, state: WalkState, index: int, answer: str, who: str, known: Known | None = None
    ) -> Outcome:
        """Write the audit row of `answer` at position `index`; the state learns it too."""
        position = state.positions[index]
        known = known or Known.load(self.store)
        outcome = classify(position, answer, known, state.where(position))
        self.write(state, position, outcome, who)
        return outcome

    def identified(self, state: WalkState, index: int, serial: str, who: str) -> Outcome:
        """The technician picked `serial` out by blinking candidates: it is at `index`."""
        position = state.positions[index]
        known = Known.load(self.store)
        outcome = found_outcome(position, serial, known, state.where(position))
        self.write(state, position, outcome, who)
        return outcome

    def write(self, state: WalkState, position: Position, outcome: Outcome, who: str) -> None:
        row = AuditLog(self.store).record(
            session=state.session,
            rack_id=state.rack.id,
            unit=position.unit,
            slot=position.slot,
            face=position.face,
            expected=position.expected,
            scanned=outcome.scanned,
            result=outcome.result,
            found=outcome.found,
            who=who,
        )
        state.answers[position.key] = row

    def finish(self, session: str) -> None:
        self.store.set_row("walkthroughs", session, status=FINISHED, finished=time.time())


def reverse_candidates(state: WalkState, index: int, known: Known) -> list[str]:
    """Serials to blink one by one to find out which Pi sits at an unknown position: devices
    the records place nowhere first, then placed ones this walk has not confirmed in their
    place (never the position's expected device, which was said not to be the blinking one,
    nor one already found elsewhere in this walk)."""
    position = state.positions[index]
    confirmed = {a.found for a in state.answers.values() if a.found and a.key != position.key}
    unplaced: list[tuple[str, str]] = []
    unconfirmed: list[tuple[str, str]] = []
    for serial, device in known.devices.items():
        if serial == position.expected or serial in confirmed:
            continue
        (unconfirmed if serial in known.placed else unplaced).append(
            ((device.hostname or "").lower(), serial)
        )
    return [s for _, s in sorted(unplaced)] + [s for _, s in sorted(unconfirmed)]
