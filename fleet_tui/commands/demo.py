"""`fleet-tui demo`: the TUI (or its headless twin) on a simulated fleet on 127.0.0.1.

`--fault HOST:KIND` injects faults as the lab starts; while a demo runs, `fleet-tui demo
inject|clear|status` reach it through its control socket (see demo_ctl.py). The simulated lab
is handed to the pipeline here (`FleetConfig.lab`), and the TUI gets the demo's own `:fault`
command (fleet_tui/demo/): nothing else in the app knows about the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import tempfile
from pathlib import Path

from fleet_tui.commands._common import EXIT_FAILURE, EXIT_USAGE, output_problem
from fleet_tui.commands.demo_ctl import add_commands
from fleet_tui.core.fleet.runtime import FleetConfig, RunningFleet, run_fleet
from fleet_tui.core.models import DeviceState
from fleet_tui.core.sim.control import ControlError, default_socket_path
from fleet_tui.core.sim.faults import FaultError, parse_spec
from fleet_tui.core.sim.lab import (
    LabOptions,
    PowerOptions,
    SimLab,
    SimPi,
    hostname_for,
    target_indices,
)
from fleet_tui.demo import DEMO_COMMUNITY_ENV
from fleet_tui.demo.racks import RackedLab
from fleet_tui.paths import NoDatabase, ready_db_path

DEFAULT_DEVICES = 12
MAX_DEVICES = 500


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="open the TUI on a built-in simulated fleet (loopback only)")
    p.add_argument(
        "--devices",
        type=int,
        default=DEFAULT_DEVICES,
        metavar="N",
        help="simulated Pis (default 12)",
    )
    p.add_argument(
        "--power",
        action="store_true",
        help=(
            "also a simulated PoE switch (SNMP on 127.0.0.1) whose ports power the Pis; "
            f"its community is in ${DEMO_COMMUNITY_ENV}"
        ),
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="HOST:KIND[=VALUE]",
        help="inject a fault as the demo starts (repeatable; `fleet-tui demo faults` lists kinds)",
    )
    p.add_argument(
        "--socket",
        type=Path,
        default=None,
        metavar="PATH",
        help="control socket for `fleet-tui demo inject` (default: in the per-user runtime dir)",
    )
    p.add_argument("--headless", action="store_true", help="run the pipeline without the TUI")
    p.add_argument("--json", action="store_true", help="headless: one JSON object per device")
    p.add_argument(
        "--seconds", type=float, default=20.0, metavar="S", help="headless: give up after S seconds"
    )
    p.add_argument(
        "--hold",
        action="store_true",
        help="headless: run the full S seconds (inject faults meanwhile), then print",
    )
    p.set_defaults(func=run_demo)
    add_commands(p)


def run_demo(args: argparse.Namespace) -> int:
    if args.devices < 1 or args.devices > MAX_DEVICES:
        print(f"fleet-tui demo: --devices must be between 1 and {MAX_DEVICES}", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = _lab_options(args.fault, args.devices, args.socket, args.power)
    except FaultError as exc:
        print(f"fleet-tui demo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.socket is not None and (problem := output_problem(args.socket.expanduser())):
        print(f"fleet-tui demo: --socket {problem}", file=sys.stderr)
        return EXIT_FAILURE
    try:  # --db: the demo writes it, so it may be made in a folder that exists
        chosen = ready_db_path(args, writes=True) if args.db else None
    except NoDatabase as exc:
        print(f"fleet-tui demo: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    with tempfile.TemporaryDirectory(prefix="fleet-demo-") as tmp:
        # A fresh database per run: the lab mints new host keys every time, and the demo must
        # never touch the technician's real fleet.db.
        db = chosen or Path(tmp) / "demo.db"
        lab = RackedLab(args.devices, db=db, options=options)  # its Pis in rack R1
        if args.headless:
            return asyncio.run(_headless(db, args, lab))
        from fleet_tui.demo.tui import open_demo_tui  # Textual only when a TUI is wanted

        return open_demo_tui(args, db, lab)


def _lab_options(
    faults: list[str], devices: int, socket: Path | None, power: bool = False
) -> LabOptions:
    hostnames = [hostname_for(i) for i in range(devices)]
    for spec in faults:
        target_indices(parse_spec(spec).target, hostnames)  # fail before anything starts
    if socket is None:
        try:
            socket = default_socket_path()
        except ControlError as exc:
            print(f"fleet-tui demo: no control socket: {exc}", file=sys.stderr)
    power_options = None
    if power:  # a fresh community per demo, in this process's environment only
        community = os.environ.setdefault(DEMO_COMMUNITY_ENV, secrets.token_hex(8))
        power_options = PowerOptions(community=community)
    return LabOptions(faults=tuple(faults), control_socket=socket, power=power_options)


def _expects_health(pi: SimPi) -> bool:
    """Can the pipeline read this Pi's health, given its faults?"""
    return pi.ssh_wanted and not pi.crash_agents


def _settled(lab: SimLab, states: dict[str, DeviceState]) -> bool:
    """Every reachable Pi has health; every advertised but faulted one has shown its error."""
    at = _by_endpoint(states)
    for pi in lab.pis:
        state = at.get(pi.endpoint)
        if _expects_health(pi):
            if state is None or state.health is None:
                return False
        elif pi.service is not None and (state is None or not state.error):
            return False
    return True


def _by_endpoint(states: dict[str, DeviceState]) -> dict[str, DeviceState]:
    """The states (kept by device identity) by the endpoint each is followed at."""
    return {state.endpoint: state for state in states.values()}


async def _headless(db: Path, args: argparse.Namespace, lab: SimLab) -> int:
    states: dict[str, DeviceState] = {}
    running: list[RunningFleet] = []
    stop = asyncio.Event()

    def on_update(state: DeviceState) -> None:
        if state.replaces is not None:
            states.pop(state.replaces, None)
        states[state.key] = state
        if not args.hold and running and _settled(lab, states):
            stop.set()

    config = FleetConfig(db_path=db, lab=lab, poll_interval=1.0)
    task = asyncio.create_task(run_fleet(config, on_update, stop, on_ready=running.append))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop the lab cleanly, as at the deadline
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(asyncio.shield(stop.wait()), args.seconds)
    except TimeoutError:
        stop.set()
    up = bool(running)  # the pipeline was running at the deadline
    expected = [pi.endpoint for pi in lab.pis if _expects_health(pi)] if up else []
    await task
    rows = sorted(states.values(), key=lambda s: (s.hostname, s.port))
    if rows and not args.json:
        print(TEXT_HEADER)
    for state in rows:
        if args.json:
            print(json.dumps(state.to_json(), sort_keys=True))
        else:
            print(_text_line(state))
    at = _by_endpoint(states)
    missing = [e for e in expected if e not in at or at[e].health is None]
    if missing or not up:
        print(
            f"fleet-tui demo: {len(missing)} of {len(expected)} reachable simulated devices not reached",
            file=sys.stderr,
        )
        return 2
    return 0


TEXT_HEADER = f"{'HOSTNAME':<16} {'ADDRESS:PORT':<16} {'MODEL':<36} TEMP"


def _text_line(state: DeviceState) -> str:
    d = state.to_json()
    temp = f"{d['temperature_c']:.1f}C" if d["temperature_c"] is not None else "?"
    return f"{d['hostname']:<16} {d['address']}:{d['port']:<6} {d['model'] or '?':<36} {temp}"
