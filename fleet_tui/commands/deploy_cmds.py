"""`fleet-tui deploy NAME@VERSION --to FILTER`, `deploy status|pause|resume|abort`, `rollback`,
and `export deployments --csv`: releases rolled out in waves (core/deploy/).

Exit codes: 0 every device on the version; 1 some failed or were refused (partial, stopped,
paused); 2 all failed, aborted, refused (--readonly, not confirmed), unknown release or
deployment; 64 usage (bad filter, bad N|P%, no terminal to ask and no --yes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import IO

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    fail,
    open_db,
    refuse_readonly,
    who,
)
from fleet_tui.commands._operation_run import ask_typed
from fleet_tui.commands._ssh_args import add_ssh_args, connection_pool
from fleet_tui.commands.store_cmds import register_export_kind
from fleet_tui.config import load_config
from fleet_tui.core.deploy.content import ContentError
from fleet_tui.core.deploy.export import DeploymentRow, deployment_rows
from fleet_tui.core.deploy.releases import ReleaseError
from fleet_tui.core.deploy.rollout import DeployEvent, DeployRefused, Options, Rollout
from fleet_tui.core.deploy.start import (
    BY_CHOICES,
    make_options,
    own_previous,
    prepare,
    prepare_chosen,
)
from fleet_tui.core.deploy.steps import DeploymentBook, DeployStatus, tally
from fleet_tui.core.deploy.targets import Chosen, choose
from fleet_tui.core.deploy.waves import WaveError
from fleet_tui.core.export import write_csv
from fleet_tui.core.fleet.filters import FilterError
from fleet_tui.core.fleet.pool_caller import PoolCaller
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.text import visible, when
from fleet_tui.paths import config_file

EXIT_OF = {
    DeployStatus.DONE: EXIT_OK,
    DeployStatus.PARTIAL: EXIT_PARTIAL,
    DeployStatus.STOPPED: EXIT_PARTIAL,
    DeployStatus.PAUSED: EXIT_PARTIAL,
    DeployStatus.ABORTED: EXIT_FAILURE,
    DeployStatus.INTERRUPTED: EXIT_FAILURE,
    DeployStatus.FAILED: EXIT_FAILURE,
}


# ---- deploy / rollback --------------------------------------------------------------------------
def _ask(args: argparse.Namespace, question: str, names: list[str], word: str) -> int | None:
    """None when confirmed (--yes, or `word` typed at the terminal), else an exit code."""
    return ask_typed(args, args.command, question, names, word, "to go on")


def _options(args: argparse.Namespace, kind: str) -> Options:
    return make_options(
        kind,
        args.to,
        canary=args.canary,
        batch=args.batch,
        by=args.by,
        max_failures=args.max_failures,
        pause_after_canary=args.pause_after_canary,
        confirm_s=args.confirm_s,
    )


def _start(args: argparse.Namespace, kind: str, release_ref: str) -> int:
    if refuse_readonly(args, kind):
        return EXIT_FAILURE
    try:
        options = _options(args, kind)
        with open_db(args, writes=False) as store:
            ready = prepare(store, release_ref, args.to, kind)
            refused = _ask(
                args,
                f"{kind.capitalize()} {ready.release.id} to {len(ready.chosen)} device(s) in "
                f"waves (canary {options.canary}, batch {options.batch}); each is switched, "
                "restarted and health-checked:",
                ready.names,
                ready.word,
            )
            if refused is not None:
                return refused
            record = _rollout(args, store, None).create(ready.release, ready.chosen, options)
            return asyncio.run(_follow(args, store, record.id))
    except (WaveError, FilterError) as e:
        return fail(f"{kind}: {e}", EXIT_USAGE)
    except (StoreError, ReleaseError, ContentError, DeployRefused) as e:
        return fail(f"{kind}: {visible(str(e), 300)}")


def cmd_deploy(args: argparse.Namespace) -> int:
    if "@" not in args.release:
        return fail("deploy: name the version: NAME@VERSION (fleet-tui release list)", EXIT_USAGE)
    return _start(args, "deploy", args.release)


def cmd_rollback(args: argparse.Namespace) -> int:
    name, _, version = args.name.partition("@")
    version = args.version or version
    if version:
        return _start(args, "rollback", f"{name}@{version}")
    return _rollback_each(args, name)


def _rollback_each(args: argparse.Namespace, name: str) -> int:
    """Each device back to the version it ran before its current one (asked of each Pi)."""
    if refuse_readonly(args, "rollback"):
        return EXIT_FAILURE
    try:
        options = _options(args, "rollback")
        with open_db(args, writes=False) as store:
            chosen = choose(store, args.to)
            if not chosen:
                return fail(f"rollback: no known device matches {visible(args.to, 80)!r}")
            groups, nothing = asyncio.run(_previous(args, store, name, chosen))
            hosts = {c.device.serial: c.name for c in chosen}
            for serial, why in nothing.items():
                print(
                    f"  {visible(hosts[serial], 24):<24} stays: {visible(why, 200)}",
                    file=sys.stderr,
                )
            if not groups:
                return fail(f"rollback: no device has an older version of {name} to go back to")
            readies = [prepare_chosen(store, f"{name}@{v}", g) for v, g in sorted(groups.items())]
            plan = ", ".join(f"{r.release.version} on {len(r.chosen)}" for r in readies)
            everyone = [n for r in readies for n in r.names]
            refused = _ask(
                args,
                f"Roll {name} back on {len(everyone)} device(s), each to its own previous "
                f"version ({plan}), in waves (canary {options.canary}, batch {options.batch}):",
                everyone,
                f"rollback {name} {len(everyone)}",
            )
            if refused is not None:
                return refused
            codes = []
            for ready in readies:
                record = _rollout(args, store, None).create(ready.release, ready.chosen, options)
                codes.append(asyncio.run(_follow(args, store, record.id)))
            return max(codes)
    except (WaveError, FilterError) as e:
        return fail(f"rollback: {e}", EXIT_USAGE)
    except (StoreError, ReleaseError, ContentError, DeployRefused) as e:
        return fail(f"rollback: {visible(str(e), 300)}")


async def _previous(
    args: argparse.Namespace, store: Store, name: str, chosen: list[Chosen]
) -> tuple[dict[str, list[Chosen]], dict[str, str]]:
    pool = connection_pool(store, args)
    try:
        return await own_previous(PoolCaller(pool, known_targets(store)), name, chosen)
    finally:
        await pool.close()


def _rollout(args: argparse.Namespace, store: Store, caller: PoolCaller | None) -> Rollout:
    cfg, _ = load_config(config_file())
    return Rollout(
        store,
        caller or PoolCaller(connection_pool(store, args), []),
        who=who(),
        policy=cfg.operations,
        on_event=lambda e: _show(args, e),
    )


async def _follow(args: argparse.Namespace, store: Store, dep_id: str) -> int:
    pool = connection_pool(store, args)
    rollout = _rollout(args, store, PoolCaller(pool, known_targets(store)))
    loop = asyncio.get_running_loop()
    task = loop.create_task(rollout.run(dep_id))
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C: abort, journalled, Pis roll back
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, lambda: rollout.book.update(dep_id, control="abort"))
    try:
        done = await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        await rollout.close()
        await pool.close()
    t = rollout.traffic
    if args.json:
        summary = {**done.to_json(), "sent_files": t.files, "sent_bytes": t.bytes}
        print(json.dumps({"event": "finished", "deployment": summary}, sort_keys=True))
    else:
        print(
            f"{done.kind} {visible(done.release_id, 60)}: {done.status.value}: "
            f"{visible(done.message, 300)}; sent {t.files} file(s), {t.bytes} bytes; "
            f"deployment {done.id}",
            file=sys.stderr,
        )
    return EXIT_OF.get(done.status, EXIT_FAILURE)


def _show(args: argparse.Namespace, event: DeployEvent) -> None:
    d = event.deployment
    if args.json:
        print(
            json.dumps(
                {
                    "event": "device" if event.device else "deployment",
                    "deployment": d.id,
                    "status": d.status.value,
                    "wave": d.wave,
                    "serial": event.device,
                    "outcome": event.outcome,
                },
                sort_keys=True,
            ),
            flush=True,
        )
        return
    if event.device is None:
        if d.status is DeployStatus.RUNNING:
            print(f"{d.id}: wave {d.wave + 1} of {len(d.plan.waves)}", file=sys.stderr, flush=True)
        return
    name = d.plan.hostnames.get(event.device, event.device)
    print(f"  {visible(name, 24):<24} {visible(event.outcome, 300)}", flush=True)


# ---- status / pause / resume / abort -------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False, readonly=args.readonly) as store:
            if not args.readonly:
                _rollout(args, store, None).reap()
            book = DeploymentBook(store)
            if args.id is None:
                return _list(args, book)
            d = book.get(args.id)
            devices = book.devices(d)
    except (StoreError, LookupError) as e:
        return fail(f"deploy status: {visible(str(e), 300)}")
    if args.json:
        print(
            json.dumps(
                {
                    **d.to_json(),
                    "counts": tally(devices),
                    "devices": [s.to_json() for s in devices],
                },
                sort_keys=True,
            )
        )
        return EXIT_OK
    print(
        f"{d.id}  {d.kind} {visible(d.release_id, 60)}  {d.status.value}  by {visible(d.who, 40)} at {when(d.created)}"
    )
    if d.message:
        print(f"  {visible(d.message, 300)}")
    counts = tally(devices)
    print(
        f"  {counts['done']} done, {counts['failed']} failed, {counts['refused']} refused by "
        f"pre-flight (nothing changed), {counts['rolled back']} rolled back, "
        f"{counts['pending']} pending"
    )
    print(f"  {'DEVICE':<20} {'WAVE':>4} {'STEP':<9} {'STATUS':<9} {'TIME':>6} MESSAGE")
    for s in devices:
        print(
            f"  {visible(s.hostname, 20):<20} {s.wave + 1:>4} {s.step or '-':<9} {s.status:<9} "
            f"{s.duration:>5.1f}s {visible(s.message, 200)}"
        )
        if s.rollback and s.rollback != s.message:
            print(f"  {'':<20} {'':>4} rollback: {visible(s.rollback, 200)}")
    if d.status in (DeployStatus.PAUSED, DeployStatus.INTERRUPTED):
        print(f"resume: fleet-tui deploy resume {d.id}   ·   abort: fleet-tui deploy abort {d.id}")
    return EXIT_OK


def _list(args: argparse.Namespace, book: DeploymentBook) -> int:
    records = book.all()
    if args.json:
        for d in records:
            print(json.dumps(d.to_json(), sort_keys=True))
        return EXIT_OK
    if not records:
        print("no deployments yet (fleet-tui deploy NAME@VERSION --to FILTER)")
        return EXIT_OK
    print(f"{'ID':<22} {'WHEN':<25} {'WHAT':<9} {'RELEASE':<24} STATUS")
    for d in records:
        print(
            f"{d.id:<22} {when(d.created):<25} {d.kind:<9} {visible(d.release_id, 24):<24} {d.status.value}"
        )
    return EXIT_OK


def cmd_control(args: argparse.Namespace) -> int:
    verb = str(args.deploy_command)
    if refuse_readonly(args, f"deploy {verb}"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            d = _rollout(args, store, None).request(args.id, verb)
    except (StoreError, LookupError) as e:
        return fail(f"deploy {verb}: {visible(str(e), 300)}")
    except DeployRefused as e:
        return fail(f"deploy {verb}: {e}", EXIT_USAGE)
    print(f"{d.id}: {verb} asked ({d.status.value})")
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "deploy resume"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            rollout = _rollout(args, store, None)
            rollout.reap()
            d = DeploymentBook(store).get(args.id)
            if d.status not in (DeployStatus.PAUSED, DeployStatus.INTERRUPTED):
                return fail(f"deploy resume: {d.id} is {d.status.value}", EXIT_USAGE)
            left = [s.hostname for s in DeploymentBook(store).devices(d) if not s.done]
            refused = _ask(args, f"Go on with {d.kind} {d.release_id} on:", left, d.id)
            if refused is not None:
                return refused
            return asyncio.run(_follow(args, store, d.id))
    except (StoreError, LookupError, ContentError) as e:
        return fail(f"deploy resume: {visible(str(e), 300)}")
    except DeployRefused as e:
        return fail(f"deploy resume: {e}", EXIT_USAGE)


# ---- export --------------------------------------------------------------------------------------
def export_deployments(store: Store, args: argparse.Namespace, out: IO[str]) -> int:
    write_csv(DeploymentRow, deployment_rows(store), out)
    return EXIT_OK


register_export_kind(
    "deployments",
    "every device of every deployment: step, status, duration, rollback",
    export_deployments,
)


def _wave_args(p: argparse.ArgumentParser, to_required: bool) -> None:
    p.add_argument(
        "--to",
        required=to_required,
        default=None,
        metavar="FILTER",
        help="the fleet filter (tag:lab, rack:R1, a regex; * = all)",
    )
    p.add_argument(
        "--canary",
        type=int,
        default=1,
        metavar="N",
        help="devices in the first wave (default 1; 0: none)",
    )
    p.add_argument(
        "--batch", default="25%", metavar="N|P%", help="devices per later wave (default 25%%)"
    )
    p.add_argument(
        "--by",
        choices=BY_CHOICES,
        default=None,
        help="rack: at most one device of a rack per wave; outlet: of a power source",
    )
    p.add_argument(
        "--max-failures",
        default="0",
        metavar="N|P%",
        help="failures allowed before it stops (default 0)",
    )
    p.add_argument(
        "--pause-after-canary",
        action="store_true",
        help="stop after the canary; go on with deploy resume",
    )
    p.add_argument(
        "--confirm-s",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a Pi waits for our commit after its health check before it rolls back by itself (default 30)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    p.add_argument("--json", action="store_true", help="progress as JSON lines")
    add_ssh_args(p)


VERBS = {"status": cmd_status, "pause": cmd_control, "abort": cmd_control, "resume": cmd_resume}


def cmd_deploy_or_verb(args: argparse.Namespace) -> int:
    """`deploy NAME@VERSION --to FILTER`, or `deploy status|pause|resume|abort [ID]`."""
    verb = VERBS.get(args.release)
    if verb is not None:
        args.deploy_command = args.release
        if args.id is None and args.release != "status":
            return fail(
                f"deploy {args.release}: name the deployment (deploy status lists them)", EXIT_USAGE
            )
        return verb(args)
    if args.id is not None:
        return fail(f"deploy: unexpected {visible(args.id, 40)!r}", EXIT_USAGE)
    if args.to is None:
        return fail(
            "deploy: --to FILTER is needed (e.g. tag:lab, rack:R1, * for every device)", EXIT_USAGE
        )
    return cmd_deploy(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dep = sub.add_parser(
        "deploy",
        help="deploy NAME@VERSION --to FILTER in waves; deploy status|pause|resume|abort [ID]",
    )
    dep.add_argument("release", metavar="NAME@VERSION|status|pause|resume|abort")
    dep.add_argument(
        "id", nargs="?", metavar="ID", help="the deployment (status, pause, resume, abort)"
    )
    _wave_args(dep, to_required=False)
    dep.set_defaults(func=cmd_deploy_or_verb)

    rb = sub.add_parser("rollback", help="roll a release back to a kept version, in waves")
    rb.add_argument("name", metavar="NAME[@VERSION]")
    rb.add_argument(
        "--version",
        default=None,
        metavar="VERSION",
        help="default: each device's own previous version (asked of the Pi)",
    )
    _wave_args(rb, to_required=True)
    rb.set_defaults(func=cmd_rollback)
