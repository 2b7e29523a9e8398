"""What every SSH step of core/net raises, and how a route is named in its messages (here, so
that ssh.py and known_hosts.py can both use them without importing each other)."""

from __future__ import annotations


class SSHFailure(Exception):
    """A connection step failed; the message is meant for the technician."""


def quoted(endpoint: str) -> str:
    """A route key as typed in a shell: `10.0.0.7:22`, or quoted when it has ` via `."""
    return endpoint if " " not in endpoint else f"'{endpoint}'"
