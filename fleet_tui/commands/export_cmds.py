"""`fleet-tui export inventory|health|events --csv [--out FILE]`: reports for a customer.

The `export` subcommand itself belongs to store_cmds.py; this module only adds its kinds.
Columns: see core/export.py and README.md.
"""

from __future__ import annotations

import argparse
from typing import IO

from fleet_tui.commands._common import EXIT_OK
from fleet_tui.commands.store_cmds import register_export_kind
from fleet_tui.config import load_config
from fleet_tui.core.export import (
    EventRow,
    HealthRow,
    InventoryRow,
    event_rows,
    health_rows,
    inventory_rows,
    write_csv,
)
from fleet_tui.core.store.database import Store
from fleet_tui.paths import config_file


def export_inventory(store: Store, args: argparse.Namespace, out: IO[str]) -> int:
    write_csv(InventoryRow, inventory_rows(store), out)
    return EXIT_OK


def export_health(store: Store, args: argparse.Namespace, out: IO[str]) -> int:
    cfg, _ = load_config(config_file())  # the user's status thresholds, as in the TUI
    write_csv(HealthRow, health_rows(store, cfg.status), out)
    return EXIT_OK


def export_events(store: Store, args: argparse.Namespace, out: IO[str]) -> int:
    write_csv(EventRow, event_rows(store), out)
    return EXIT_OK


register_export_kind(
    "inventory", "every known device: identity, OS, rack, tags, notes", export_inventory
)
register_export_kind(
    "health", "the newest health sample of every device, with its status", export_health
)
register_export_kind(
    "events", "every event (actions, edits, refusals), oldest first", export_events
)
