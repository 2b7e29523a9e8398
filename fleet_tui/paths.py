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
    return Path(args.db).expanduser() if getattr(args, "db", None) else default_db_path()


class NoDatabase(Exception):
    """The database named with `--db` does not exist and may not be made (the message says
    what to do)."""


def ready_db_path(args: argparse.Namespace, *, writes: bool) -> Path:
    """`db_path(args)`, once it is known that the file exists or may be created.

    A mistyped `--db` must not start a new fleet: the default database (and its folder) is
    created on first use, by any command; a `--db` file that does not exist only with
    `--create` (which makes its folder too), or by a command that `writes` into a folder that
    exists. Anything else raises NoDatabase."""
    path = db_path(args)
    if path.exists() or path.is_symlink():
        return path  # a directory or a dangling link is the Store's to refuse, by name
    if not getattr(args, "db", None) or getattr(args, "create", False):
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    if not path.parent.is_dir():
        raise NoDatabase(
            f"{path}: no such database, and no folder {path.parent}: check --db "
            "(--create makes a new database there)"
        )
    if not writes:
        raise NoDatabase(f"{path}: no such database: check --db (--create makes a new, empty one)")
    return path


def config_file() -> Path:
    return config_dir() / "config.toml"


def log_file() -> Path:
    return state_dir() / "fleet-tui.log"
