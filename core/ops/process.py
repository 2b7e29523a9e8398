"""Which process runs an operation, and whether it still does.

A pid alone is not enough: after a crash the kernel may give the same pid to another process.
On Linux the process's start time (field 22 of /proc/PID/stat, in clock ticks since boot)
plus the boot id tells them apart; elsewhere a pid that exists counts as alive (an operation
is then reported interrupted only once that pid is gone).
"""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _start_token(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = _BOOT_ID.read_text().strip()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat.rpartition(")")[2].split()
    if not fields or fields[0] in ("Z", "X"):  # dead, waiting for its parent to reap it
        return None
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def this_process() -> tuple[int, str | None]:
    pid = os.getpid()
    return pid, _start_token(pid)


def still_running(pid: int | None, token: str | None) -> bool:
    if pid is None or pid <= 0:
        return False
    if token is not None:
        now = _start_token(pid)
        if now is not None or Path("/proc").is_dir():
            return now == token
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def operator() -> str:
    """user@host: who started an operation, for the journal and the event log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
