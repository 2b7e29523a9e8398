"""`fleet-tui` with no subcommand: open the TUI on the user's own fleet."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.runtime import FleetConfig
from fleet_tui.paths import default_db_path


def run_tui(args: argparse.Namespace, demo_devices: int | None = None, db: Path | None = None) -> int:
    from fleet_tui.app import FleetApp  # Textual is imported only when a TUI is wanted

    if db is None:
        db = Path(args.db) if args.db else default_db_path()
    config = FleetConfig(
        db_path=db,
        demo_devices=demo_devices,
        interfaces=getattr(args, "interface", None),
    )
    app = FleetApp(config)
    app.run()
    app.stop_backend()
    return 0
