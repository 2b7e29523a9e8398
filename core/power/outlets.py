"""Outlets: the power sources of devices, as LWW rows of the `outlets` table.

One outlet powers one device (`serial`, set by `link`). Kinds:
- ``poe``: a PoE switch port; ``host`` is the switch ("address[:udp port]"), ``port`` the
  switch port, ``pse_group`` its PSE group (RFC 3621; 1 when unset).
- ``pdu``: a switched PDU outlet; ``host`` the PDU, ``outlet`` the outlet number, ``vendor``
  its row of core/power/oids.py (``apc`` when unset).
- ``relay``: a relay channel on a controller Pi (``controller`` = its serial), GPIO ``pin``.
- ``ssh``: the device itself (graceful shutdown/reboot over SSH; it cannot switch itself on).
The row id is the outlet's name: two technicians adding the same name edit one row.
SNMP outlets speak v2c unless ``snmp_version`` is "3": then ``snmp_user``, ``auth_proto`` and
``priv_proto`` say the USM account and its level (core/power/usm.py). Secrets are never stored:
only the *names* of the environment variables holding the community (``community_env``) or the
v3 keys (``auth_key_env``, ``priv_key_env``) are (core/power/secrets.py).
``state`` / ``state_at`` are what the power code last learned of the outlet (on, off or
unknown, and when): every read (`power status`), every switch, the read-back after an
interrupted operation (core/power/service.py); never set by `outlet add`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fleet_tui.core.net.hosts import HostSpecError, parse_spec
from fleet_tui.core.power.oids import DEFAULT_PDU_VENDOR, PDU_VENDORS
from fleet_tui.core.power.secrets import check_env_name
from fleet_tui.core.power.snmp import DEFAULT_PORT
from fleet_tui.core.power.usm import check, level
from fleet_tui.core.store.database import Store

KINDS = ("poe", "pdu", "relay", "ssh")
SNMP_VERSIONS = ("2c", "3")
SNMP_KINDS = ("poe", "pdu")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,47}$")
TABLE = "outlets"


class OutletError(ValueError):
    """An outlet that cannot be added, found or used; the message is for the technician."""


@dataclass(frozen=True)
class Outlet:
    name: str
    kind: str
    host: str | None = None
    port: int | None = None  # PoE switch port
    outlet: int | None = None  # PDU outlet
    pin: int | None = None  # relay GPIO
    pse_group: int | None = None
    vendor: str | None = None
    controller: str | None = None  # serial of the relay controller Pi
    serial: str | None = None  # the device it powers
    community_env: str | None = None
    item_id: str | None = None
    notes: str | None = None
    snmp_version: str | None = None  # "3": USM with the fields below; else v2c
    snmp_user: str | None = None
    auth_proto: str | None = None
    auth_key_env: str | None = None
    priv_proto: str | None = None
    priv_key_env: str | None = None
    state: str | None = None  # last learned: on / off / unknown (None: never read)
    state_at: float | None = None

    @property
    def snmp(self) -> bool:
        return self.kind in SNMP_KINDS

    @property
    def v3(self) -> bool:
        return self.snmp_version == "3"

    @property
    def secret_from(self) -> str:
        """Where its SNMP secret comes from, for people: `$SITE_SNMP`, `v3 tech authPriv`."""
        if not self.snmp:
            return "-"
        if self.v3:
            return f"v3 {self.snmp_user} {level(self.auth_proto, self.priv_proto)}"
        return ("$" + self.community_env) if self.community_env else "config"

    @property
    def group(self) -> int:
        return self.pse_group or 1

    @property
    def pdu_vendor(self) -> str:
        return self.vendor or DEFAULT_PDU_VENDOR

    def agent_address(self) -> tuple[str, int]:
        """The SNMP agent's (host, udp port)."""
        if not self.host:
            raise OutletError(f"outlet {self.name}: no host")
        spec = parse_spec(self.host)
        return spec.host, spec.port or DEFAULT_PORT

    @property
    def where(self) -> str:
        """Which port of which box, for people: `poe 10.0.0.2 port 3`."""
        if self.kind == "poe":
            group = f" group {self.group}" if self.group != 1 else ""
            return f"poe {self.host} port {self.port}{group}"
        if self.kind == "pdu":
            return f"pdu {self.host} outlet {self.outlet} ({self.pdu_vendor})"
        if self.kind == "relay":
            return f"relay on {self.controller} pin {self.pin}"
        return "ssh (the device itself)"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "host": self.host,
            "port": self.port,
            "outlet": self.outlet,
            "pin": self.pin,
            "group": self.pse_group,
            "vendor": self.vendor,
            "controller": self.controller,
            "serial": self.serial,
            "community_env": self.community_env,
            "notes": self.notes,
            "snmp_version": (self.snmp_version or "2c") if self.snmp else None,
            "snmp_user": self.snmp_user,
            "security_level": level(self.auth_proto, self.priv_proto) if self.v3 else None,
            "auth_proto": self.auth_proto,
            "auth_key_env": self.auth_key_env,
            "priv_proto": self.priv_proto,
            "priv_key_env": self.priv_key_env,
            "state": self.state,
            "state_at": self.state_at,
        }


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _outlet(row: dict[str, object]) -> Outlet:
    def text(key: str) -> str | None:
        value = row.get(key)
        return str(value) if value is not None else None

    return Outlet(
        name=text("name") or str(row["id"]),
        kind=text("kind") or "ssh",
        host=text("host"),
        port=_int(row.get("port")),
        outlet=_int(row.get("outlet")),
        pin=_int(row.get("pin")),
        pse_group=_int(row.get("pse_group")),
        vendor=text("vendor"),
        controller=text("controller"),
        serial=text("serial"),
        community_env=text("community_env"),
        item_id=text("item_id"),
        notes=text("notes"),
        snmp_version=text("snmp_version"),
        snmp_user=text("snmp_user"),
        auth_proto=text("auth_proto"),
        auth_key_env=text("auth_key_env"),
        priv_proto=text("priv_proto"),
        priv_key_env=text("priv_key_env"),
        state=text("state"),
        state_at=float(at) if isinstance(at := row.get("state_at"), int | float) else None,
    )


