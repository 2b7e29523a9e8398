"""The SSH flags shared by discover, poll, trust and sync (-i/-l/-F/--no-ssh-agent/
--connect-timeout) and the connection options and pool built from them.

No `register` here: the CLI imports this module with the others but adds no subcommand.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fleet_tui.core.net.pool import ConnectionPool, Timeouts
from fleet_tui.core.net.ssh import ConnectOptions
from fleet_tui.core.store.database import Store


def add_ssh_args(p: argparse.ArgumentParser, description: str | None = None) -> None:
    """`description`: what differs for this command (e.g. how host keys are checked)."""
    g = p.add_argument_group("SSH (defaults: ~/.ssh/config and ssh-agent)", description)
    g.add_argument(
        "-i", "--identity", action="append", metavar="FILE", help="private key (repeatable)"
    )
    g.add_argument(
        "-l",
        "--user",
        metavar="USER",
        help="login user when neither the host nor the config names one",
    )
    g.add_argument(
        "-F", "--ssh-config", metavar="FILE", help="OpenSSH config file instead of ~/.ssh/config"
    )
    g.add_argument("--no-ssh-agent", action="store_true", help="do not use ssh-agent")
    g.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="per connection step (default 10)",
    )


def connect_options(args: argparse.Namespace) -> ConnectOptions:
    """The user's OpenSSH config and ssh-agent, plus what the command line adds."""
    options = ConnectOptions(connect_timeout=args.connect_timeout)
    if args.identity:
        options.client_keys = [Path(p).expanduser() for p in args.identity]
    if args.user:
        options.username = args.user
    if args.ssh_config:
        options.config_paths = [Path(args.ssh_config).expanduser()]
    if args.no_ssh_agent:
        options.use_ssh_agent = False
    return options


def connection_pool(store: Store, args: argparse.Namespace) -> ConnectionPool:
    t = args.connect_timeout
    return ConnectionPool(
        store,
        connect_options(args),
        timeouts=Timeouts(tcp=min(5.0, t), handshake=t, agent=max(15.0, t), call=max(10.0, t)),
    )
