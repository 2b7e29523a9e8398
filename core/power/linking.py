"""Saying which outlet powers a device, from the rack screen: link an existing outlet, or
define one (kind, host, port / outlet / pin) and link it. Validated before anything is
written (core/power/outlets.py `validated`), recorded as an event, never a community."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fleet_tui.core.power.outlets import SNMP_KINDS, Outlet, OutletBook, OutletError, validated
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog


@dataclass(frozen=True)
class UsmTyped:
    """The SNMP v3 account as typed: user, protocols, and the NAMES of the environment
    variables holding the keys (never a key). Empty strings are "not given"."""

    user: str = ""
    auth: str = ""
    auth_key_env: str = ""
    priv: str = ""
    priv_key_env: str = ""


def new_outlet(
    name: str,
    kind: str,
    host: str,
    number: str,
    community_env: str = "",
    v3: UsmTyped | None = None,
) -> Outlet:
    """An outlet from what a technician typed: `number` is the switch port (poe), the outlet
    (pdu) or the GPIO pin (relay, whose `host` is the controller Pi: hostname or serial).
    `v3`: speak SNMP v3 with this account (as `outlet add --snmp 3 --user … --auth …
    --auth-key-env … --priv … --priv-key-env …`), checked by the same code."""
    text = number.strip()
    if not text.isdigit():
        word = {"poe": "port", "pdu": "outlet", "relay": "pin"}.get(kind, "number")
        raise OutletError(f"the {word} is a whole number (got {text[:20]!r})")
    value = int(text)
    host = host.strip()
    outlet = Outlet(
        name=name.strip(),
        kind=kind,
        host=host if kind != "relay" else None,
        controller=host if kind == "relay" else None,
        port=value if kind == "poe" else None,
        outlet=value if kind == "pdu" else None,
        pin=value if kind == "relay" else None,
        community_env=community_env.strip() or None,
    )
    if v3 is not None:

        def given(value: str) -> str | None:
            return value.strip() or None

        outlet = replace(
            outlet,
            snmp_version="3" if kind in SNMP_KINDS else None,
            snmp_user=given(v3.user),
            auth_proto=given(v3.auth),
            auth_key_env=given(v3.auth_key_env),
            priv_proto=given(v3.priv),
            priv_key_env=given(v3.priv_key_env),
        )
    return validated(outlet)


def link_outlet(store: Store, serial: str, outlet: Outlet | str, who: str) -> Outlet:
    """Link `outlet` (a name: an existing one; an Outlet: defined now, its controller already
    resolved to a serial: core/fleet/refs.py `serial_for`) to device `serial`."""
    book = OutletBook(store)
    if isinstance(outlet, str):
        linked = book.link(outlet, serial)
        EventLog(store).record(
            serial, "outlet_linked", f"outlet {linked.name} ({linked.where}) by {who}"
        )
        return linked
    if outlet.controller and DeviceBook(store).get(outlet.controller) is None:
        raise OutletError(f"controller {outlet.controller!r}: not a known device's serial")
    if store.get_row("outlets", outlet.name) is not None:
        raise OutletError(f"an outlet named {outlet.name!r} exists: pick it from the list")
    added = book.add(replace(outlet, serial=serial))
    EventLog(store).record(serial, "outlet_added", f"outlet {added.name} ({added.where}) by {who}")
    return added
