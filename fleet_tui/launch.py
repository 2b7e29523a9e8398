"""Opening the TUI: the user's config and key map, the log file, the App. The one place the
command line crosses into Textual: command modules import this only inside the function that
opens the TUI, so `fleet-tui poll` and every other headless twin never load Textual.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fleet_tui.app import FleetApp
from fleet_tui.config import UserConfig, load_config
from fleet_tui.core.fleet.lab import Lab
from fleet_tui.core.fleet.runtime import FleetConfig
from fleet_tui.core.policies.book import config_policies
from fleet_tui.keymap import build_keymap, describe, known_bindings
from fleet_tui.paths import NoDatabase, config_file, log_file, ready_db_path
from fleet_tui.screens.common import registry
from fleet_tui.screens.common.context import UiOptions


def _setup_logging() -> None:
    """Actions (identify, reboot, edits) are logged to a file: never to the terminal."""
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger("fleet_tui")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def ui_settings(args: argparse.Namespace, cfg: UserConfig) -> tuple[bool, bool]:
    readonly = bool(getattr(args, "readonly", False)) or cfg.readonly
    low = bool(getattr(args, "low_bandwidth", False)) or cfg.low_bandwidth
    return readonly, low


def run_tui(
    args: argparse.Namespace,
    db: Path | None = None,
    lab: Lab | None = None,
    sub_title: str | None = None,
) -> int:
    """The TUI on the user's fleet; `fleet-tui demo` passes its lab and what to call it."""
    if db is None:
        # The TUI is opened to look at a fleet: a --db file that is not there is a typo (an
        # empty fleet that discovery would quietly fill), unless --create says otherwise.
        try:
            db = ready_db_path(args, writes=False)
        except NoDatabase as e:
            print(f"fleet-tui: {e}", file=sys.stderr)
            return 2
    cfg, problems = load_config(config_file())
    readonly, low = ui_settings(args, cfg)
    keymap, key_problems = build_keymap(cfg.keys, known_bindings(FleetApp))
    problems += key_problems + registry.set_user_aliases(cfg.aliases)
    policies, policy_problems = config_policies(cfg.policies)
    problems += [f"{config_file()}: {p}" for p in policy_problems]
    config = FleetConfig(
        db_path=db,
        lab=lab,
        interfaces=getattr(args, "interface", None),
        poll_interval=cfg.poll_interval(low),
        operations=cfg.operations,
        power=cfg.power,
        policies=policies,
    )
    options = UiOptions(
        readonly=readonly,
        low_bandwidth=low,
        flush_seconds=cfg.table_interval(low),
        records_seconds=cfg.refresh.records * (4 if low else 1),
        policy=cfg.status,
        animate=not low,
        export_dir=cfg.export_folder(),
        technician=cfg.who(),
    )
    _setup_logging()
    app = FleetApp(config, options, keymap=keymap, problems=problems, sub_title=sub_title)
    app.run()
    app.stop_backend()
    return 0


def print_keys() -> int:
    """`fleet-tui keys`: every binding by id, with the user's remaps."""
    cfg, problems = load_config(config_file())
    known = known_bindings(FleetApp)
    keymap, key_problems = build_keymap(cfg.keys, known)
    print(f"# remap in {config_file()} under [keys]; * = remapped there")
    print("\n".join(describe(known, keymap)))
    for p in problems + key_problems:
        print(f"fleet-tui: {p}", file=sys.stderr)
    return 0
