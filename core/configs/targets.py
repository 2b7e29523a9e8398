"""`--to FILTER` of the config commands: core/fleet/stored_filter.py, as for power and
deployments (a device's own name means exactly it; `*` is every known device)."""

from __future__ import annotations

from fleet_tui.core.fleet.stored_filter import matching as _matching
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store


def matching(store: Store, text: str) -> list[DeviceRecord]:
    """The stored devices `text` selects (FilterError on a bad filter or an ambiguous name)."""
    return [d for d, _ in _matching(store, text)]