def _number(value: int | None, what: str, low: int, high: int) -> int | None:
    if value is not None and not low <= value <= high:
        raise OutletError(f"{what} must be from {low} to {high}")
    return value


def validated(outlet: Outlet) -> Outlet:
    """The outlet if it can be used as given, else OutletError naming what is wrong."""
    if not NAME.match(outlet.name):
        raise OutletError(
            f"{outlet.name[:50]!r}: an outlet name is 1-48 letters, digits, '.', '_', '-', '/'"
        )
    if outlet.kind not in KINDS:
        raise OutletError(f"kind must be one of {', '.join(KINDS)} (got {outlet.kind[:20]!r})")
    _number(outlet.port, "--port", 1, 4096)
    _number(outlet.outlet, "--outlet", 1, 4096)
    _number(outlet.pin, "--pin", 0, 53)
    _number(outlet.pse_group, "--group", 1, 1024)
    _check_snmp(outlet)
    if outlet.snmp:
        if not outlet.host:
            raise OutletError(f"a {outlet.kind} outlet needs --host (the switch or PDU)")
        try:
            spec = parse_spec(outlet.host)
        except HostSpecError as e:
            raise OutletError(f"--host: {e}") from None
        if spec.user:
            raise OutletError("--host: an SNMP agent has no user (host[:udp port])")
    if outlet.kind == "poe" and outlet.port is None:
        raise OutletError("a poe outlet needs --port (the switch port)")
    if outlet.kind == "pdu":
        if outlet.outlet is None:
            raise OutletError("a pdu outlet needs --outlet (the outlet number)")
        if outlet.pdu_vendor not in PDU_VENDORS:
            raise OutletError(
                f"unknown PDU vendor {outlet.pdu_vendor[:20]!r}; known: {', '.join(PDU_VENDORS)}"
            )
    if outlet.kind == "relay":
        if outlet.pin is None:
            raise OutletError("a relay outlet needs --pin (the GPIO of the relay channel)")
        if not outlet.controller:
            raise OutletError("a relay outlet needs --controller (the Pi that drives the relay)")
    if outlet.kind != "poe" and outlet.pse_group is not None:
        raise OutletError("--group is for poe outlets")
    return outlet


_V3_FIELDS = ("snmp_user", "auth_proto", "auth_key_env", "priv_proto", "priv_key_env")


