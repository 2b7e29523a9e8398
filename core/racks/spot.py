"""`RACK:UNIT[/SLOT]`: how a place in a rack is written on the command line (`fleet-tui place`,
`fleet-tui audit record`) — one parser for every caller."""

from __future__ import annotations

import re

from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.text import visible

_SPOT = re.compile(r"[Uu]?(\d+)(?:/(\d+))?")


class SpotError(RackError):
    """The text is not RACK:UNIT or RACK:UNIT/SLOT (a usage error, not a rack problem)."""


def parse_spot(text: str) -> tuple[str, int, int | None]:
    """ "R2:12/3" -> ("R2", 12, 3); "R2:U12" -> ("R2", 12, None); the rack may be ROOM/NAME.
    SpotError when malformed."""
    rack, sep, rest = text.strip().rpartition(":")
    m = _SPOT.fullmatch(rest.replace(" ", ""))
    if not sep or not rack.strip() or m is None:
        raise SpotError(f"{visible(text, 80)!r} is not RACK:UNIT or RACK:UNIT/SLOT (e.g. R2:12/3)")
    return rack.strip(), int(m.group(1)), int(m.group(2)) if m.group(2) else None
