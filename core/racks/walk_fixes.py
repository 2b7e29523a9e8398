"""The end of a walkthrough: a summary of the answers and the placements to fix, each fixed with
one key. Fixes come only from evidence:

- `e` where a device was expected (missing): unplace it — the slot was seen empty (unless this
  walk found it elsewhere: then its place fix moves it there);
- a scan (or reverse identification) found another known device: place the found one here; the
  expected one, seen not to be here, is taken out of this place first (unplaced — or moved by
  its own fix where this walk found it elsewhere);
- `n` (not the blinking one) or a code that matched nothing say only that something is wrong:
  the position is listed as unresolved — check, with no one-key fix (a Pi with a dead LED
  answered `n` must not lose its placement). Scanning what is there, or `r` (blink candidates),
  turns it into evidence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fleet_tui.core.racks.audits import AuditRow, Result
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.known import Known
from fleet_tui.core.racks.model import where
from fleet_tui.core.racks.walk_order import Position
from fleet_tui.core.racks.walkthrough import WalkState
from fleet_tui.core.text import visible

PLACE, UNPLACE = "place", "unplace"


@dataclass(frozen=True)
class Fix:
    action: str  # "place" | "unplace"
    serial: str
    rack_id: str
    unit: int
    slot: int | None
    face: str
    text: str  # "place pi-4b-017 in R2 U7 slot 3 (the records say R2 U9)"
    displace: str = ""  # place: the expected device, seen not to be here, taken out first

    def done(self, known: Known) -> bool:
        """Whether the records already say what this fix would make them say."""
        p = known.placed.get(self.serial)
        here = p is not None and (p.rack_id, p.unit, p.slot, p.face or "front") == (
            self.rack_id,
            self.unit,
            self.slot,
            self.face,
        )
        return here if self.action == PLACE else not here

    def apply(self, book: RackBook) -> None:
        if self.action == UNPLACE:
            book.unplace(self.serial)
            return
        if self.displace:
            mine = book.placement_of(self.displace)
            if mine is not None and (mine.rack_id, mine.unit, mine.slot, mine.face) == (
                self.rack_id,
                self.unit,
                self.slot,
                self.face,
            ):
                book.unplace(self.displace)
        book.place(self.serial, self.rack_id, self.unit, self.slot, face=self.face)


def summary(state: WalkState) -> Counter[str]:
    """How many positions got each result (positions not answered: "unanswered")."""
    counts: Counter[str] = Counter()
    for p in state.positions:
        a = state.answers.get(p.key)
        counts[a.result if a is not None else "unanswered"] += 1
    return counts


def _found_elsewhere(state: WalkState) -> dict[str, AuditRow]:
    """Devices this walk found (scanned or identified) at a position: serial -> the answer."""
    return {a.found: a for a in state.answers.values() if a.found}


def fix_at(state: WalkState, known: Known, position: Position) -> Fix | None:
    """The fix the answer at `position` is evidence for, if any."""
    a = state.answers.get(position.key)
    if a is None:
        return None
    rack = visible(state.rack.name, 40)
    here = where(rack, position.unit, position.slot, position.face)
    p, exp = position, position.expected
    if a.result == Result.MISSING and exp:
        if exp in _found_elsewhere(state):  # its own place fix moves it where it was found
            return None
        return Fix(
            UNPLACE,
            exp,
            state.rack.id,
            p.unit,
            p.slot,
            p.face,
            f"unplace {known.name(exp)}: missing — {here} was seen empty",
        )
    if a.found and a.result in (Result.MOVED, Result.UNEXPECTED):
        now = known.place_of(a.found)
        text = f"place {known.name(a.found)} in {here}" + (
            f" (the records say {now})" if now else " (placed nowhere)"
        )
        displace = exp if exp and exp != a.found else ""
        if displace:
            seen = _found_elsewhere(state).get(displace)
            text += f"; {known.name(displace)} out of here" + (
                " (found elsewhere)" if seen is not None else " (unplaced)"
            )
        return Fix(PLACE, a.found, state.rack.id, p.unit, p.slot, p.face, text, displace)
    return None


def fixes(state: WalkState, known: Known) -> list[Fix]:
    """Every fix the walk's answers are evidence for: unplacing first, then placing (a place
    that takes the expected device out of the slot first also fixes a swap of two Pis)."""
    out = [f for p in state.positions if (f := fix_at(state, known, p)) is not None]
    return [f for f in out if f.action == UNPLACE] + [f for f in out if f.action == PLACE]


def unresolved(state: WalkState, known: Known) -> list[str]:
    """Positions answered without evidence of what is there (`n`, a code that matched
    nothing): "unresolved — check R2 U8 rear: not pi-rear-4"."""
    rack = visible(state.rack.name, 40)
    out: list[str] = []
    for p in state.positions:
        a = state.answers.get(p.key)
        if a is None or a.result != Result.UNKNOWN:
            continue
        if a.scanned:
            why = f"{visible(a.scanned.strip(), 40)!r} matches no known device"
        elif p.expected:
            why = f"not {known.name(p.expected)} (n)"
        else:
            why = "a Pi where nothing should be (n)"
        out.append(f"unresolved — check {where(rack, p.unit, p.slot, p.face)}: {why}")
    return out
