"""What a merge changed: counts per table, overwritten cells, corruption, constraint conflicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from fleet_tui.core.store.schema import TIME_COLUMNS
from fleet_tui.core.text import when


@dataclass
class TableChange:
    added: int = 0
    updated: int = 0


@dataclass
class CellConflict:
    """Both copies had written this cell with different values; `winner` is the kept side."""

    table: str
    key: str
    column: str
    ours: Any
    theirs: Any
    winner: str  # "ours" | "theirs"

    @property
    def is_time(self) -> bool:
        return (self.table, self.column) in TIME_COLUMNS

    def shown(self, side: Literal["ours", "theirs"]) -> Any:
        """That side's value for people: a moment as ISO-8601 with its zone (as the CSV
        reports write it), anything else as it is."""
        value = self.ours if side == "ours" else self.theirs
        if self.is_time and isinstance(value, int | float):
            return when(value)
        return value

    def text(self, side: Literal["ours", "theirs"]) -> str:
        """`shown(side)` in a line of text: a moment bare, any other value as Python writes
        it (text quoted, so that '' and ' ' differ)."""
        value = self.shown(side)
        return value if self.is_time and isinstance(value, str) else repr(value)


@dataclass
class Corruption:
    """Same key, different content, where the content should have been identical."""

    table: str
    key: str
    detail: str


@dataclass
class ConstraintConflict:
    """A rule no CRDT can hold (one device per slot, one slot per device, one thing per rack
    unit), left to the user."""

    kind: str  # "slot-shared" | "device-in-two-slots" | "unit-overlap"
    subject: str  # the slot "rack/unit/slot", the serial, or the unit "rack/unit"
    placements: list[str]  # placement ids involved
    serials: list[str]
    items: list[str] = field(default_factory=list)  # rack equipment ids involved

    def text(self) -> str:
        """What is wrong, in one line."""
        if self.kind == "slot-shared":
            return (
                f"slot {self.subject} holds {len(self.serials)} devices: {', '.join(self.serials)}"
            )
        if self.kind == "unit-overlap":
            parts = [f"{len(self.items)} item{'s' * (len(self.items) != 1)}"] if self.items else []
            if self.serials:
                parts.append(f"device{'s' * (len(self.serials) != 1)} {', '.join(self.serials)}")
            return f"unit {self.subject} is claimed twice: {' and '.join(parts)} overlap"
        return f"device {self.subject} is in {len(self.placements)} places"


@dataclass
class MergeReport:
    peer: str
    peer_site: str
    version: int = 0  # local version at which the merge's rows were written
    dry_run: bool = False
    tables: dict[str, TableChange] = field(default_factory=dict)
    overwrites: list[CellConflict] = field(default_factory=list)
    overwrite_count: int = 0  # may exceed len(overwrites): details are capped
    corruption: list[Corruption] = field(default_factory=list)
    conflicts: list[ConstraintConflict] = field(default_factory=list)
    compacted: int = 0  # raw samples folded into compacted buckets after the merge

    @property
    def changed(self) -> int:
        return sum(t.added + t.updated for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["changed"] = self.changed
        return d

    def lines(self) -> list[str]:
        """A human summary, one fact per line."""
        verb = "would change" if self.dry_run else "changed"
        out = [f"merge {self.peer} (site {self.peer_site[:8]}): {self.changed} rows {verb}"]
        for name, t in sorted(self.tables.items()):
            if t.added or t.updated:
                out.append(f"  {name}: {t.added} added, {t.updated} updated")
        if self.overwrite_count:
            out.append(f"  {self.overwrite_count} cells edited on both sides:")
            for c in self.overwrites:
                ours, theirs = c.text("ours"), c.text("theirs")
                won = theirs if c.winner == "theirs" else ours
                out.append(
                    f"    {c.table} {c.key} {c.column}: ours={ours} theirs={theirs}"
                    f" -> {won} ({c.winner})"
                )
            if self.overwrite_count > len(self.overwrites):
                out.append(f"    … {self.overwrite_count - len(self.overwrites)} more")
        for k in self.corruption:
            out.append(f"  CORRUPTION {k.table} {k.key}: {k.detail}")
        for k2 in self.conflicts:
            out.append(f"  CONFLICT {k2.text()}")
        if self.compacted:
            out.append(f"  {self.compacted} raw samples folded into compacted buckets")
        return out
