"""The agent's wall clock: ``time.time()``, shifted only on a simulated Pi.

The simulator's ``clock-skew`` fault gives a fake Pi a wrong clock (as a Pi without NTP has)
by writing seconds to add to ``sim/clock_offset`` in its tree. The file is honoured only when
the agent runs re-rooted (``FLEET_AGENT_ROOT``): on a real Pi the time is the system's, always,
and no file is even looked at. The file is read again only when it changed (one ``stat`` per
sample), so a watch at 2 Hz costs no extra reads.
"""

from __future__ import annotations

import os
import time

from .paths import is_rerooted, path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Tuple

SIM_OFFSET = "/sim/clock_offset"
MAX_OFFSET_S = 10 * 366 * 86400.0

# (file identity: inode, mtime, size) -> offset; a replaced file has a new identity
_cached: Optional[Tuple[Tuple[int, int, int], float]] = None


def _sim_offset() -> float:
    global _cached
    full = path(SIM_OFFSET)
    try:
        st = os.stat(full)
    except OSError:
        return 0.0
    ident = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _cached
    if cached is not None and cached[0] == ident:
        return cached[1]
    try:
        with open(full, "rb") as f:
            value = float(f.read(64).decode("ascii", "replace").strip() or 0)
    except (OSError, ValueError):
        value = 0.0
    if not -MAX_OFFSET_S <= value <= MAX_OFFSET_S:  # also NaN
        value = 0.0
    _cached = (ident, value)
    return value


def now() -> Tuple[float, str]:
    """(epoch seconds, source): the system clock, or the simulated Pi's shifted one."""
    real = time.time()
    if not is_rerooted():
        return real, "clock"
    offset = _sim_offset()
    if offset == 0.0:
        return real, "clock"
    return real + offset, "clock shifted %+g s by sim:%s" % (offset, SIM_OFFSET)
