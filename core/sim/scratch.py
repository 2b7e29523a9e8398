"""Where a lab keeps its fake Pi trees when the caller does not choose.

A lab writes thousands of small files at start (about 45 per Pi) and rewrites the dynamic
ones every tick, then removes them all. On a disk-backed /tmp that costs seconds for 100 Pis;
on tmpfs it costs milliseconds. So: ``$TMPDIR`` if the user set one, else
``$XDG_RUNTIME_DIR`` or ``/dev/shm`` when it is a writable tmpfs that allows executables
(the fake ``vcgencmd`` and ``sudo`` are scripts), else the system temp directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MIN_FREE_BYTES = 256 << 20


def scratch_parent() -> str | None:
    if os.environ.get("TMPDIR"):
        return None
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and _usable(candidate):
            return candidate
    return None


OWNER_FILE = ".owner-pid"  # lets a later lab sweep this one up if its process was killed
PREFIX = "fleet-lab-"  # what the janitor looks for


def make_scratch_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=scratch_parent()))
    (path / OWNER_FILE).write_text(f"{os.getpid()}\n")
    return path


def _usable(path: str) -> bool:
    try:
        if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
            return False
        st = os.statvfs(path)
    except OSError:
        return False
    if st.f_flag & (os.ST_NOEXEC | os.ST_RDONLY):
        return False
    return st.f_bavail * st.f_frsize >= MIN_FREE_BYTES
