"""`fleet-tui keys`; and `fleet-tui` with no subcommand opens the TUI (fleet_tui/launch.py,
imported only then: Textual is loaded only when a TUI is wanted)."""

from __future__ import annotations

import argparse


def cmd_keys(args: argparse.Namespace) -> int:
    from fleet_tui.launch import print_keys

    return print_keys()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keys", help="list the TUI's key bindings by id (for [keys] in config.toml)")
    p.set_defaults(func=cmd_keys)
