"""Text for people: untrusted text made safe to show (control characters become visible
escapes), and moments written the one way every report and message writes them.

Hostnames, mDNS names, TXT values and agent output can carry ANSI escape sequences meant to
rewrite a technician's terminal. We never pass them through; we show them as `\\x1b` etc.
(Rich markup is a separate matter: screens wrap strings in `rich.text.Text`, which is literal.)
"""

from __future__ import annotations

from datetime import datetime


def when(epoch: float) -> str:
    """A moment for people, as the CSV reports write it: ISO-8601, local time with its zone
    offset, to the second (`2024-05-01T10:00:00+02:00`; `TZ=UTC` for UTC)."""
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def visible(value: object, limit: int = 256) -> str:
    text = "" if value is None else str(value)
    out = []
    for ch in text[:limit]:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    if len(text) > limit:
        out.append("…")
    return "".join(out)
