"""Which device a detail screen shows: its identity (the fleet row's key), name and address."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.identity import serial_of
from fleet_tui.screens.fleet_model import FleetRow


@dataclass(frozen=True)
class DeviceRef:
    key: str  # the device's identity: its serial, or a provisional id until its agent answers
    hostname: str
    endpoint: str | None

    @property
    def serial(self) -> str | None:
        return serial_of(self.key)

    @classmethod
    def of(cls, row: FleetRow) -> DeviceRef:
        endpoint = (
            row.state.endpoint if row.state else (row.record.endpoint if row.record else None)
        )
        return cls(row.key, row.hostname, endpoint)
