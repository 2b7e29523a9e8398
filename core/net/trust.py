"""Host-key trust: first use pins, a pin is tied to the Pi's serial, a changed key is refused.

Decisions, in order, when a device at route key K offers host key N:
- K has a pin P: N == P is accepted; anything else is refused (`HostKeyChanged`).
- K has no pin, and the serial it claims (mDNS TXT, jump discovery) has a pinned key P
  elsewhere: N == P is a Pi that moved address (accepted, pinned for K once its agent has
  confirmed the serial); N != P is refused.
- K has no pin and no claim: first use. The pin is written only after the agent has answered
  with its serial, and refused if that serial already has another key.

A refusal carries the evidence that tells a re-imaged card (same serial, new key) from another
machine: the serial the device announces, and the MAC seen in a neighbour table (this
machine's, or the jump host's) against the MACs recorded for the pinned serial. Only
`repin` — an explicit, confirmed, logged action — ever replaces a pin.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.ssh import HostKeyChanged, fingerprint, same_key
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog

Verdict = Literal["match", "first_use", "moved"]


class Diagnosis(StrEnum):
    REIMAGED = "reimaged"  # same serial (or same hardware MAC), new key
    OTHER_MACHINE = "other_machine"  # evidence says this is not the pinned Pi
    UNKNOWN = "unknown"  # nothing to tell the two apart
    HOST = "host"  # not a fleet device (a jump or mailbox host): no serial to go by


@dataclass(frozen=True)
class Evidence:
    """What the device claims or what we saw of it, with where it came from."""

    serial: str | None = None
    serial_source: str = "mDNS TXT"
    mac: str | None = None
    mac_source: str = "this machine's neighbour table"


@dataclass(frozen=True)
class Pin:
    endpoint: str
    key: str
    serial: str | None
    pinned_at: float | None


class Trust:
    """The store's host-key pins (core/net/hostkeys.py), with the serial rules above."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = HostKeys(store)
        self.events = EventLog(store)
        self.devices = DeviceBook(store)

    def pin(self, endpoint: str) -> Pin | None:
        row = self.store.get_row("host_keys", endpoint)
        if not row or not row.get("key"):
            return None
        return Pin(endpoint, row["key"], row.get("serial"), row.get("pinned_at"))

    def pins_of_serial(self, serial: str) -> list[Pin]:
        rows = self.store.rows("host_keys", "serial = ?", (serial,))
        return [
            Pin(r["endpoint"], r["key"], r["serial"], r.get("pinned_at"))
            for r in rows
            if r.get("key")
        ]

    def check(self, endpoint: str, offered: str, claimed_serial: str | None = None) -> Verdict:
        """Judge a key offered during the handshake; raises HostKeyChanged to refuse."""
        pinned = self.pin(endpoint)
        if pinned is not None:
            if same_key(pinned.key, offered):
                return "match"
            raise HostKeyChanged(
                endpoint,
                pinned.key,
                offered,
                pinned_serial=pinned.serial,
                claimed_serial=claimed_serial,
            )
        if claimed_serial:
            others = self.pins_of_serial(claimed_serial)
            if any(same_key(p.key, offered) for p in others):
                return "moved"
            if others:
                raise HostKeyChanged(
                    endpoint,
                    others[0].key,
                    offered,
                    pinned_serial=claimed_serial,
                    claimed_serial=claimed_serial,
                    pinned_at=others[0].endpoint,
                )
        return "first_use"

    def confirm(self, endpoint: str, offered: str, verdict: Verdict, serial: str | None) -> None:
        """After the agent answered: pin a first-use/moved key with its serial, or refuse."""
        if serial:
            others = [p for p in self.pins_of_serial(serial) if p.endpoint != endpoint]
            if others and not any(same_key(p.key, offered) for p in others):
                raise HostKeyChanged(
                    endpoint,
                    others[0].key,
                    offered,
                    pinned_serial=serial,
                    claimed_serial=serial,
                    pinned_at=others[0].endpoint,
                    confirmed=True,
                )
        if verdict == "first_use":
            self.keys.pin(endpoint, offered, serial=serial, reason="first use")
        elif verdict == "moved":
            where = ", ".join(p.endpoint for p in self.pins_of_serial(serial or "")) or "elsewhere"
            self.keys.pin(endpoint, offered, serial=serial, reason=f"same key as {where}")
        else:
            pinned = self.pin(endpoint)
            if serial and pinned is not None and pinned.serial != serial:
                if pinned.serial:
                    # Same key, other serial: the SD card (which holds the key) now runs in
                    # another Pi. Not a changed key, but never silent either.
                    self.events.record(
                        serial,
                        "host_card_moved",
                        f"{endpoint}: same host key, but serial {serial} answers instead of "
                        f"{pinned.serial} (SD card moved to another Pi?)",
                    )
                self.keys.pin(endpoint, offered, serial=serial, reason="serial learned")

    def pin_first_use(self, endpoint: str, offered: str, serial: str | None = None) -> None:
        """A jump host (no agent facts needed): pin on first use, right away."""
        if self.pin(endpoint) is None:
            self.keys.pin(endpoint, offered, serial=serial, reason="first use")

    def repin(self, endpoint: str, new_key: str, serial: str | None, who: str) -> str:
        """The explicit re-pin (`fleet-tui trust HOST --repin`): replace the pin, log an event."""
        old = self.pin(endpoint)
        serial = serial or (old.serial if old else None)
        self.keys.pin(endpoint, new_key, serial=serial, reason=f"re-pinned by {who}")
        message = (
            f"{endpoint}: host key re-pinned by {who}: "
            f"{fingerprint(old.key) if old else 'none'} -> {fingerprint(new_key)}"
        )
        self.events.record(serial, "host_key_repinned", message)
        return message

    def record_refusal(self, refusal: HostKeyChanged) -> None:
        self.events.record(refusal.pinned_serial, "host_key_refused", str(refusal))

    # ---- telling a re-imaged card from another machine -----------------------------------
    def diagnose(self, refusal: HostKeyChanged, evidence: Evidence) -> HostKeyChanged:
        """The same refusal, with a diagnosis and a message that explains it."""
        pinned_serial = refusal.pinned_serial
        reasons: list[str] = []
        verdicts: list[Diagnosis] = []
        serial = evidence.serial or refusal.claimed_serial
        if serial and pinned_serial:
            if serial == pinned_serial:
                verdicts.append(Diagnosis.REIMAGED)
                how = "answers as" if refusal.confirmed else "announces"
                reasons.append(
                    f"it {how} serial {serial} ({evidence.serial_source}), the pinned Pi's"
                )
            else:
                verdicts.append(Diagnosis.OTHER_MACHINE)
                reasons.append(
                    f"it announces serial {serial} ({evidence.serial_source}), not {pinned_serial}"
                )
        if evidence.mac and pinned_serial:
            device = self.devices.get(pinned_serial)
            known = _macs(device.mac if device else None)
            if known and evidence.mac.lower() in known:
                verdicts.append(Diagnosis.REIMAGED)
                reasons.append(f"its MAC {evidence.mac} ({evidence.mac_source}) is the pinned Pi's")
            elif known:
                verdicts.append(Diagnosis.OTHER_MACHINE)
                owner = self._mac_owner(evidence.mac)
                whose = f", which belongs to serial {owner}" if owner else ""
                reasons.append(
                    f"its MAC {evidence.mac} ({evidence.mac_source}) is not the pinned Pi's{whose}"
                )
        if Diagnosis.OTHER_MACHINE in verdicts:
            diagnosis = Diagnosis.OTHER_MACHINE
        elif Diagnosis.REIMAGED in verdicts:
            diagnosis = Diagnosis.REIMAGED
        else:
            diagnosis = Diagnosis.UNKNOWN
        return refusal.with_diagnosis(diagnosis, "; ".join(reasons))

    def _mac_owner(self, mac: str) -> str | None:
        for device in self.devices.all():
            if mac.lower() in _macs(device.mac):
                return device.serial
        return None


def _macs(text: str | None) -> set[str]:
    return {m.strip().lower() for m in (text or "").split(",") if m.strip()}
