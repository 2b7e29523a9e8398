"""The `fleet-tui` command line: argument parsing and dispatch to subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from fleet_tui import __version__, commands
from fleet_tui.commands._common import EXIT_FAILURE, EXIT_USAGE, fail
from fleet_tui.paths import default_db_path

Handler = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse with the README's exit code for a usage error: 64 (sysexits EX_USAGE), not
    argparse's 2, which means "failed" here. Subcommand parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fleet-tui",
        description="Find, watch and manage fleets of Raspberry Pis from the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"fleet-tui {__version__}")
    parser.add_argument(
        "--db",
        default=None,
        metavar="FILE",
        help=f"fleet database file (default: {default_db_path()}); it must exist, unless "
        "the command adds to it and its folder exists, or --create is given",
    )
    parser.add_argument(
        "--create",
        action="store_true",
        help="start a new, empty database at --db FILE if there is none (and make its folder)",
    )
    parser.add_argument(
        "--readonly", action="store_true", help="refuse every action that changes devices or data"
    )
    parser.add_argument(
        "--low-bandwidth", action="store_true", help="TUI: refresh less often (slow SSH links)"
    )
    parser.add_argument(
        "--interface",
        action="append",
        metavar="IP|IFACE",
        help="TUI: discover only on this interface (repeatable; default: every interface)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "func", None)
    if handler is None:
        # No subcommand: open the TUI on the user's own fleet.
        from fleet_tui.launch import run_tui

        return run_tui(args)
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `fleet-tui export … | head`: the reader has what it wanted
        _quiet_stdout()
        return EXIT_FAILURE
    except OSError as e:  # a file or socket error no command caught: one line, not a trace
        where = f"{e.filename}: " if e.filename else ""
        return fail(f"{where}{e.strerror or e}")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush raises nothing more."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
