"""`fleet-tui identify|reboot DEVICE…` and `fleet-tui ops`: the CLI twins of the TUI's device
actions and its `:ops` screen. Every one runs through the operation runner (core/ops/), so the
database keeps the operation, its steps and every device's request and outcome.

Exit codes: 0 every device ok, 1 some failed, 2 all failed, cancelled, refused (--readonly) or
not confirmed at the prompt, or a name that matches no device; 64 usage (a name that matches
several devices, no terminal to ask and no --yes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    fail,
    open_db,
    refuse_readonly,
    who,
)
from fleet_tui.commands._operation_run import add_run_args, confirmed, limits, run_operation
from fleet_tui.core.fleet.refs import resolve
from fleet_tui.core.ops.catalogue import kind_of
from fleet_tui.core.ops.device_actions import IDENTIFY_SECONDS
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal, OperationNotFound
from fleet_tui.core.ops.model import OperationRecord, OpStatus, Progress, StepStatus
from fleet_tui.core.ops.runner import OperationRefused, OperationRunner
from fleet_tui.core.racks.walk_blink import walk_groups
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.text import visible, when


# ---- identify / reboot ------------------------------------------------------------------------
def cmd_device_action(args: argparse.Namespace) -> int:
    kind = kind_of(args.command)
    if refuse_readonly(args, kind.name):
        return EXIT_FAILURE
    if not args.device and not args.all:
        return fail(
            f"{kind.name}: name devices (hostname, serial, label, address) or --all", EXIT_USAGE
        )
    try:
        run_limits = limits(args)
    except ValueError as e:
        return fail(f"{kind.name}: {e}", EXIT_USAGE)
    params = {"seconds": args.seconds} if kind.name == "identify" else {}
    try:
        with open_db(args, writes=False) as store:
            devices = DeviceBook(store).all()
            if args.all:
                chosen = devices
            else:
                resolved = resolve(devices, args.device)
                for problem in resolved.problems:
                    fail(f"{kind.name}: {problem}")
                if resolved.problems:  # a name to make exact is a usage error; none known, not
                    return EXIT_USAGE if resolved.ambiguous else EXIT_FAILURE
                chosen = resolved.devices
            if not chosen:
                return fail(f"{kind.name}: no known devices (fleet-tui discover, hosts add)")
            targets = [DeviceTarget(d.serial, d.hostname or d.serial) for d in chosen]
            refused = confirmed(args, kind, [t.hostname for t in targets])
            if refused is not None:
                return refused
            _warn_interrupted(store)
            return run_operation(
                args,
                store,
                lambda runner: runner.start(
                    kind.name, targets, params, force=args.force, limits=run_limits
                ),
            )
    except StoreError as e:
        return fail(str(e))


# ---- ops ----------------------------------------------------------------------------------------
@contextmanager
def _journal(args: argparse.Namespace, write: bool) -> Iterator[OperationJournal]:
    """The journal of the chosen database; operations whose process died are marked
    interrupted first, unless the database is only read."""
    readonly = args.readonly and not write
    with open_db(args, writes=False, readonly=readonly) as store:
        journal = OperationJournal(store)
        if not readonly:
            journal.reap()
        yield journal


def _with_progress(journal: OperationJournal, op: OperationRecord) -> dict[str, object]:
    return {**op.to_json(), "progress": journal.progress(op.id).model_dump()}


def cmd_ops_list(args: argparse.Namespace) -> int:
    try:
        with _journal(args, write=False) as journal:
            if args.json:
                for op in journal.operations(limit=args.limit):
                    print(json.dumps(_with_progress(journal, op), sort_keys=True))
                return EXIT_OK
            # a walkthrough's blinks (one identify per position) fold into one line, so they
            # do not push every other operation out of the list (--all: one line each)
            ops = journal.operations(limit=args.limit if args.all else None)
            groups = walk_groups(ops, fold=not args.all)[: args.limit]
            if not groups:
                print("no operations yet (fleet-tui identify, reboot, or the TUI's i and R)")
                return EXIT_OK
            print(f"{'ID':<20} {'WHEN':<25} {'STATUS':<11} {'WHAT':<22} {'WHO':<16} STEPS")
            for g in groups:
                op = g.newest
                counted = g.summary(Progress.combined(journal.progress(o.id) for o in g.ops))
                print(
                    f"{visible(op.id, 20):<20} {when(op.created):<25} {g.status.value:<11} "
                    f"{visible(g.title, 22):<22} {visible(op.who, 16):<16} {counted}"
                )
            return EXIT_OK
    except StoreError as e:
        return fail(str(e))


def cmd_ops_show(args: argparse.Namespace) -> int:
    try:
        with _journal(args, write=False) as journal:
            op = journal.get(args.id)
            steps = journal.steps(op.id)
            if args.json:
                shown = {**_with_progress(journal, op), "steps": [s.to_json() for s in steps]}
                print(json.dumps(shown, sort_keys=True))
                return EXIT_OK
            print(
                f"{visible(op.id, 40)}  {visible(op.title, 60)}  {op.status.value}  "
                f"by {visible(op.who, 40)} at {when(op.created)}"
            )
            attempt = f"; attempt {op.attempt}" if op.attempt > 1 else ""
            print(f"  {Progress.of(steps).summary()}{attempt}")
            if steps:
                print(f"  {'DEVICE':<20} {'SERIAL':<18} {'STATUS':<11} MESSAGE")
            for s in steps:
                name = visible(s.hostname or s.serial, 24)
                print(
                    f"  {name:<20} {visible(s.serial, 18):<18} {s.status.value:<11} "
                    f"{visible(s.message, 300)}"
                )
            if op.status is OpStatus.INTERRUPTED:
                ref = visible(op.id, 40)
                print(
                    f"resume: fleet-tui ops resume {ref}   ·   dismiss: fleet-tui ops dismiss {ref}"
                )
            return EXIT_OK
    except (StoreError, OperationNotFound) as e:
        return fail(str(e))


def cmd_ops_resume(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "ops resume"):
        return EXIT_FAILURE
    try:
        run_limits = limits(args)
    except ValueError as e:
        return fail(f"ops resume: {e}", EXIT_USAGE)
    try:
        with _journal(args, write=True) as journal:
            op = journal.get(args.id)
            kind = kind_of(op.kind)
            again = {StepStatus.PENDING} | (
                {StepStatus.INTERRUPTED} if args.include_unknown else set()
            )
            names = [s.hostname or s.serial for s in journal.steps(op.id) if s.status in again]
            if op.status is OpStatus.INTERRUPTED and names:
                refused = confirmed(args, kind, names)
                if refused is not None:
                    return refused

            def start(runner: OperationRunner) -> OperationRecord:
                return runner.resume(
                    op.id, include_unknown=args.include_unknown, force=args.force, limits=run_limits
                )

            return run_operation(args, journal.store, start)
    except (StoreError, OperationNotFound) as e:
        return fail(str(e))
    except OperationRefused as e:
        return fail(f"ops resume: {e}", EXIT_USAGE)


def cmd_ops_dismiss(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "ops dismiss"):
        return EXIT_FAILURE
    try:
        with _journal(args, write=True) as journal:
            op = journal.abandon(journal.get(args.id), who())
            print(f"{visible(op.id, 40)}: abandoned; its steps stay in the history")
            return EXIT_OK
    except (StoreError, OperationNotFound) as e:
        return fail(str(e))
    except ValueError as e:
        return fail(f"ops dismiss: {e}", EXIT_USAGE)


def cmd_ops_cancel(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "ops cancel"):
        return EXIT_FAILURE
    try:
        with _journal(args, write=True) as journal:
            op = journal.get(args.id)
            if op.status is not OpStatus.RUNNING:
                return fail(
                    f"ops cancel: {visible(op.id, 40)} is {op.status.value}, not running",
                    EXIT_USAGE,
                )
            journal.request_cancel(op.id)
            print(
                f"{visible(op.id, 40)}: cancel requested; the process running it stops within a second"
            )
            return EXIT_OK
    except (StoreError, OperationNotFound) as e:
        return fail(str(e))


def _warn_interrupted(store: Store) -> None:
    interrupted = OperationJournal(store).reap()
    if interrupted:
        n = len(interrupted)
        print(
            f"fleet-tui: {n} interrupted operation{'s' if n > 1 else ''} "
            f"(newest {interrupted[0].id}): fleet-tui ops",
            file=sys.stderr,
        )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text in (
        ("identify", f"blink the ACT LED of devices (default {IDENTIFY_SECONDS} s) to find them"),
        ("reboot", "reboot devices (asks for the hostname or `reboot N` typed out, or --yes)"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument(
            "device", nargs="*", metavar="DEVICE", help="hostname, serial, label or address"
        )
        p.add_argument("--all", action="store_true", help="every known device")
        if name == "identify":
            p.add_argument(
                "--seconds",
                type=float,
                default=IDENTIFY_SECONDS,
                metavar="S",
                help="how long to blink",
            )
        add_run_args(p, danger=kind_of(name).danger)
        p.set_defaults(func=cmd_device_action)

    ops = sub.add_parser(
        "ops", help="operations (identify, reboot, …): list, show, resume, dismiss, cancel"
    )
    # `ops --json` and `ops list --json` alike: the verb's own flags must not reset the parent's
    ops.add_argument("--json", action="store_true", help="one JSON object per operation")
    ops.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    ops.add_argument(
        "--all",
        action="store_true",
        help="one line per operation (a walkthrough's blinks are one line by default)",
    )
    ops.set_defaults(func=cmd_ops_list)
    verbs = ops.add_subparsers(dest="ops_command", metavar="VERB")
    p = verbs.add_parser("list", help="newest first (the default)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.add_argument("--limit", type=int, metavar="N", default=argparse.SUPPRESS)
    p.add_argument("--all", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_ops_list)
    p = verbs.add_parser("show", help="one operation and its steps")
    p.add_argument("id", metavar="ID", help="operation id (its last characters will do)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_ops_show)
    p = verbs.add_parser("resume", help="run an interrupted operation's steps that never ran")
    p.add_argument("id", metavar="ID")
    p.add_argument(
        "--include-unknown",
        action="store_true",
        help="also steps that were running when it was interrupted (may run twice)",
    )
    add_run_args(p, danger=True)
    p.set_defaults(func=cmd_ops_resume)
    p = verbs.add_parser("dismiss", help="mark an interrupted operation abandoned")
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmd_ops_dismiss)
    p = verbs.add_parser("cancel", help="stop an operation another fleet-tui is running")
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmd_ops_cancel)
