"""The end of a walkthrough: a summary of the answers and the placements to fix, each fixed with
one RackBook call (`unplace` a device that is not where the records say, `place` one found
somewhere else). Unplacing comes first, so that a swap of two Pis can be fixed in order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fleet_tui.core.racks.audits import Result
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.known import Known
from fleet_tui.core.racks.model import where
from fleet_tui.core.racks.walkthrough import WalkState
from fleet_tui.core.text import visible


@dataclass(frozen=True)
class Fix:
    action: str  # "place" | "unplace"
    serial: str
    rack_id: str
    unit: int
    slot: int | None
    face: str
    text: str  # "place pi-4b-017 in R2 U7 slot 3 (now in R2 U9)"

    def done(self, known: Known) -> bool:
        """Whether the records already say what this fix would make them say."""
        p = known.placed.get(self.serial)
        here = p is not None and (p.rack_id, p.unit, p.slot, p.face or "front") == (
            self.rack_id,
            self.unit,
            self.slot,
            self.face,
        )
        return here if self.action == "place" else not here

    def apply(self, book: RackBook) -> None:
        if self.action == "place":
            book.place(self.serial, self.rack_id, self.unit, self.slot, face=self.face)
        else:
            book.unplace(self.serial)


def summary(state: WalkState) -> Counter[str]:
    """How many positions got each result (positions not answered: "unanswered")."""
    counts: Counter[str] = Counter()
    for p in state.positions:
        a = state.answers.get(p.key)
        counts[a.result if a is not None else "unanswered"] += 1
    return counts


def fixes(state: WalkState, known: Known) -> list[Fix]:
    rack = visible(state.rack.name, 40)
    unplace: list[Fix] = []
    place: list[Fix] = []
    for p in state.positions:
        a = state.answers.get(p.key)
        if a is None:
            continue
        here = where(rack, p.unit, p.slot, p.face)
        if p.expected and a.result != Result.OK:
            unplace.append(
                Fix(
                    "unplace",
                    p.expected,
                    state.rack.id,
                    p.unit,
                    p.slot,
                    p.face,
                    f"unplace {known.name(p.expected)}: not in {here} ({a.result})",
                )
            )
        if a.found and a.result in (Result.MOVED, Result.UNEXPECTED):
            now = known.place_of(a.found)
            place.append(
                Fix(
                    "place",
                    a.found,
                    state.rack.id,
                    p.unit,
                    p.slot,
                    p.face,
                    f"place {known.name(a.found)} in {here}"
                    + (f" (the records say {now})" if now else " (placed nowhere)"),
                )
            )
    return unplace + place


def open_questions(state: WalkState) -> list[str]:
    """Positions whose Pi is still unknown (n, or a code that matched nothing)."""
    rack = visible(state.rack.name, 40)
    return [
        f"unknown Pi in {where(rack, p.unit, p.slot, p.face)}"
        for p in state.positions
        if (a := state.answers.get(p.key)) is not None and a.result == Result.UNKNOWN
    ]
