"""Every device we know how to reach: the hosts table plus devices with an address.

A host row carries its own jump host; otherwise its site's jump applies (`hosts jump
--site`). A device row (learned from an agent) belongs to a site through its rack placement.
A device already covered by a host row (same serial or address) is not listed twice.
"""

from __future__ import annotations

from fleet_tui.core.net.hosts import HostBook, HostEntry
from fleet_tui.core.net.routes import Target
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook


def _jump_of_site(site: str | None, site_jumps: dict[str, str]) -> str | None:
    """The jump host of `site`, else the one set for every site (`*`)."""
    return (site_jumps.get(site) if site else None) or site_jumps.get("*")


def target_of(entry: HostEntry, site_jumps: dict[str, str]) -> Target:
    jump = entry.jump or _jump_of_site(entry.site, site_jumps)
    return Target(entry.host, entry.port, entry.user, jump, entry.serial, entry.name, entry.mac)


def device_sites(store: Store) -> dict[str, str]:
    """serial -> site id, through the device's rack placement."""
    racks = {r["id"]: r.get("site_id") for r in store.rows("racks")}
    sites: dict[str, str] = {}
    for placement in store.rows("placements"):
        site = racks.get(placement.get("rack_id"))
        if placement.get("serial") and site:
            sites[placement["serial"]] = site
    return sites


def known_targets(store: Store) -> list[Target]:
    book = HostBook(store)
    jumps = book.site_jumps()
    entries = book.entries()
    targets = [target_of(e, jumps) for e in entries]
    covered_serials = {e.serial for e in entries if e.serial}
    covered_hosts = {(e.host, e.port or 22) for e in entries}
    sites = device_sites(store)
    for device in DeviceBook(store).all():
        if not device.address or device.serial in covered_serials:
            continue
        if (device.address, device.port or 22) in covered_hosts:
            continue
        jump = _jump_of_site(sites.get(device.serial), jumps)
        targets.append(
            Target(
                device.address, device.port, device.user, jump, device.serial, device.hostname, None
            )
        )
    return targets
