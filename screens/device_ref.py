"""Which device a detail screen shows: the fleet row's key, name, serial and address."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.screens.fleet_model import FleetRow


@dataclass(frozen=True)
class DeviceRef:
    key: str  # the fleet row key (the live pipeline's key when it is live)
    hostname: str
    serial: str | None
    endpoint: str | None

    @classmethod
    def of(cls, row: FleetRow) -> DeviceRef:
        endpoint = (
            row.state.endpoint if row.state else (row.record.endpoint if row.record else None)
        )
        return cls(row.key, row.hostname, row.serial, endpoint)
