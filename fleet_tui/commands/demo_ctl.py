"""`fleet-tui demo inject|clear|status|faults`: talk to a running demo through its socket."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fleet_tui.commands._common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from fleet_tui.core.sim.control import ControlError, find_demo, request
from fleet_tui.core.sim.faults import KINDS, FaultError, parse_clear, parse_spec


def add_commands(demo: argparse.ArgumentParser) -> None:
    sub = demo.add_subparsers(dest="demo_command", metavar="{inject,clear,status,faults}")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--socket",
        type=Path,
        default=None,
        metavar="PATH",
        help="the demo's control socket (default: the only running demo)",
    )
    p = sub.add_parser("inject", parents=[where], help="inject faults into the running demo")
    p.add_argument(
        "specs",
        nargs="+",
        metavar="HOST:KIND[=VALUE]",
        help="e.g. pi-4b-001:overheat, 3:slow-link=250ms, all:ssh-down",
    )
    p.set_defaults(func=cmd_inject)
    p = sub.add_parser(
        "clear", parents=[where], help="clear faults (HOST clears all of its faults)"
    )
    p.add_argument("targets", nargs="+", metavar="HOST[:KIND]")
    p.set_defaults(func=cmd_clear)
    p = sub.add_parser(
        "status", parents=[where], help="the running demo's Pis: load, heat, power, faults"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per Pi")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("faults", help="the fault kinds and what each does")
    p.set_defaults(func=cmd_faults)


def cmd_inject(args: argparse.Namespace) -> int:
    try:
        specs = [parse_spec(s) for s in args.specs]
    except FaultError as exc:
        return _usage(str(exc))
    return _send(args.socket, [{"op": "inject", "spec": str(spec)} for spec in specs])


def cmd_clear(args: argparse.Namespace) -> int:
    try:
        targets = [parse_clear(t) for t in args.targets]
    except FaultError as exc:
        return _usage(str(exc))
    return _send(args.socket, [{"op": "clear", "target": t, "kind": k} for t, k in targets])


def cmd_status(args: argparse.Namespace) -> int:
    try:
        reply = request(find_demo(args.socket), {"op": "status"})
    except ControlError as exc:
        return _fail(str(exc))
    if not reply.get("ok"):
        return _fail(str(reply.get("error")))
    rows = reply.get("pis", [])
    if rows and not args.json:
        print(STATUS_HEADER)
    for row in rows:
        print(json.dumps(row, sort_keys=True) if args.json else _status_line(row))
    return EXIT_OK


def cmd_faults(args: argparse.Namespace) -> int:
    for kind in KINDS.values():
        print(f"{kind.usage:<24} {kind.help}")
    print(f"{'ssh-up':<24} clears ssh-down")
    return EXIT_OK


def _send(socket: Path | None, messages: list[dict[str, Any]]) -> int:
    try:
        path = find_demo(socket)
        for message in messages:
            reply = request(path, message)
            if not reply.get("ok"):
                error = str(reply.get("error"))
                return _usage(error) if reply.get("usage") else _fail(error)
            for row in reply.get("pis", []):
                faults = ", ".join(row.get("faults") or []) or "none"
                print(f"{row['hostname']:<16} faults: {faults}")
    except ControlError as exc:
        return _fail(str(exc))
    return EXIT_OK


STATUS_HEADER = (
    f"{'#':>3} {'HOSTNAME':<16} {'PORT':<6} {'WORKLOAD':<8} {'LOAD':>5} {'TEMP':>6} {'POWER':>6} "
    f"{'FAN':<8} {'THROTTLE':<8} {'SSH':<4} FAULTS"
)


def _status_line(row: dict[str, Any]) -> str:
    fan = f"{row['fan_rpm']}rpm" if row.get("fan_rpm") is not None else "-"
    ssh = "up" if row["ssh"] else "DOWN"
    faults = ",".join(row["faults"]) or "-"
    return (
        f"{row['number']:>3} {row['hostname']:<16} {row['port']:<6} {row['workload'] or '-':<8} "
        f"{row['load']:>5.2f} {row['temperature_c']:>5.1f}C {row['power_w']:>5.2f}W "
        f"{fan:<8} {row['throttled']:<8} {ssh:<4} {faults}"
    )


def _usage(message: str) -> int:
    print(f"fleet-tui demo: {message}", file=sys.stderr)
    return EXIT_USAGE


def _fail(message: str) -> int:
    print(f"fleet-tui demo: {message}", file=sys.stderr)
    return EXIT_FAILURE
