"""The demo's TUI: the user's TUI (fleet_tui/launch.py) on the simulated lab, called what it
is, with the demo's `:fault` command registered."""

from __future__ import annotations

import argparse
from pathlib import Path

from fleet_tui.core.fleet.lab import Lab
from fleet_tui.demo import DEMO_SUB_TITLE
from fleet_tui.demo import fault_command as _registers_fault  # `:fault`, on import
from fleet_tui.launch import run_tui

_ = _registers_fault


def open_demo_tui(args: argparse.Namespace, db: Path, lab: Lab) -> int:
    return run_tui(args, db=db, lab=lab, sub_title=DEMO_SUB_TITLE)
