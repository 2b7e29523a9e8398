"""Helpers shared by the subcommand modules: exit codes, the database path, error and output
printing, the --readonly check and yes/no confirmation.

No `register` here: the CLI imports this module with the others but adds no subcommand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fleet_tui.core.ops.process import operator
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.paths import NoDatabase, ready_db_path

# Exit codes shared by every subcommand (documented in README): partial = some devices or
# lines failed, others succeeded; failure = the operation failed as a whole; usage = sysexits
# EX_USAGE.
EXIT_OK, EXIT_PARTIAL, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2, 64


def open_db(args: argparse.Namespace, *, writes: bool, readonly: bool = False) -> Store:
    """The command's fleet database. `writes`: the command adds to it, so a `--db` file that
    does not exist may be created in a folder that does (fleet_tui/paths.py); otherwise it
    must exist (or `--create` be given). `readonly`: open it read-only, once it exists.
    Raises StoreError, with the one line to show."""
    try:
        path = ready_db_path(args, writes=writes)
    except NoDatabase as e:
        raise StoreError(str(e)) from e
    return Store.open(path, readonly=readonly and path.exists() and path.stat().st_size > 0)


def output_problem(path: Path) -> str | None:
    """Why a file cannot be written at `path`, or None. Its folder must exist: a mistyped
    path (or a USB stick that is not mounted) is said, never made with `mkdir -p`."""
    if path.is_dir():
        return f"{path}: is a directory"
    if not path.parent.is_dir():
        return f"{path}: no such folder {path.parent}"
    return None


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"fleet-tui: {message}", file=sys.stderr)
    return code


def emit(args: argparse.Namespace, obj: dict[str, Any], text: str) -> None:
    """One JSON object per line with --json, else the human line."""
    print(json.dumps(obj, sort_keys=True) if args.json else text, flush=True)


def refuse_readonly(args: argparse.Namespace, what: str) -> bool:
    """True (after saying so) when --readonly forbids `what`."""
    if getattr(args, "readonly", False):
        fail(f"{what}: refused, --readonly is on")
        return True
    return False


def confirm(args: argparse.Namespace, question: str) -> bool | None:
    """True/False from the user; None when nobody can answer (no tty and no --yes)."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        return None
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def who() -> str:
    """user@host, for the event log."""
    return operator()
