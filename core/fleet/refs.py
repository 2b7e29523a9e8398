"""Which known devices a technician means: what they type on a command line (`reboot pi-4b-017
10.0.0.7 00000000c2b8e4a1`), resolved against the fleet database, exactly.

A device is named by its serial (leading zeros optional, as a label or a barcode may print it),
hostname (`.local` optional), label, or address (`host` or `host:port`). A name that matches no
device, or several, is an error that says so: an action that reboots Pis must never guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.text import visible


class DeviceRefError(ValueError):
    pass


@dataclass(frozen=True)
class Resolved:
    devices: list[DeviceRecord]  # in the order asked, each once
    problems: list[str]
    ambiguous: bool = False  # a name matched several devices (not only: matched none)


def _serial_form(text: str) -> str:
    return text.strip().lower().lstrip("0")


def _names(device: DeviceRecord) -> set[str]:
    names = {_serial_form(device.serial), device.serial.lower()}
    if device.hostname:
        names |= {device.hostname.lower(), device.hostname.lower().removesuffix(".local")}
    if device.label:
        names.add(device.label.lower())
    if device.address:
        names |= {device.address.lower(), f"{device.address}:{device.port or 22}".lower()}
    return names


def resolve(devices: Iterable[DeviceRecord], refs: Sequence[str]) -> Resolved:
    known = list(devices)
    index = [(d, _names(d)) for d in known]
    chosen: dict[str, DeviceRecord] = {}
    problems: list[str] = []
    ambiguous = False
    for ref in refs:
        want = ref.strip().lower().removesuffix(".local")
        hits = [d for d, names in index if want in names or _serial_form(want) in names]
        hits = list({d.serial: d for d in hits}.values())
        if not hits:
            problems.append(
                f"{visible(ref, 80)!r}: no such device (fleet-tui export devices lists them)"
            )
        elif len(hits) > 1:
            ambiguous = True
            which = ", ".join(visible(d.hostname or d.serial, 40) for d in hits[:5])
            problems.append(
                f"{visible(ref, 80)!r} names {len(hits)} devices ({which}): use a serial"
            )
        else:
            chosen.setdefault(hits[0].serial, hits[0])
    return Resolved(list(chosen.values()), problems, ambiguous)


def serial_for(devices: Iterable[DeviceRecord], ref: str) -> str:
    """The serial of the one device `ref` names; DeviceRefError saying why not."""
    found = resolve(devices, [ref])
    if found.problems:
        raise DeviceRefError(found.problems[0])
    return found.devices[0].serial
