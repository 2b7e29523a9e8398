"""The one error rack services raise: its message is one line for people."""

from __future__ import annotations


class RackError(ValueError):
    """A rack write refused (unknown rack, unit out of range, slot taken, …), or a lookup that
    found nothing; `str(e)` is the line to show. Nothing was written."""
