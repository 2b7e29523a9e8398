"""The site-visit report: what changed since a moment (a date, or the end of the last visit).

One table of rows with a `section` column, for a spreadsheet (CSV) or read as Markdown:
- added: devices first seen since then (the earliest of: host key pinned, first sample, first
  event, first write of its row);
- gone: devices forgotten since then, and devices not seen since then;
- moved: placement rows tombstoned and written since then (a move is both), per device;
- failed audit: walkthrough answers since then that were not ok;
- throttle: throttle / under-voltage flags seen since then that the device's last sample
  before did not have;
- hottest: the devices with the highest temperature since then;
- rack temperature: per rack, the mean temperature of its devices over the last day before
  then and over the last day, and the change;
- clock skew: devices whose clock is off by at least the status policy's limit;
- conflict: placement conflicts open now (core/sync/conflicts.py).

The last visit: walkthroughs are the visits' trace; the last visit is the day (local date) of
the newest walkthrough finished before today, and the report runs from its last finish.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from fleet_tui.core.export import CsvRow, cell, iso, write_csv
from fleet_tui.core.policy import StatusPolicy, throttle_flags
from fleet_tui.core.racks.audits import AuditLog, Result
from fleet_tui.core.racks.model import where
from fleet_tui.core.records import SampleRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.hlc import Stamp
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.store.schema import DEVICE_FIELDS
from fleet_tui.core.sync.conflicts import constraint_conflicts
from fleet_tui.core.text import visible

DAY_S = 86400.0
HOTTEST = 10
SECTIONS = (
    "added",
    "gone",
    "moved",
    "failed audit",
    "throttle",
    "hottest",
    "rack temperature",
    "clock skew",
    "conflict",
)


class VisitRow(CsvRow):
    section: str
    time: datetime | None
    serial: str | None
    hostname: str | None
    rack: str | None
    where: str | None
    value: float | None
    detail: str


def _wall(clock: object) -> float | None:
    """The wall time (s) of an HLC stamp, None for a cell nobody wrote."""
    return Stamp.decode(int(clock)).wall_ms / 1000.0 if isinstance(clock, int) and clock else None


def last_visit_end(store: Store, now: float | None = None) -> float | None:
    """When the last visit ended: the newest finish of a walkthrough finished before today."""
    at = time.time() if now is None else now
    today = time.mktime(time.localtime(at)[:3] + (0, 0, 0, 0, 0, -1))
    rows = store.rows("walkthroughs", "status = 'finished' AND finished < ?", (today,))
    ends = [float(r["finished"]) for r in rows if isinstance(r.get("finished"), int | float)]
    return max(ends) if ends else None


class VisitReport:
    def __init__(
        self,
        store: Store,
        since: float,
        policy: StatusPolicy | None = None,
        now: float | None = None,
    ) -> None:
        self.store = store
        self.since = since
        self.now = time.time() if now is None else now
        self.policy = policy or StatusPolicy()
        self.devices = {d.serial: d for d in DeviceBook(store).all()}
        self.racks = {r["id"]: r.get("name") or r["id"] for r in store.rows("racks")}
        # where each device is now: a row about a device says so unless it names a place itself
        self.placed = {str(r["serial"]): r for r in store.rows("placements") if r.get("serial")}

    def _name(self, serial: str | None) -> str | None:
        d = self.devices.get(serial or "")
        return d.hostname if d is not None else None

    def rows(self) -> list[VisitRow]:
        samples = self._samples()
        return [
            *self._added(samples),
            *self._gone(),
            *self._moved(),
            *self._audits(),
            *self._throttle(samples),
            *self._hottest(samples),
            *self._rack_temperatures(samples),
            *self._skew(),
            *self._conflicts(),
        ]

    def _row(self, section: str, detail: str, **fields: object) -> VisitRow:
        serial = fields.get("serial")
        here = self.placed.get(str(serial)) if serial else None
        values: dict[str, object] = {
            "time": None,
            "serial": None,
            "hostname": self._name(str(serial)) if serial else None,
            "rack": self.racks.get(str(here["rack_id"]), here["rack_id"]) if here else None,
            "where": self._place(here) if here else None,
            "value": None,
            **fields,
        }
        return VisitRow(section=section, detail=detail, **values)  # type: ignore[arg-type]

    # ---- devices ---------------------------------------------------------------------------
    def _samples(self) -> dict[str, list[SampleRecord]]:
        """Every device's samples from a day before `since` on (the temperature baseline)."""
        log = SampleLog(self.store)
        return {s: log.recent(s, self.since - DAY_S) for s in self.devices}

    def _first_seen(self, samples: dict[str, list[SampleRecord]]) -> dict[str, float]:
        first: dict[str, float] = {}

        def saw(serial: object, t: object) -> None:
            if isinstance(serial, str) and isinstance(t, int | float) and t > 0:
                first[serial] = min(first.get(serial, float(t)), float(t))

        clocks = ", ".join(f"{c.name}__clk" for c in DEVICE_FIELDS)
        for r in self.store.query(f"SELECT serial, {clocks} FROM devices WHERE deleted = 0"):
            for k, v in r.items():
                if k != "serial":
                    saw(r["serial"], _wall(v))
        for r in self.store.query(
            "SELECT serial, min(pinned_at) AS t FROM host_keys WHERE deleted = 0 GROUP BY serial"
        ):
            saw(r["serial"], r["t"])
        for r in self.store.query("SELECT serial, min(time) AS t FROM events GROUP BY serial"):
            saw(r["serial"], r["t"])
        for serial, found in samples.items():
            if found and found[0].time < self.since:
                saw(serial, found[0].time)  # a sample before `since`: not new
        return first

    def _added(self, samples: dict[str, list[SampleRecord]]) -> Iterable[VisitRow]:
        first = self._first_seen(samples)
        for serial in self.devices:
            t = first.get(serial)
            if t is not None and t >= self.since:
                yield self._row("added", "first seen", time=iso(t), serial=serial)

    def _gone(self) -> Iterable[VisitRow]:
        for r in self.store.query(
            "SELECT serial, hostname, deleted__clk FROM devices WHERE deleted = 1"
        ):
            t = _wall(r["deleted__clk"])
            if t is not None and t >= self.since:
                yield self._row(
                    "gone", "forgotten", time=iso(t), serial=r["serial"], hostname=r["hostname"]
                )
        for serial, d in self.devices.items():
            if d.last_seen is None or d.last_seen < self.since:
                seen = iso(d.last_seen)
                yield self._row(
                    "gone",
                    f"not seen since {cell(seen)}" if seen else "never seen",
                    time=seen,
                    serial=serial,
                )

    # ---- placements and audits -------------------------------------------------------------
    def _place(self, r: dict[str, object]) -> str:
        rack = visible(self.racks.get(str(r["rack_id"]), r["rack_id"]), 40)
        unit = int(r["unit"] or 0)  # type: ignore[call-overload]
        slot = r["slot"] if isinstance(r["slot"], int) else None
        return where(rack, unit, slot, str(r["face"] or "front"))

    def _moved(self) -> Iterable[VisitRow]:
        rows = self.store.query(
            "SELECT id, serial, rack_id, unit, slot, face, deleted, serial__clk, deleted__clk "
            "FROM placements"
        )
        changes: dict[str, dict[str, list[dict[str, object]]]] = defaultdict(
            lambda: {"from": [], "to": []}
        )
        for r in rows:
            made, gone = _wall(r["serial__clk"]), _wall(r["deleted__clk"])
            if r["deleted"] and gone is not None and gone >= self.since:
                changes[str(r["serial"])]["from"].append({**r, "t": gone})
            if not r["deleted"] and made is not None and made >= self.since:
                changes[str(r["serial"])]["to"].append({**r, "t": made})
        for serial, ch in sorted(changes.items()):
            old = min(ch["from"], key=lambda r: r["t"], default=None)  # type: ignore[arg-type, return-value]
            new = max(ch["to"], key=lambda r: r["t"], default=None)  # type: ignore[arg-type, return-value]
            if old is not None and new is not None:
                detail = f"moved from {self._place(old)} to {self._place(new)}"
            elif new is not None:
                detail = f"placed in {self._place(new)}"
            elif old is not None:
                detail = f"unplaced from {self._place(old)}"
            else:
                continue
            last = new if new is not None else old
            assert last is not None
            yield self._row(
                "moved",
                detail,
                time=iso(float(last["t"])),  # type: ignore[arg-type]
                serial=serial,
                rack=self.racks.get(str(last["rack_id"]), str(last["rack_id"])),
                where=self._place(last),
            )

    def _audits(self) -> Iterable[VisitRow]:
        for a in AuditLog(self.store).rows(since=self.since):
            if a.result == Result.OK:
                continue
            serial = a.found or a.expected or None
            what = f"{a.result}: expected {self._name(a.expected) or a.expected or 'nothing'}"
            what += f", found {self._name(a.found) or a.found or 'nothing identified'}"
            if a.scanned:
                what += f" (scanned {a.scanned!r})"
            rack = self.racks.get(a.rack_id, a.rack_id)
            yield self._row(
                "failed audit",
                f"{what}; by {a.who}",
                time=iso(a.time),
                serial=serial,
                rack=rack,
                where=where(visible(rack, 40), a.unit, a.slot, a.face),
            )

    # ---- health ----------------------------------------------------------------------------
    def _throttle(self, samples: dict[str, list[SampleRecord]]) -> Iterable[VisitRow]:
        for serial, found in samples.items():
            before = [s for s in found if s.time < self.since and s.throttled is not None]
            had = set()
            if before:
                now, past = throttle_flags(before[-1].throttled)
                had = set(now) | set(past)
            new: dict[str, float] = {}
            for s in found:
                if s.time >= self.since and s.throttled:
                    now, past = throttle_flags(s.throttled)
                    for flag in (*now, *past):
                        if flag not in had:
                            new.setdefault(flag, s.time)
            if new:
                yield self._row(
                    "throttle",
                    "new: " + "; ".join(new),
                    time=iso(min(new.values())),
                    serial=serial,
                )

    def _hottest(self, samples: dict[str, list[SampleRecord]]) -> Iterable[VisitRow]:
        peaks = []
        for serial, found in samples.items():
            temps = [
                (s.temperature_c, s.time)
                for s in found
                if s.time >= self.since and s.temperature_c is not None
            ]
            if temps:
                peaks.append((*max(temps), serial))
        for temp, t, serial in sorted(peaks, reverse=True)[:HOTTEST]:
            yield self._row(
                "hottest", f"max {temp:.1f} °C", time=iso(t), serial=serial, value=round(temp, 1)
            )

    def _rack_temperatures(self, samples: dict[str, list[SampleRecord]]) -> Iterable[VisitRow]:
        racks: dict[str, set[str]] = defaultdict(set)
        for p in self.store.rows("placements"):
            if p.get("serial") and p.get("rack_id"):
                racks[str(p["rack_id"])].add(str(p["serial"]))

        def mean(serials: set[str], lo: float, hi: float) -> float | None:
            temps = [
                s.temperature_c
                for serial in serials
                for s in samples.get(serial, [])
                if lo <= s.time < hi and s.temperature_c is not None
            ]
            return sum(temps) / len(temps) if temps else None

        for rack_id, serials in sorted(racks.items(), key=lambda kv: self.racks.get(kv[0], kv[0])):
            then = mean(serials, self.since - DAY_S, self.since)
            now = mean(serials, max(self.since, self.now - DAY_S), self.now + 1)
            if now is None:
                continue
            change = None if then is None else round(now - then, 1)
            detail = f"mean {now:.1f} °C over the last day"
            if then is not None and change is not None:
                detail = f"mean {then:.1f} °C then, {now:.1f} °C now ({change:+.1f})"
            yield self._row(
                "rack temperature", detail, rack=self.racks.get(rack_id, rack_id), value=change
            )

    def _skew(self) -> Iterable[VisitRow]:
        limit = self.policy.clock_skew_warn_s
        for serial, d in self.devices.items():
            skew = d.clock_skew_s
            if limit > 0 and skew is not None and abs(skew) >= limit:
                yield self._row(
                    "clock skew",
                    f"clock {'ahead' if skew > 0 else 'behind'} by {abs(skew):.0f} s",
                    serial=serial,
                    value=skew,
                )

    def _conflicts(self) -> Iterable[VisitRow]:
        with self.store.locked() as conn:
            found = constraint_conflicts(conn)
        for c in found:
            yield self._row(
                "conflict",
                f"{c.kind} {c.subject}: "
                + ", ".join(
                    [self._name(s) or s for s in c.serials]
                    + ([f"{len(c.items)} rack item(s)"] if c.items else [])
                ),
                serial=c.serials[0] if len(c.serials) == 1 else None,
            )