def _check_snmp(outlet: Outlet) -> None:
    """The community's variable (v2c) or the USM account (v3): consistent, and names only."""
    envs = (
        (outlet.community_env, "--community-env", "community"),
        (outlet.auth_key_env, "--auth-key-env", "auth key"),
        (outlet.priv_key_env, "--priv-key-env", "priv key"),
    )
    try:
        for name, option, what in envs:
            if name is not None:
                check_env_name(name, option, what)
        if outlet.v3:
            check(outlet.snmp_user, outlet.auth_proto, outlet.priv_proto)
    except ValueError as e:  # UsmError too
        raise OutletError(str(e)) from None
    if outlet.snmp_version is not None and outlet.snmp_version not in SNMP_VERSIONS:
        raise OutletError(f"--snmp must be one of {', '.join(SNMP_VERSIONS)}")
    if outlet.snmp_version is not None and not outlet.snmp:
        raise OutletError(f"--snmp is for {' and '.join(SNMP_KINDS)} outlets")
    if not outlet.v3:
        if any(getattr(outlet, f) is not None for f in _V3_FIELDS):
            raise OutletError("--user, --auth, --priv and their key variables need --snmp 3")
        return
    if outlet.community_env is not None:
        raise OutletError("--community-env is for SNMP v2c; v3 takes --user, --auth, --priv")
    if outlet.auth_proto and not outlet.auth_key_env:
        raise OutletError("--auth needs --auth-key-env (the variable holding the auth key)")
    if outlet.priv_proto and not outlet.priv_key_env:
        raise OutletError("--priv needs --priv-key-env (the variable holding the priv key)")
    if outlet.auth_key_env and not outlet.auth_proto:
        raise OutletError("--auth-key-env needs --auth (the protocol: sha, sha256, …)")
    if outlet.priv_key_env and not outlet.priv_proto:
        raise OutletError("--priv-key-env needs --priv (the protocol: aes, …)")


class OutletBook:
    """The `outlets` table of the fleet store. Holds no state: make one wherever needed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, outlet: Outlet) -> Outlet:
        outlet = validated(outlet)
        self.store.set_row(
            TABLE,
            outlet.name,
            name=outlet.name,
            kind=outlet.kind,
            host=outlet.host,
            port=outlet.port,
            outlet=outlet.outlet,
            pin=outlet.pin,
            pse_group=outlet.pse_group,
            vendor=outlet.vendor,
            controller=outlet.controller,
            serial=outlet.serial,
            community_env=outlet.community_env,
            item_id=outlet.item_id,
            notes=outlet.notes,
            snmp_version=outlet.snmp_version,
            snmp_user=outlet.snmp_user,
            auth_proto=outlet.auth_proto,
            auth_key_env=outlet.auth_key_env,
            priv_proto=outlet.priv_proto,
            priv_key_env=outlet.priv_key_env,
        )
        return outlet

    def record_state(self, name: str, state: str, at: float) -> None:
        """What was learned of outlet `name` (a read or a switch), unless it was removed."""
        if self.store.readonly or self.store.get_row(TABLE, name) is None:
            return
        self.store.set_row(TABLE, name, state=state, state_at=at)

    def all(self) -> list[Outlet]:
        return [_outlet(r) for r in self.store.rows(TABLE)]

    def get(self, name: str) -> Outlet:
        row = self.store.get_row(TABLE, name)
        if row is None:
            raise OutletError(f"no outlet named {name[:50]!r} (fleet-tui outlet list)")
        return _outlet(row)

    def link(self, name: str, serial: str) -> Outlet:
        """Say which device `name` powers; any other outlet that claimed it keeps its claim
        (a Pi may have two sources: PoE and a PDU)."""
        self.get(name)
        self.store.set_row(TABLE, name, serial=serial)
        return self.get(name)

    def of_device(self, serial: str) -> list[Outlet]:
        return [o for o in self.all() if o.serial == serial]

    def by_device(self) -> dict[str, list[Outlet]]:
        """serial -> the outlets that power it (for the rack screen's status line)."""
        out: dict[str, list[Outlet]] = {}
        for o in self.all():
            if o.serial:
                out.setdefault(o.serial, []).append(o)
        return out

    def relay_controllers(self) -> set[str]:
        return {o.controller for o in self.all() if o.kind == "relay" and o.controller}
