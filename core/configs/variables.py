"""What a config template may name for one device: its own fields, its tags, where it is
placed (rack, room, site) and the config itself. Every value is a string; a field the
device does not have (no label, not placed in a rack) is absent, so a template naming it is
refused with the name rather than rendered with an empty string.

    device.serial device.hostname device.address device.port device.user device.model
    device.revision device.os_name device.kernel device.arch device.label device.mac
    device.tags (comma-separated)      tag.KEY (the VALUE of a KEY=VALUE tag; a plain tag
    KEY gives "true")    rack.id rack.name rack.unit rack.slot rack.face
    room.id room.name    site.id site.name site.address site.contact
    config.name config.path config.version
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store

DEVICE_FIELDS = (
    "serial hostname address port user model revision os_name kernel arch label mac"
).split()


@dataclass(frozen=True)
class Places:
    """The placements, racks, rooms and sites of a store, read once for many devices."""

    placements: dict[str, dict[str, Any]]  # serial -> its live placement
    racks: dict[str, dict[str, Any]]
    rooms: dict[str, dict[str, Any]]
    sites: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, store: Store) -> Places:
        placements = {p["serial"]: p for p in store.rows("placements") if p.get("serial")}
        return cls(
            placements,
            {r["id"]: r for r in store.rows("racks")},
            {r["id"]: r for r in store.rows("rooms")},
            {r["id"]: r for r in store.rows("sites")},
        )


def _put(out: dict[str, str], prefix: str, row: dict[str, Any] | None, names: list[str]) -> None:
    if row is None:
        return
    for name in names:
        value = row.get(name)
        if value is not None and value != "":
            out[f"{prefix}.{name}"] = str(value)


def device_values(
    device: DeviceRecord, places: Places, config: dict[str, str] | None = None
) -> dict[str, str]:
    out: dict[str, str] = {}
    _put(out, "device", device.model_dump(), DEVICE_FIELDS)
    out["device.tags"] = ",".join(device.tags)
    for tag in device.tags:
        key, sep, value = tag.partition("=")
        out[f"tag.{key.strip()}"] = value.strip() if sep else "true"
    placement = places.placements.get(device.serial)
    rack = (
        places.racks.get(placement["rack_id"]) if placement and placement.get("rack_id") else None
    )
    if placement is not None:
        _put(out, "rack", placement, ["unit", "slot"])
        out["rack.face"] = placement.get("face") or "front"
    _put(out, "rack", rack, ["id", "name"])
    room = places.rooms.get(rack["room_id"]) if rack and rack.get("room_id") else None
    _put(out, "room", room, ["id", "name"])
    site_id = (rack or {}).get("site_id") or (room or {}).get("site_id")
    _put(
        out,
        "site",
        places.sites.get(site_id) if site_id else None,
        ["id", "name", "address", "contact"],
    )
    for key, value in (config or {}).items():
        out[f"config.{key}"] = value
    return out
