"""`fleet-tui outlet add|list|link`: the power sources of devices (core/power/outlets.py).

An SNMP secret is never given on the command line nor stored: `--community-env VAR` (v2c), or
`--auth-key-env VAR` / `--priv-key-env VAR` (v3, with `--snmp 3 --user U --auth sha --priv aes`)
name the environment variables that hold them when fleet-tui talks to the switch or PDU.

Exit codes: 0 done, 2 a device or outlet that does not exist, --readonly, 64 bad input.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    emit,
    fail,
    open_db,
    refuse_readonly,
    who,
)
from fleet_tui.core.fleet.refs import resolve
from fleet_tui.core.power.outlets import (
    KINDS,
    SNMP_VERSIONS,
    Outlet,
    OutletBook,
    OutletError,
    validated,
)
from fleet_tui.core.power.usm import AUTH_PROTOCOLS, PRIV_PROTOCOLS
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.text import visible, when


def _device_serial(store: Store, ref: str, what: str) -> tuple[str | None, int | None]:
    """(serial, None) for a known device; else (None, exit code) after saying why."""
    resolved = resolve(DeviceBook(store).all(), [ref])
    if resolved.problems:
        fail(f"{what}: {resolved.problems[0]}")
        return None, EXIT_USAGE if resolved.ambiguous else EXIT_FAILURE
    return resolved.devices[0].serial, None


def cmd_add(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "outlet add"):
        return EXIT_FAILURE
    controller = args.controller or (args.host if args.kind == "relay" else None)
    outlet = Outlet(
        name=args.name,
        kind=args.kind,
        host=None if args.kind == "relay" else args.host,
        port=args.port,
        outlet=args.outlet,
        pin=args.pin,
        pse_group=args.group,
        vendor=args.vendor,
        controller=controller,
        community_env=args.community_env,
        notes=args.notes,
        snmp_version=args.snmp,
        snmp_user=args.user,
        auth_proto=args.auth,
        auth_key_env=args.auth_key_env,
        priv_proto=args.priv,
        priv_key_env=args.priv_key_env,
    )
    try:
        validated(outlet)  # before the database is opened: bad input writes nothing
    except OutletError as e:
        return fail(f"outlet add: {e}", EXIT_USAGE)
    try:
        with open_db(args, writes=True) as store:
            if outlet.controller:
                serial, code = _device_serial(store, outlet.controller, "outlet add --controller")
                if code is not None:
                    return code
                outlet = replace(outlet, controller=serial)
            if args.device:
                serial, code = _device_serial(store, args.device, "outlet add --device")
                if code is not None:
                    return code
                outlet = replace(outlet, serial=serial)
            OutletBook(store).add(outlet)
            EventLog(store).record(
                outlet.serial, "outlet_added", f"outlet {outlet.name} ({outlet.where}) by {who()}"
            )
    except (StoreError, OutletError) as e:
        return fail(f"outlet add: {e}")
    emit(args, outlet.to_json(), f"outlet {visible(outlet.name)}: {visible(outlet.where)}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False, readonly=True) as store:
            outlets = OutletBook(store).all()
            names = {d.serial: d.hostname or d.serial for d in DeviceBook(store).all()}
    except StoreError as e:
        return fail(str(e))
    if args.json:
        for o in outlets:
            print(json.dumps({**o.to_json(), "device": names.get(o.serial or "")}, sort_keys=True))
        return EXIT_OK
    if not outlets:
        print("no outlets yet (fleet-tui outlet add NAME --kind poe|pdu|relay …)")
        return EXIT_OK
    print(f"{'OUTLET':<16} {'KIND':<6} {'WHERE':<40} {'DEVICE':<20} {'STATE':<33} SECRET FROM")
    for o in outlets:
        device = names.get(o.serial or "", o.serial or "-")
        state = f"{o.state} at {when(o.state_at)}" if o.state and o.state_at else "not recorded"
        print(
            f"{visible(o.name, 16):<16} {o.kind:<6} {visible(o.where, 40):<40} "
            f"{visible(device, 20):<20} {visible(state, 33):<33} {visible(o.secret_from, 50)}"
        )
    return EXIT_OK


def cmd_link(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "outlet link"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            book = OutletBook(store)
            book.get(args.name)
            serial, code = _device_serial(store, args.device, "outlet link")
            if code is not None or serial is None:
                return code or EXIT_FAILURE
            outlet = book.link(args.name, serial)
            EventLog(store).record(
                serial, "outlet_linked", f"outlet {outlet.name} ({outlet.where}) by {who()}"
            )
    except OutletError as e:
        return fail(f"outlet link: {e}")
    except StoreError as e:
        return fail(str(e))
    emit(args, outlet.to_json(), f"outlet {visible(outlet.name)} powers {visible(args.device)}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outlet = sub.add_parser("outlet", help="power sources of devices: add, list, link")
    verbs = outlet.add_subparsers(dest="outlet_command", metavar="VERB", required=True)

    p = verbs.add_parser("add", help="a PoE switch port, PDU outlet or relay channel")
    p.add_argument("name", metavar="NAME", help="its name (e.g. sw1-p3)")
    p.add_argument("--kind", required=True, choices=[k for k in KINDS if k != "ssh"])
    p.add_argument("--host", metavar="H", help="the switch or PDU: address[:udp port]")
    p.add_argument("--port", type=int, metavar="P", help="poe: the switch port")
    p.add_argument("--outlet", type=int, metavar="N", help="pdu: the outlet number")
    p.add_argument("--pin", type=int, metavar="N", help="relay: the GPIO of the channel")
    p.add_argument("--group", type=int, metavar="G", help="poe: the PSE group (default 1)")
    p.add_argument("--vendor", metavar="V", help="pdu: its OID table (default apc)")
    p.add_argument(
        "--community-env",
        metavar="VAR",
        help="the environment variable holding the SNMP community (never the community)",
    )
    p.add_argument("--snmp", choices=SNMP_VERSIONS, help="SNMP version (default 2c)")
    p.add_argument("--user", metavar="U", help="SNMP v3: the USM user name")
    p.add_argument("--auth", choices=list(AUTH_PROTOCOLS), help="SNMP v3: auth protocol")
    p.add_argument(
        "--auth-key-env", metavar="VAR", help="SNMP v3: the variable holding the auth key"
    )
    p.add_argument("--priv", choices=list(PRIV_PROTOCOLS), help="SNMP v3: privacy protocol")
    p.add_argument(
        "--priv-key-env", metavar="VAR", help="SNMP v3: the variable holding the priv key"
    )
    p.add_argument(
        "--controller", metavar="HOST|SERIAL", help="relay: the Pi that drives the relay"
    )
    p.add_argument("--device", metavar="HOST|SERIAL", help="the device it powers (or: link)")
    p.add_argument("--notes", metavar="TEXT")
    p.add_argument("--json", action="store_true", help="the outlet as JSON")
    p.set_defaults(func=cmd_add)

    p = verbs.add_parser("list", help="every outlet and the device it powers")
    p.add_argument("--json", action="store_true", help="one JSON object per outlet")
    p.set_defaults(func=cmd_list)

    p = verbs.add_parser("link", help="say which device an outlet powers")
    p.add_argument("name", metavar="NAME")
    p.add_argument("device", metavar="HOST|SERIAL")
    p.add_argument("--json", action="store_true", help="the outlet as JSON")
    p.set_defaults(func=cmd_link)
