"""Writing files into fake Pi trees: atomic, and skipped when nothing changed.

The agent reads these files while the simulator rewrites them, so every write is a temp file
plus rename. Two process-wide caches save syscalls on the hot tick path (directories known to
exist, last content of simulator-only files); ``forget_trees`` drops a stopped lab's entries.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_known_dirs: set[str] = set()
_last_written: dict[str, bytes] = {}


def write_file(path: Path, data: str | bytes, mode: int | None = None) -> None:
    """Atomic write: temp file in the same directory, then rename (readers never see half)."""
    parent = os.path.dirname(path)
    if parent not in _known_dirs:
        os.makedirs(parent, exist_ok=True)
        _known_dirs.add(parent)
    tmp = f"{parent}/.{os.path.basename(path)}.{os.getpid()}.tmp"
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if mode is None else mode)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def forget_trees(prefix: Path) -> None:
    """Drop the write caches for every tree under ``prefix`` (a lab that stopped).

    Without this the caches would grow with every lab a long test run starts, and a new tree
    at a reused path would be wrongly assumed to have its directories already.
    """
    text = str(prefix).rstrip("/") + "/"
    _known_dirs.difference_update([d for d in _known_dirs if d.startswith(text)])
    for key in [k for k in _last_written if k.startswith(text)]:
        del _last_written[key]


def write_if_changed(path: Path, data: str) -> None:
    """For files only the simulator writes: skip the write when the content is unchanged."""
    raw = data.encode()
    key = str(path)
    if _last_written.get(key) == raw and path.exists():
        return
    write_file(path, raw)
    _last_written[key] = raw


def write_executable(path: Path, text: str) -> None:
    write_file(path, text, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def ensure_symlink(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        return
    os.symlink(target, link)
