"""Raspberry Pi MAC prefixes (OUIs) and MAC address normalisation.

The list matches the agent's (hardware/facts.py); core may not import hardware, so it is
repeated here. Sources: the IEEE registry entries of Raspberry Pi Foundation and Raspberry
Pi Trading Ltd.
"""

from __future__ import annotations

import re

PI_OUIS = frozenset(
    {"B8:27:EB", "DC:A6:32", "E4:5F:01", "28:CD:C1", "D8:3A:DD", "2C:CF:67", "88:A2:9E"}
)

_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-]?)(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")


def normalise_mac(text: str) -> str | None:
    """`dc-a6-32-01-02-03`, `DCA632010203` or `dc:a6:32:01:02:03` -> `dc:a6:32:01:02:03`.

    None for anything that is not a unicast-looking 48-bit MAC (all zeros included).
    """
    text = text.strip()
    if not _MAC.match(text):
        return None
    digits = re.sub(r"[:-]", "", text).lower()
    if digits == "0" * 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def is_pi_mac(mac: str) -> bool:
    norm = normalise_mac(mac)
    return norm is not None and norm[:8].upper() in PI_OUIS
