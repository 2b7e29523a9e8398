"""Pydantic row models: what the store hands to the rest of the product."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, field_validator


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class DeviceRecord(_Row):
    serial: str
    hostname: str | None = None
    address: str | None = None
    port: int | None = None
    user: str | None = None
    model: str | None = None
    revision: str | None = None
    os_name: str | None = None
    kernel: str | None = None
    arch: str | None = None
    agent_version: str | None = None
    last_seen: float | None = None
    label: str | None = None
    notes: str | None = None
    tags: list[str] = []
    mac: str | None = None
    clock_skew_s: float | None = None  # the Pi's clock minus ours at its last contact

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, v: object) -> object:
        # stored as JSON text so that the whole list is one LWW cell
        if v is None:
            return []
        if isinstance(v, str):
            return json.loads(v) if v else []
        return v

    @property
    def endpoint(self) -> str | None:
        return f"{self.address}:{self.port or 22}" if self.address else None


class HostKeyEvent(_Row):
    origin: int
    seq: int
    endpoint: str
    serial: str | None
    key: str
    reason: str
    time: float


class SampleRecord(_Row):
    serial: str
    time: float
    temperature_c: float | None = None
    cpu_percent: float | None = None
    throttled: int | None = None
    load1: float | None = None
    mem_percent: float | None = None
    disk_percent: float | None = None
    core_volts: float | None = None
    power_w: float | None = None
    fan_rpm: float | None = None
    count: int = 1  # >1 for a compacted (downsampled) bucket: values are means


class EventRecord(_Row):
    origin: int
    seq: int
    time: float
    serial: str | None
    kind: str
    message: str


class SiteRecord(_Row):
    id: str
    name: str | None = None
    address: str | None = None
    contact: str | None = None
    notes: str | None = None


class RackRecord(_Row):
    id: str
    room_id: str | None = None
    site_id: str | None = None
    name: str | None = None
    height_u: int | None = None
    power_budget_w: float | None = None
    notes: str | None = None


class PlacementRecord(_Row):
    id: str
    serial: str | None = None
    rack_id: str | None = None
    unit: int | None = None
    slot: int | None = None
    notes: str | None = None
