"""Audit rows: every answer of a rack walkthrough (and every `fleet-tui audit record`), an
append-only table merged as a union, so two technicians' walks of one rack both survive a
merge and either of them resumes the walk on their own laptop."""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass
from enum import StrEnum

from fleet_tui.core.racks.model import FRONT
from fleet_tui.core.racks.walk_order import Key
from fleet_tui.core.store.database import Store


def technician(configured: str | None = None) -> str:
    """Who an audit row is by: the configured technician's name, else the OS user's."""
    if configured and configured.strip():
        return configured.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Result(StrEnum):
    OK = "ok"  # what should be there is there (or the slot is empty, as it should be)
    MOVED = "moved"  # a known device that the records place somewhere else
    MISSING = "missing"  # the expected device is not there: the slot is empty
    UNEXPECTED = "unexpected"  # a known device the records place nowhere
    UNKNOWN = "unknown"  # a Pi that is not the expected one, not (yet) identified


@dataclass(frozen=True)
class AuditRow:
    origin: int
    seq: int
    session: str
    rack_id: str
    unit: int
    slot: int | None
    face: str
    expected: str  # serial, "" when nothing was expected
    scanned: str  # the code scanned or typed, literally ("" for y / n / e)
    result: str
    found: str  # serial, "" for an empty slot or an unidentified Pi
    who: str
    time: float

    @property
    def key(self) -> Key:
        return (self.unit, self.slot, self.face or FRONT)

    @property
    def order(self) -> tuple[float, int, int]:
        return (self.time, self.origin, self.seq)


def _row(r: dict[str, object]) -> AuditRow:
    def text(name: str) -> str:
        value = r.get(name)
        return "" if value is None else str(value)

    slot = r.get("slot")
    return AuditRow(
        origin=int(r["origin"]),  # type: ignore[call-overload]
        seq=int(r["seq"]),  # type: ignore[call-overload]
        session=text("session"),
        rack_id=text("rack_id"),
        unit=int(r.get("unit") or 0),  # type: ignore[call-overload]
        slot=int(slot) if isinstance(slot, int | float) else None,
        face=text("face") or FRONT,
        expected=text("expected"),
        scanned=text("scanned"),
        result=text("result"),
        found=text("found"),
        who=text("who"),
        time=float(r.get("time") or 0.0),  # type: ignore[arg-type]
    )


class AuditLog:
    """The `audits` table. Holds no state: make one wherever needed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        *,
        session: str,
        rack_id: str,
        unit: int,
        slot: int | None,
        face: str,
        expected: str,
        scanned: str,
        result: Result,
        found: str,
        who: str,
        now: float | None = None,
    ) -> AuditRow:
        at = time.time() if now is None else now
        fields = {
            "session": session,
            "rack_id": rack_id,
            "unit": unit,
            "slot": slot,
            "face": face,
            "expected": expected,
            "scanned": scanned,
            "result": result.value,
            "found": found,
            "who": who,
            "time": at,
        }
        origin, seq = self.store.append_row("audits", **fields)
        return _row({"origin": origin, "seq": seq, **fields})

    def rows(self, *, session: str | None = None, since: float | None = None) -> list[AuditRow]:
        """Audit rows, oldest first: of one walkthrough, or since a moment, or all."""
        where: list[str] = ["1"]
        params: list[object] = []
        if session is not None:
            where.append("session = ?")
            params.append(session)
        if since is not None:
            where.append("time >= ?")
            params.append(since)
        return [_row(r) for r in self.store.appended("audits", " AND ".join(where), tuple(params))]

    def latest(self, session: str) -> dict[Key, AuditRow]:
        """The last answer at each position of a walkthrough (a position answered again:
        the newer answer counts; rows from two laptops ordered by time, then origin)."""
        out: dict[Key, AuditRow] = {}
        for row in sorted(self.rows(session=session), key=lambda r: r.order):
            out[row.key] = row
        return out
