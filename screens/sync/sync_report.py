"""What the sync screen shows of a preview or an exchange: the status lines, the changes per
table, the cells edited on both sides (and corrupt rows), and the placement conflicts."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from fleet_tui.core.sync.report import ConstraintConflict
from fleet_tui.core.sync.resolve import describe
from fleet_tui.core.sync.session import Outcome
from fleet_tui.core.text import visible
from fleet_tui.screens.common.format import Cell, cell, literal
from fleet_tui.screens.common.keyed_table import KeyedTable

VALUE_WIDTH = 15  # ours and theirs: 79 columns in all at 80


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


class _ReportTable(KeyedTable):
    """A report's rows, replaced as a whole by each preview (keyed by position). At 80 columns:
    no cell padding, `…` where a short column is cut, and the values that matter in full
    (`WRAP`) wrap instead."""

    COLUMNS: tuple[tuple[str, int], ...] = ()
    WRAP: tuple[str, ...] = ()
    FLEX: str | None = None

    def __init__(self, id: str | None = None) -> None:
        super().__init__(
            [(label.lower(), label, width) for label, width in self.COLUMNS],
            id=id,
            wrap=self.WRAP,
            flex=self.FLEX,
        )

    def show_rows(self, rows: Sequence[tuple[Cell, ...]]) -> None:
        keys = [str(i) for i in range(len(rows))]
        self.sync(keys, lambda k: rows[int(k)], set(keys))


def _note(text: str) -> Cell:
    return cell(text, "dim")


class ChangesTable(_ReportTable):
    """Rows added and updated per table (and samples folded, rows to send)."""

    COLUMNS = (("Table", 22), ("Added", 9), ("Updated", 9))

    def show(self, outcome: Outcome) -> None:
        report = outcome.report
        rows: list[tuple[Cell, ...]] = []
        if report is not None:
            for name, t in sorted(report.tables.items()):
                if t.added or t.updated:
                    rows.append((cell(name), cell(t.added), cell(t.updated)))
            if report.compacted:
                rows.append((_note("(samples folded)"), cell(report.compacted), cell("")))
        if outcome.outgoing is not None:
            rows.append((_note("(rows to send)"), cell(outcome.outgoing), cell("")))
        if not rows:
            rows.append((_note("nothing new"), cell(""), cell("")))
        self.show_rows(rows)


class EditsTable(_ReportTable):
    """Cells edited on both sides, which side won, and corrupt rows. The two values wrap (a
    note both sides edited is read in full); the kept one is green, and named in Kept."""

    COLUMNS = (
        ("Table", 10),
        ("Key", 16),  # a serial
        ("Column", 9),
        ("Ours", VALUE_WIDTH),
        ("Theirs", VALUE_WIDTH),
        ("Kept", 6),
    )
    WRAP = ("ours", "theirs")

    def show(self, outcome: Outcome) -> None:
        report = outcome.report
        rows: list[tuple[Cell, ...]] = []
        if report is not None:
            for c in report.overwrites:
                rows.append(
                    (
                        cell(c.table),
                        cell(c.key),
                        cell(c.column),
                        cell(c.shown("ours"), "green" if c.winner == "ours" else "dim"),
                        cell(c.shown("theirs"), "green" if c.winner == "theirs" else "dim"),
                        cell(c.winner, "bold"),
                    )
                )
            if report.overwrite_count > len(report.overwrites):
                more = report.overwrite_count - len(report.overwrites)
                rows.append((_note(f"… {more} more"), *(cell("") for _ in range(5))))
            for k in report.corruption:
                rows.append(
                    (
                        cell(k.table),
                        cell(k.key),
                        cell("CORRUPT", "bold red"),
                        cell(visible(k.detail, 80)),
                        cell(""),
                        cell(""),
                    )
                )
        self.show_rows(rows)


class ConflictsTable(_ReportTable):
    """Placement conflicts, one a row (enter or r resolves the one under the cursor)."""

    COLUMNS = (("Kind", 19), ("What", 40))
    WRAP = ("what",)
    FLEX = "what"

    def show(self, conflicts: list[ConstraintConflict]) -> None:
        rows: list[tuple[Cell, ...]] = [
            (cell(c.kind), cell(visible(describe(c), 200))) for c in conflicts
        ]
        self.show_rows(rows or [(_note("none"), cell(""))])
