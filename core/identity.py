"""A device's identity above the connection layer: its serial, or a provisional id until then.

The store, racks, outlets, audits and deployments key a device by its SoC serial, and so does
everything live above core/net (FleetService, the published DeviceState, the UI's rows,
`FleetService.call`). The connection layer alone keys by endpoint / route key.

- A serial is what a device's agent reported (`facts.serial`) or what the store already knows
  (a device row, a host entry whose serial was learned from its agent). A serial announced in
  mDNS TXT is a claim, never an identity.
- A candidate whose agent has not reported a serial yet has a provisional id,
  `candidate:<endpoint>` (`#2`, `#3` … if that one is taken). A serial never contains `:`, so
  the two can never collide; an agent reporting anything but a plain serial (`SERIAL_FORMAT`)
  gives its device no identity and it stays provisional.
"""

from __future__ import annotations

import re
from collections.abc import Container

PROVISIONAL_PREFIX = "candidate:"
# a Pi's serial is 8-16 hex digits; other boards: letters, digits and . _ - (never ":")
SERIAL_FORMAT = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


def valid_serial(value: str | None) -> str | None:
    """`value` if it can be a device's identity (a plain serial), else None."""
    return value if value is not None and SERIAL_FORMAT.fullmatch(value) else None


def is_provisional(key: str) -> bool:
    return key.startswith(PROVISIONAL_PREFIX)


def serial_of(key: str) -> str | None:
    """The serial an identity stands for; None for a provisional id."""
    return None if is_provisional(key) else key


def provisional_id(endpoint: str, taken: Container[str] = ()) -> str:
    """A provisional id for a candidate first followed at `endpoint`, not one of `taken`."""
    key = f"{PROVISIONAL_PREFIX}{endpoint}"
    n = 1
    while key in taken:
        n += 1
        key = f"{PROVISIONAL_PREFIX}{endpoint}#{n}"
    return key