def write_visit_csv(rows: list[VisitRow], out: IO[str]) -> int:
    return write_csv(VisitRow, rows, out)


def write_visit_markdown(
    rows: list[VisitRow], out: IO[str], since: float | None, why: str, now: float
) -> None:
    """Markdown for reading: a heading, then one table per section (empty ones say none)."""
    start = cell(iso(since)) if since else "the first records"
    out.write(f"# Site visit report\n\nSince {start} ({why}); written {cell(iso(now))}.\n")
    by_section: dict[str, list[VisitRow]] = defaultdict(list)
    for r in rows:
        by_section[r.section].append(r)
    for section in SECTIONS:
        found = by_section.get(section, [])
        out.write(f"\n## {section.capitalize()} ({len(found)})\n\n")
        if not found:
            out.write("None.\n")
            continue
        out.write("| Time | Device | Rack | Where | Detail |\n| --- | --- | --- | --- | --- |\n")
        for r in found:
            device = r.hostname or r.serial or ""
            if r.hostname and r.serial:
                device = f"{r.hostname} ({r.serial})"
            cells = [cell(r.time), device, r.rack or "", r.where or "", r.detail]
            out.write("| " + " | ".join(_md(c) for c in cells) + " |\n")


def _md(text: object) -> str:
    """A table cell shown literally: control characters escaped, pipes and markup neutral."""
    plain = visible(text, 500)
    for ch in "\\|*_`[]<>#":
        plain = plain.replace(ch, "\\" + ch)
    return plain
