"""`fleet-tui poll`: facts and health of every known device (or only the --host ones).

With --json, one JSON object per device as each one answers; exits 0 when every device
answered, 1 when some failed, 2 when all failed, 64 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    emit,
    fail,
    open_db,
)
from fleet_tui.commands._ssh_args import add_ssh_args, connection_pool
from fleet_tui.core.net.routes import RouteError, Target
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.text import visible


def cmd_poll(args: argparse.Namespace) -> int:
    if not 1 <= args.concurrency <= 1024:
        return fail("poll: --concurrency must be between 1 and 1024", EXIT_USAGE)
    targets: list[Target] = []
    try:
        for spec in args.host or []:
            targets.append(Target.parse(spec, jump=args.jump))
    except RouteError as e:
        return fail(f"poll: {e}", EXIT_USAGE)
    try:
        # --host polls (and records) hosts the database may not know yet
        with open_db(args, writes=bool(targets) and not args.readonly) as store:
            if not targets:
                targets = known_targets(store)
            if not targets:
                return fail(
                    "poll: no known devices (run `fleet-tui discover` or `fleet-tui hosts add`)"
                )
            return asyncio.run(_poll(args, store, targets))
    except StoreError as e:
        return fail(str(e))


async def _poll(args: argparse.Namespace, store: Store, targets: Sequence[Target]) -> int:
    from fleet_tui.core.fleet.poll import poll

    pool = connection_pool(store, args)
    ok = failed = 0
    if not args.json:
        print(POLL_HEADER, flush=True)
    try:
        async for row in poll(
            pool,
            targets,
            concurrency=args.concurrency,
            timeout=args.timeout,
            record=not args.readonly,
        ):
            if row.reachable:
                ok += 1
            else:
                failed += 1
            emit(args, row.to_json(), _poll_line(row.to_json()))
    finally:
        await pool.close()
    if not args.json:
        print(f"{ok} reachable, {failed} unreachable", file=sys.stderr)
    if failed == 0:
        return EXIT_OK
    return EXIT_PARTIAL if ok else EXIT_FAILURE


POLL_HEADER = f"{'DEVICE':<20} {'ROUTE':<24} {'MODEL':<34} {'TEMP':>7} THROTTLED"


def _poll_line(d: dict[str, Any]) -> str:
    who = visible(d["hostname"] or d["name"] or d["host"], 40)
    if not d["reachable"]:
        return f"{who:<20} {visible(d['route'] or d['host'], 60):<24} unreachable: {visible(d['error'], 400)}"
    temp = f"{d['temperature_c']:.1f}°C" if isinstance(d["temperature_c"], float) else "?"
    throttled = d["throttled"] or {}
    flags = ",".join(throttled.get("current") or []) or "ok"
    return (
        f"{who:<20} {visible(d['route'], 60):<24} {visible(d['model'] or '?', 40):<34} "
        f"{temp:>7} {flags}"
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("poll", help="facts and health of every known device (or --host ones)")
    p.add_argument(
        "--concurrency", type=int, default=32, metavar="N", help="devices at once (default 32)"
    )
    p.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="per device (default 30)"
    )
    p.add_argument(
        "--host", action="append", metavar="[USER@]HOST[:PORT]", help="only these (repeatable)"
    )
    p.add_argument(
        "--jump", metavar="[USER@]JUMP[:PORT]", help="with --host: through this jump host"
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object per device, as each one answers"
    )
    add_ssh_args(p)
    p.set_defaults(func=cmd_poll)
