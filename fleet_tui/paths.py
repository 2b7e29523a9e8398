"""Where fleet-tui keeps its database, config and logs (XDG base directories)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "fleet-tui"


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "fleet-tui"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "fleet-tui"


def default_db_path() -> Path:
    return data_dir() / "fleet.db"


def db_path(args: argparse.Namespace) -> Path:
    """The database a command works on: `--db FILE`, else the default one."""
    return Path(args.db) if getattr(args, "db", None) else default_db_path()


def config_file() -> Path:
    return config_dir() / "config.toml"


def log_file() -> Path:
    return state_dir() / "fleet-tui.log"
