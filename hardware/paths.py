"""Path re-rooting and small, never-raising-by-surprise file helpers.

``FLEET_AGENT_ROOT`` (default ``/``) prefixes every absolute path the agent reads, so the
simulator can point the agent at a fake Pi tree.

Also here, because every request needs them and the stdlib's versions cost more to import
than the work they do: :func:`which` (``shutil.which`` imports ``bz2``, ``lzma``, ``fnmatch``)
and :func:`site_packages` (the agent starts with ``python3 -S``; psutil and gpiozero, which
live in site-packages, are found after this has run).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class Missing(Exception):
    """A reading's source is absent or unusable; the message is the reason shown to the user."""


def root() -> str:
    return os.environ.get("FLEET_AGENT_ROOT") or "/"


_rerooted: dict[str, bool] = {}


def is_rerooted() -> bool:
    """Whether the agent reads a simulated Pi's tree (asked by almost every reading: cached per
    root, as resolving it takes a stat per path component)."""
    r = root()
    if r not in _rerooted:
        _rerooted[r] = os.path.realpath(r) != "/"
    return _rerooted[r]


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


def listdir(p: str) -> list[str]:
    """Sorted entries of a re-rooted directory; empty when it is absent or unreadable."""
    try:
        return sorted(os.listdir(path(p)))
    except OSError:
        return []


def which(name: str) -> Optional[str]:
    """The first executable ``name`` on PATH (as ``shutil.which``, but an empty PATH entry is
    never taken to mean the current directory)."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not d:
            continue
        p = os.path.join(d, name)
        if os.access(p, os.X_OK) and not os.path.isdir(p):
            return p
    return None


_site = [False]


def site_packages() -> None:
    """Make site-packages importable (once). The agent runs as ``python3 -S``: no ``site`` at
    start, so no .pth processing and no site-packages on sys.path. The optional packages it
    can use (psutil, gpiozero: apt's dist-packages, or pip ``--user``) are looked for only
    after this, and only on the paths that need them."""
    if not _site[0]:
        _site[0] = True
        import sys

        if sys.flags.no_site:
            import site

            site.main()
