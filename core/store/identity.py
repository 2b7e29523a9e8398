"""Which replica a database file is: its site id, re-minted when the file moves.

A site id must never be shared by two live replicas, or their append-only keys (origin, seq)
and clock tie-breaks would collide. A copied file is detected by recording the absolute path
and the machine id beside the site id; when either differs at open, the copy mints its own.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path


def new_site_id() -> str:
    return secrets.token_hex(16)


def origin_of(site_id: str) -> int:
    """The integer that keys this site's append-only rows: the site id's first 60 bits.
    An 8-byte key instead of 32 characters keeps the biggest tables and their indexes small."""
    return int(site_id[:15], 16)


def machine_id() -> str:
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            text = Path(p).read_text().strip()
        except OSError:
            continue
        if text:
            return text
    return "host:" + socket.gethostname()


def location(path: Path) -> tuple[str, str]:
    """(absolute path, machine id): where this file lives now."""
    return str(path.resolve()), machine_id()
