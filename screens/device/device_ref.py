"""Which device a detail screen shows: its identity (the fleet row's key), name and address."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.identity import serial_of


@dataclass(frozen=True)
class DeviceRef:
    key: str  # the device's identity: its serial, or a provisional id until its agent answers
    hostname: str
    endpoint: str | None

    @property
    def serial(self) -> str | None:
        return serial_of(self.key)
