"""Path re-rooting and small, never-raising-by-surprise file helpers.

``FLEET_AGENT_ROOT`` (default ``/``) prefixes every absolute path the agent reads, so the
simulator can point the agent at a fake Pi tree.
"""

from __future__ import annotations

import os


class Missing(Exception):
    """A reading's source is absent or unusable; the message is the reason shown to the user."""


def root() -> str:
    return os.environ.get("FLEET_AGENT_ROOT") or "/"


def is_rerooted() -> bool:
    return os.path.realpath(root()) != "/"


def path(p: str) -> str:
    """Map an absolute Pi path (``/proc/cpuinfo``) into the agent root."""
    r = root()
    if r == "/":
        return p
    return os.path.join(r, p.lstrip("/"))


def read_text(p: str, limit: int = 1 << 20) -> str:
    """Read a re-rooted text file; raise :class:`Missing` with a readable reason."""
    full = path(p)
    try:
        with open(full, "rb") as f:
            data = f.read(limit)
    except FileNotFoundError:
        raise Missing("%s not found" % p) from None
    except PermissionError:
        raise Missing("%s not readable (permission denied)" % p) from None
    except OSError as e:
        raise Missing("%s unreadable: %s" % (p, e.strerror or e)) from None
    return data.decode("utf-8", "replace")


def read_stripped(p: str) -> str:
    """Read a sysfs/device-tree value: trailing NULs and whitespace removed."""
    return read_text(p).rstrip("\x00\n\r\t ").replace("\x00", "")
