"""`fleet-tui power status|on|off|cycle`: power control through outlets (core/power/).

`on`, `off` and `cycle` are operations of the runner (journalled, JSON lines with --json,
`fleet-tui ops` lists them). Before anything is switched core checks the interlocks; a refusal
names its rule. Each start first reads back the outlets of power operations that were
interrupted, so no half-known state is left behind.

Exit codes: 0 every device ok, 1 some failed, 2 all failed, refused (an interlock, --readonly)
or not confirmed, or a name that matches no device; 64 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    fail,
    open_db,
    refuse_readonly,
)
from fleet_tui.commands._operation_run import (
    add_run_args,
    ask_word,
    confirmed,
    limits,
    run_operation,
)
from fleet_tui.commands._ssh_args import add_ssh_args, connection_pool
from fleet_tui.config import load_config
from fleet_tui.core.fleet.pool_caller import PoolCaller
from fleet_tui.core.fleet.stored_filter import select
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.ops.catalogue import kind_of
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.model import OperationRecord, OpStatus
from fleet_tui.core.ops.power_actions import HARD_QUESTION, hard_word
from fleet_tui.core.ops.runner import OperationRunner
from fleet_tui.core.power.drivers import OutletReading
from fleet_tui.core.power.outlets import Outlet, OutletBook
from fleet_tui.core.power.service import POWER_KINDS, PowerService
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.text import visible
from fleet_tui.paths import config_file

FILTER_HELP = (
    "device names (hostname, serial, label, address), else the fleet filter: "
    "rack:R1 tag:lab model:4B host:pi- !tag:spare, a regex on names"
)


def _chosen(store: Store, args: argparse.Namespace, what: str) -> list[DeviceRecord] | int:
    if args.all or not args.device:
        return DeviceBook(store).all()
    chosen = select(store, args.device)
    if chosen.problem is not None:
        fail(f"{what}: {chosen.problem}")
        return EXIT_USAGE if chosen.usage else EXIT_FAILURE
    return chosen.devices


# ---- status ---------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    try:
        # the states read are kept on the outlets' rows (:power shows them), unless --readonly
        readonly = bool(getattr(args, "readonly", False))
        with open_db(args, writes=False, readonly=readonly) as store:
            chosen = _chosen(store, args, "power status")
            if isinstance(chosen, int):
                return chosen
            names = {d.serial: d.hostname or d.serial for d in chosen}
            outlets = [
                o
                for o in OutletBook(store).all()
                if (not args.device and not args.all) or o.serial in names
            ]
            names |= {d.serial: d.hostname or d.serial for d in DeviceBook(store).all()}
            rows = asyncio.run(_read(store, args, outlets))
    except StoreError as e:
        return fail(str(e))
    if args.json:
        for outlet, reading in rows:
            out = {
                **reading.to_json(),
                "kind": outlet.kind,
                "where": outlet.where,
                "serial": outlet.serial,
                "device": names.get(outlet.serial or ""),
            }
            print(json.dumps(out, sort_keys=True))
        return EXIT_OK
    if not rows:
        print("no outlets (fleet-tui outlet add NAME --kind poe|pdu|relay …)")
        return EXIT_OK
    print(f"{'OUTLET':<16} {'DEVICE':<18} {'STATE':<8} {'POWER':>8}  {'WHERE':<32} DETAIL")
    for outlet, r in rows:
        watts = f"{r.power_w:g} W" if r.power_w is not None else "-"
        device = names.get(outlet.serial or "", "-")
        detail = r.error or r.detail
        print(
            f"{visible(outlet.name, 16):<16} {visible(device, 18):<18} {r.state.value:<8} "
            f"{watts:>8}  {visible(outlet.where, 32):<32} {visible(detail, 80)}"
        )
    return EXIT_OK


async def _read(
    store: Store, args: argparse.Namespace, outlets: list[Outlet]
) -> list[tuple[Outlet, OutletReading]]:
    cfg, _ = load_config(config_file())
    pool = connection_pool(store, args)
    service = PowerService(store, PoolCaller(pool, known_targets(store)), cfg.power)
    try:
        return list(zip(outlets, await service.read(outlets), strict=True))
    finally:
        service.close()
        await pool.close()


# ---- on / off / cycle -----------------------------------------------------------------------
def cmd_power(args: argparse.Namespace) -> int:
    kind = kind_of(f"power_{args.power_command}")
    what = f"power {args.power_command}"
    if refuse_readonly(args, what):
        return EXIT_FAILURE
    if not args.device and not args.all:
        return fail(f"{what}: name devices, give a filter (rack:R1 tag:lab …) or --all", EXIT_USAGE)
    try:
        run_limits = limits(args)
    except ValueError as e:
        return fail(f"{what}: {e}", EXIT_USAGE)
    params: dict[str, object] = {}
    if args.power_command == "on":
        stagger = args.stagger
        if stagger is not None and not 0 <= stagger <= 600:
            return fail(f"{what}: --stagger must be from 0 to 600 seconds", EXIT_USAGE)
        if stagger is not None:
            params["stagger_s"] = stagger
    if args.power_command == "off" and args.hard:
        params["hard"] = True
    if args.power_command == "cycle" and args.deadline is not None:
        if not 1 <= args.deadline <= 3600:
            return fail(f"{what}: --deadline must be from 1 to 3600 seconds", EXIT_USAGE)
        params["deadline_s"] = args.deadline
    try:
        with open_db(args, writes=False) as store:
            chosen = _chosen(store, args, what)
            if isinstance(chosen, int):
                return chosen
            if not chosen:
                return fail(f"{what}: no known devices (fleet-tui discover, hosts add)")
            targets = [DeviceTarget(d.serial, d.hostname or d.serial) for d in chosen]
            hostnames = [t.hostname for t in targets]
            if params.get("hard"):
                refused = _hard_confirmed(args, hostnames)
            else:
                refused = confirmed(args, kind, hostnames)
            if refused is not None:
                return refused
            interrupted = [
                op.model_dump()
                for op in OperationJournal(store).reap()
                if op.kind in POWER_KINDS and op.status is OpStatus.INTERRUPTED
            ]

            async def prepare(power: PowerService) -> int | None:
                for reading in await power.read_back(interrupted):
                    print(
                        f"fleet-tui: after an interrupted power operation, outlet "
                        f"{visible(reading.outlet, 40)} reads {reading.state.value}",
                        file=sys.stderr,
                    )
                refusal = await power.plan_refusal(
                    kind.name, [t.serial for t in targets], confirmed=args.i_mean_it
                )
                if refusal is not None:
                    return fail(f"{what}: refused: {refusal}")
                return None

            def start(runner: OperationRunner) -> OperationRecord:
                return runner.start(kind.name, targets, params, force=args.force, limits=run_limits)

            return run_operation(args, store, start, prepare)
    except StoreError as e:
        return fail(str(e))


def _hard_confirmed(args: argparse.Namespace, hostnames: list[str]) -> int | None:
    """--hard cuts without a shutdown: the word typed out at a terminal; a script must say
    --i-mean-it (a --yes alone is not enough)."""
    if args.i_mean_it:
        return None
    if not sys.stdin.isatty():
        return fail("power off --hard: needs --i-mean-it when not run from a terminal", EXIT_USAGE)
    return ask_word(
        HARD_QUESTION,
        hostnames,
        hard_word(len(hostnames)),
        "power off --hard",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    power = sub.add_parser("power", help="outlet states, and power devices on, off or cycle")
    verbs = power.add_subparsers(dest="power_command", metavar="VERB", required=True)

    p = verbs.add_parser("status", help="every outlet's state, read live")
    p.add_argument("device", nargs="*", metavar="FILTER", help=FILTER_HELP)
    p.add_argument("--all", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="one JSON object per outlet")
    add_ssh_args(p)
    p.set_defaults(func=cmd_status)

    for name, text in (
        ("on", "switch outlets on, staggered, within each rack's power budget"),
        ("off", "shut down over SSH, wait until gone, then cut the outlet (--hard: cut now)"),
        ("cycle", "escalation ladder: SSH reboot, then an outlet off/on if it is not back"),
    ):
        p = verbs.add_parser(name, help=text)
        p.add_argument("device", nargs="*", metavar="FILTER", help=FILTER_HELP)
        p.add_argument("--all", action="store_true", help="every known device")
        p.add_argument(
            "--i-mean-it",
            action="store_true",
            help="confirm a whole rack or more than power.max_devices at once (and --hard)",
        )
        if name == "on":
            p.add_argument(
                "--stagger", type=float, metavar="S", help="seconds between outlets (default 2)"
            )
        if name == "off":
            p.add_argument("--hard", action="store_true", help="cut without a shutdown first")
        if name == "cycle":
            p.add_argument(
                "--deadline", type=float, metavar="S", help="per rung: wait to be back (120)"
            )
        add_run_args(p, danger=True)
        p.set_defaults(func=cmd_power)
