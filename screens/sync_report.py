"""What the sync screen shows of a preview or an exchange: the status lines, the changes per
table, the cells edited on both sides (and corrupt rows), and the placement conflicts."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static

from fleet_tui.core.sync.report import ConstraintConflict
from fleet_tui.core.sync.resolve import describe
from fleet_tui.core.sync.session import Outcome
from fleet_tui.screens.format import literal

VALUE_WIDTH = 25  # a moment in full: 2024-05-01T10:00:00+02:00


class SyncStatus(Static):
    """Two lines: what the preview or exchange did, then what needs a look."""

    def show_outcome(self, outcome: Outcome) -> None:
        report = outcome.report
        head = Text()
        if outcome.dry_run:
            head.append("Preview: ", style="bold")
            head.append(f"{outcome.changes} rows would change here")
            if outcome.outgoing is not None:
                head.append(f", {outcome.outgoing} to send")
            head.append("  (nothing written yet; m merges)", style="dim")
        else:
            verb = "Merged" if outcome.peer.path is not None else "Synced"
            head.append(f"{verb}: ", style="bold green")
            head.append(f"{outcome.changes} rows changed here")
            if outcome.outgoing is not None:
                head.append(f", {outcome.outgoing} sent")
        facts = []
        if report is not None and report.overwrite_count:
            facts.append(f"{report.overwrite_count} cells edited on both sides (2)")
        if report is not None and report.corruption:
            facts.append(f"{len(report.corruption)} corrupt rows (2)")
        if outcome.conflicts:
            facts.append(f"{len(outcome.conflicts)} conflicts (3)")
        if outcome.refused:
            facts.append(f"{len(outcome.refused)} change sets refused")
        head.append("\n")
        if facts:
            head.append(" · ".join(facts), style="bold yellow")
        elif report is not None:
            head.append(
                f"peer site {report.peer_site[:8]} · no edits on both sides, no conflicts",
                style="dim",
            )
        self.update(head)

    def failed(self, what: str, reason: str) -> None:
        self.update(Text.assemble((f"{what} failed: ", "bold red"), literal(reason, limit=300)))


class _ReportTable(DataTable[Any]):
    COLUMNS: tuple[tuple[str, int], ...] = ()

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        for label, width in self.COLUMNS:
            self.add_column(label, width=width, key=label.lower())


class ChangesTable(_ReportTable):
    """Rows added and updated per table (and samples folded, rows to send)."""

    COLUMNS = (("Table", 22), ("Added", 9), ("Updated", 9))

    def show(self, outcome: Outcome) -> None:
        report = outcome.report
        self.clear()
        if report is not None:
            for name, t in sorted(report.tables.items()):
                if t.added or t.updated:
                    self.add_row(literal(name), str(t.added), str(t.updated), key=name)
            if report.compacted:
                self.add_row(Text("(samples folded)", style="dim"), str(report.compacted), "")
        if outcome.outgoing is not None:
            self.add_row(Text("(rows to send)", style="dim"), str(outcome.outgoing), "")
        if self.row_count == 0:
            self.add_row(Text("nothing new", style="dim"), "", "")


class EditsTable(_ReportTable):
    """Cells edited on both sides, which side won, and corrupt rows."""

    COLUMNS = (
        ("Table", 10),
        ("Key", 14),
        ("Column", 10),
        ("Ours", VALUE_WIDTH),
        ("Theirs", VALUE_WIDTH),
        ("Kept", 7),
    )

    def show(self, outcome: Outcome) -> None:
        self.clear()
        report = outcome.report
        if report is None:
            return
        for c in report.overwrites:
            self.add_row(
                literal(c.table),
                literal(c.key),
                literal(c.column),
                literal(c.shown("ours"), "green" if c.winner == "ours" else "dim"),
                literal(c.shown("theirs"), "green" if c.winner == "theirs" else "dim"),
                Text(c.winner, style="bold"),
            )
        if report.overwrite_count > len(report.overwrites):
            more = report.overwrite_count - len(report.overwrites)
            self.add_row(Text(f"… {more} more", style="dim"), "", "", "", "", "")
        for k in report.corruption:
            self.add_row(
                literal(k.table),
                literal(k.key),
                Text("CORRUPT", style="bold red"),
                literal(k.detail, limit=80),
                "",
                "",
            )


class ConflictsTable(_ReportTable):
    """Placement conflicts, one a row (enter or r resolves the one under the cursor)."""

    COLUMNS = (("Kind", 19), ("What", 56))

    def show(self, conflicts: list[ConstraintConflict]) -> None:
        self.clear()
        for c in conflicts:
            self.add_row(literal(c.kind), literal(describe(c), limit=200))
        if not conflicts:
            self.add_row(Text("none", style="dim"), "")
