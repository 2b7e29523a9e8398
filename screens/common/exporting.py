"""`x` on any table: ask where (the export folder: the config's `export_dir`, else
core/export.py's default place), ask again before replacing a file, then write what the table
shows as CSV in a worker and say where, in full."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO, Any

from textual.screen import Screen

from fleet_tui.core.export import CsvRow, default_export_dir, default_name, write_csv, written_whole
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.dialogs import ExportChoice, ExportDialog


def export_rows(
    screen: Screen[Any],
    what: str,
    kind: str,
    model: type[CsvRow],
    rows: Callable[[], Sequence[CsvRow]],
) -> None:
    """Snapshot the rows now (what the user sees when pressing the key), then ask for a file."""
    snapshot = list(rows())
    export_with(screen, what, kind, lambda f: write_csv(model, snapshot, f))


def export_with(screen: Screen[Any], what: str, kind: str, write: Callable[[IO[str]], int]) -> None:
    """Ask for a file in the export folder, then `write(file)` (it returns the rows written) in
    a worker: the file appears whole or not at all, and the user is told where, in full."""
    ctx = fleet_context(screen.app)
    makeable = default_export_dir()  # the default place is made on first use; no other folder
    folder = ctx.options.export_dir or makeable
    default = folder / default_name(kind, ctx.options.now())

    def chosen(choice: ExportChoice | None) -> None:
        if choice is None:
            return
        path = choice.path

        def run() -> None:
            try:
                if path.parent == makeable:
                    makeable.mkdir(parents=True, exist_ok=True)
                with written_whole(path, replace=choice.replace) as f:
                    n = write(f)
            except FileExistsError:
                ctx.report_error("Export failed", f"{path}: appeared meanwhile; left as it was")
                return
            except OSError as e:
                ctx.report_error("Export failed", f"{path}: {e.strerror or e}")
                return
            rows = f"{n} row{'' if n == 1 else 's'}"
            said = f"{path} replaced: {rows}" if choice.replace else f"{rows} written to {path}"
            screen.app.call_from_thread(screen.app.notify, said, title="Exported", markup=False)

        screen.run_worker(
            run, thread=True, group="export", exit_on_error=False, description=f"export {what}"
        )

    screen.app.push_screen(ExportDialog(what, default, makeable=makeable), chosen)
