"""A Pi's clock against ours: the offset (skew) of one reading, and how to say it.

A Pi has no real-time clock: on a site LAN without NTP it boots at its last shutdown's time
(fake-hwclock), hours or days off, and TLS, apt and its logs break. The agent's health reading
carries the Pi's `time`; the poller knows when it asked and when the answer came back. The
skew is the Pi's time minus ours at the midpoint of that request, so a slow link's round trip
does not count as skew (only its asymmetry does, well under a second on any usable link).
"""

from __future__ import annotations

IN_STEP_S = 2.0  # below this an offset is measurement noise: "in step"
# A device's stored skew (core/fleet/service.py, core/fleet/poll.py) is rewritten only when it moved this
# much: every write is an edit that syncs to the other technicians.
RECORD_STEP_S = 5.0


def skew_at(pi_time: float, sent: float, received: float) -> float:
    """The Pi's clock minus ours, for a reading asked at `sent` and answered at `received`."""
    return pi_time - (sent + received) / 2.0


def span(seconds: float) -> str:
    """A length of time in its two largest units, rounded: `3d 2h`, `2h 5m`, `12m`, `40s`."""
    s = round(abs(seconds))
    if s < 60:
        return f"{s}s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        h, m = divmod(minutes, 60)
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(round(s / 3600), 24)  # so 2d 23h 59m is `3d`
    return f"{d}d {h}h" if h else f"{d}d"


def describe(skew: float | None) -> str:
    """`in step`, `3d 2h behind`, `12m ahead`; `?` when not measured."""
    if skew is None:
        return "?"
    if abs(skew) < IN_STEP_S:
        return "in step"
    return f"{span(skew)} {'ahead' if skew > 0 else 'behind'}"


def worth_recording(skew: float, last: float | None) -> bool:
    """Whether a newly measured skew should replace the stored one."""
    return last is None or abs(skew - last) >= RECORD_STEP_S
