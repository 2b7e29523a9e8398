"""`fleet-tui demo`: the TUI (or its headless twin) on a simulated fleet on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from core.models import DeviceState
from core.runtime import FleetConfig, RunningFleet, run_fleet

DEFAULT_DEVICES = 12


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="open the TUI on a built-in simulated fleet (loopback only)")
    p.add_argument("--devices", type=int, default=DEFAULT_DEVICES, metavar="N", help="simulated Pis (default 12)")
    p.add_argument("--headless", action="store_true", help="run the pipeline without the TUI")
    p.add_argument("--json", action="store_true", help="headless: one JSON object per device")
    p.add_argument("--seconds", type=float, default=20.0, metavar="S", help="headless: give up after S seconds")
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    if args.devices < 1 or args.devices > 500:
        print("fleet-tui demo: --devices must be between 1 and 500", file=sys.stderr)
        return 64
    with tempfile.TemporaryDirectory(prefix="fleet-demo-") as tmp:
        # A fresh database per run: the lab mints new host keys every time, and the demo must
        # never touch the technician's real fleet.db.
        db = Path(args.db) if args.db else Path(tmp) / "demo.db"
        if args.headless:
            return asyncio.run(_headless(db, args.devices, args.seconds, args.json))
        from fleet_tui.commands.tui import run_tui

        return run_tui(args, demo_devices=args.devices, db=db)


async def _headless(db: Path, devices: int, seconds: float, as_json: bool) -> int:
    states: dict[str, DeviceState] = {}
    running: list[RunningFleet] = []
    stop = asyncio.Event()

    def all_reached() -> bool:
        if not running or running[0].lab is None:
            return False
        endpoints = [pi.endpoint for pi in running[0].lab.pis]
        return all(e in states and states[e].health is not None for e in endpoints)

    def on_update(state: DeviceState) -> None:
        states[state.key] = state
        if all_reached():
            stop.set()

    config = FleetConfig(db_path=db, demo_devices=devices, poll_interval=1.0)
    task = asyncio.create_task(run_fleet(config, on_update, stop, on_ready=running.append))
    try:
        await asyncio.wait_for(asyncio.shield(stop.wait()), seconds)
    except TimeoutError:
        stop.set()
    expected = [pi.endpoint for pi in running[0].lab.pis] if running and running[0].lab else []
    await task
    rows = sorted(states.values(), key=lambda s: (s.hostname, s.port))
    for state in rows:
        if as_json:
            print(json.dumps(state.to_json(), sort_keys=True))
        else:
            print(_text_line(state))
    missing = [e for e in expected if e not in states or states[e].health is None]
    if missing or not expected:
        print(f"fleet-tui demo: {len(missing)} of {devices} simulated devices not reached", file=sys.stderr)
        return 2
    return 0


def _text_line(state: DeviceState) -> str:
    d = state.to_json()
    temp = f"{d['temperature_c']:.1f}C" if d["temperature_c"] is not None else "?"
    return f"{d['hostname']:<16} {d['address']}:{d['port']:<6} {d['model'] or '?':<36} {temp}"
