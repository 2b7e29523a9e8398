"""`x` on any table: ask where, then write what the table shows as CSV in a worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual.screen import Screen

from fleet_tui.core.export import CsvRow, default_name, write_csv
from fleet_tui.screens.context import fleet_context
from fleet_tui.screens.dialogs import ExportDialog


def export_rows(
    screen: Screen[Any],
    what: str,
    kind: str,
    model: type[CsvRow],
    rows: Callable[[], Sequence[CsvRow]],
) -> None:
    """Snapshot the rows now (what the user sees when pressing the key), then ask for a file."""
    snapshot = list(rows())
    ctx = fleet_context(screen.app)
    default = Path.cwd() / default_name(kind, ctx.options.now())

    def chosen(path: Path | None) -> None:
        if path is None:
            return

        def write() -> None:
            try:
                with open(path, "x", encoding="utf-8", newline="") as f:
                    n = write_csv(model, snapshot, f)
            except OSError as e:
                ctx.report_error("Export failed", f"{path}: {e.strerror or e}")
                return
            screen.app.call_from_thread(
                screen.app.notify, f"{n} rows written to {path}", title="Exported", markup=False
            )

        screen.run_worker(
            write, thread=True, group="export", exit_on_error=False, description=f"export {what}"
        )

    screen.app.push_screen(ExportDialog(what, default), chosen)
