"""The fleet filter language lives in core (the CLI's `deploy --to FILTER` uses it too):
core/fleet/filters.py. Re-exported here for the screens."""

from __future__ import annotations

from fleet_tui.core.fleet.filters import (
    FIELD_ALIASES,
    FIELDS,
    STATUS_CHOICES,
    STATUS_WORDS,
    Filterable,
    FilterError,
    FleetFilter,
    completions,
)

__all__ = [
    "FIELDS",
    "FIELD_ALIASES",
    "STATUS_CHOICES",
    "STATUS_WORDS",
    "FilterError",
    "Filterable",
    "FleetFilter",
    "completions",
]
