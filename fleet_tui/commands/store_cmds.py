"""Store subcommands: snapshot, merge, sync, device edit/forget, export.

`export KIND` is shared: another module adds a kind with `register_export_kind(...)` at import
time (every command module is imported before arguments are parsed), e.g.
    register_export_kind("racks", "rack elevations", export_racks)   # fn(store, args, out)
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    fail,
    open_db,
    output_problem,
    refuse_readonly,
)
from fleet_tui.commands._ssh_args import add_ssh_args, connect_options
from fleet_tui.core.deploy.carry import carried_beside
from fleet_tui.core.export import written_whole
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.sync.carried import merge_carrying, snapshot_with_releases
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.text import when

ExportFn = Callable[[Store, argparse.Namespace, IO[str]], int]


@dataclass(frozen=True)
class ExportKind:
    help: str
    run: ExportFn


EXPORT_KINDS: dict[str, ExportKind] = {}


def register_export_kind(name: str, help: str, run: ExportFn) -> None:
    EXPORT_KINDS[name] = ExportKind(help, run)


# ---- snapshot / merge / sync -------------------------------------------------------------


def cmd_snapshot(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser()
    if out.exists() and not args.force:
        return fail(f"{out}: exists (use --force to replace it)", EXIT_USAGE)
    if problem := output_problem(out):  # an unmounted USB stick is not a folder to make
        return fail(f"snapshot: {problem}")
    carried = carried_beside(out)
    if args.with_releases and carried.exists() and not args.force:
        return fail(f"{carried}: exists (use --force to replace it)", EXIT_USAGE)
    try:
        with open_db(args, writes=False) as store:
            if not args.with_releases:
                path = Exchange(store).snapshot(out)
                if carried.is_dir():  # --force: no stale content beside the new snapshot
                    shutil.rmtree(carried)
            else:
                path, releases, blobs = snapshot_with_releases(store, out)
    except StoreError as e:
        return fail(str(e))
    print(f"snapshot written: {path}")
    if args.with_releases:
        print(f"release content: {releases} releases, {blobs} files in {carried_beside(path)}")
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    if not args.dry_run and refuse_readonly(args, "merge"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=not args.dry_run) as store:
            report, content = merge_carrying(store, args.peer, dry_run=args.dry_run)
            if not args.dry_run:
                got = f", release content of {len(content.got)}" if content and content.got else ""
                EventLog(store).record(
                    None, "merge", f"merged {args.peer}: {report.changed} rows{got}"
                )
    except StoreError as e:
        if args.json:
            print(json.dumps({"ok": False, "error": str(e)}))
        return fail(str(e))
    carried = {"releases_here": content.got if content else []}
    if args.json:
        print(json.dumps({"ok": True, **report.to_dict(), **carried}, default=str))
    else:
        print("\n".join(report.lines()))
        if content is not None and content.got:
            verb = "would come" if args.dry_run else "now here"
            print(f"  release content {verb}: {content.names()}")
    return EXIT_PARTIAL if report.corruption else EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    if not args.dry_run and refuse_readonly(args, "sync"):
        return EXIT_FAILURE
    from fleet_tui.core.sync.ssh import SyncError, preview_target, sync_target

    ssh = connect_options(args)  # the same flags and options as poll, discover and trust

    def notice(message: str) -> None:  # a host key pinned on first use, like ssh's warning
        print(f"fleet-tui: {message}", file=sys.stderr)

    try:
        with open_db(args, writes=not args.dry_run) as store:
            if args.dry_run:
                preview = preview_target(
                    store, args.target, args.port, ssh, notice, args.create_mailbox
                )
                print("\n".join(preview.lines()))
                return EXIT_OK
            result = sync_target(store, args.target, args.port, ssh, notice, args.create_mailbox)
            changed = result.report.changed if result.report else 0
            EventLog(store).record(
                None,
                "sync",
                f"synced with {result.target}: {changed} rows in, {result.pushed_rows} out",
            )
    except (StoreError, SyncError) as e:
        return fail(str(e))
    print("\n".join(result.lines()))
    return EXIT_PARTIAL if result.partial else EXIT_OK


# ---- conflicts ------------------------------------------------------------------------------


def cmd_conflicts(args: argparse.Namespace) -> int:
    """List the constraint conflicts, or resolve one by naming the placement (or rack item)
    that stays."""
    from fleet_tui.core.sync.resolve import choices, describe, resolve

    resolving = getattr(args, "conflicts_cmd", None) == "resolve"
    if resolving and refuse_readonly(args, "conflicts resolve"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False, readonly=not resolving) as store:
            found = PeerMerge(store).conflicts()
            if resolving:
                match = [c for c in found if c.subject == args.subject]
                if not match:
                    return fail(f"no conflict about {args.subject!r} (see `fleet-tui conflicts`)")
                removed = resolve(store, match[0], args.keep)
                print(f"{args.subject}: kept {args.keep}, removed {', '.join(removed)}")
                return EXIT_OK
            rows: list[dict[str, Any]] = [
                {
                    "kind": c.kind,
                    "subject": c.subject,
                    "what": describe(c),
                    "choices": [
                        {
                            "placement": ch.placement,
                            "serial": ch.serial,
                            "where": ch.where,
                            "device": ch.device,
                            "table": ch.table,
                        }
                        for ch in choices(store, c)
                    ],
                }
                for c in found
            ]
    except StoreError as e:
        return fail(str(e))
    if args.json:
        print(json.dumps(rows))
    elif not rows:
        print("no conflicts")
    for row in [] if args.json else rows:
        print(f"{row['subject']}: {row['what']}")
        for ch in row["choices"]:
            print(f"  --keep {ch['placement']}  {ch['device']} at {ch['where']}")
    return EXIT_OK


# ---- devices --------------------------------------------------------------------------------


def _find(store: Store, ref: str) -> Any:
    dev = DeviceBook(store).find(ref)
    if dev is None:
        fail(f"no device {ref!r} (give a serial, hostname or address)")
    return dev


def cmd_device_edit(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "device edit"):
        return EXIT_FAILURE
    fields: dict[str, object] = {}
    if args.label is not None:
        fields["label"] = args.label
    if args.note is not None:
        fields["notes"] = args.note
    try:
        with open_db(args, writes=False) as store:
            dev = _find(store, args.ref)
            if dev is None:
                return EXIT_FAILURE
            if args.tag or args.untag or args.clear_tags:
                tags = set() if args.clear_tags else set(dev.tags)
                fields["tags"] = sorted((tags | set(args.tag)) - set(args.untag))
            if not fields:
                return fail(
                    "nothing to change (give --label, --note, --tag or --untag)", EXIT_USAGE
                )
            DeviceBook(store).upsert(dev.serial, **fields)
            print(f"{dev.serial}: updated {', '.join(sorted(fields))}")
    except StoreError as e:
        return fail(str(e))
    return EXIT_OK


def cmd_device_forget(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "device forget"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            dev = _find(store, args.ref)
            if dev is None:
                return EXIT_FAILURE
            DeviceBook(store).forget(dev.serial)
            EventLog(store).record(dev.serial, "forget", "forgotten from the command line")
            print(f"{dev.serial}: forgotten ({dev.hostname or dev.address or 'no name'})")
    except StoreError as e:
        return fail(str(e))
    return EXIT_OK


# ---- export ----------------------------------------------------------------------------------

DEVICE_CSV_COLUMNS = (
    "serial",
    "hostname",
    "address",
    "port",
    "user",
    "model",
    "revision",
    "os_name",
    "kernel",
    "arch",
    "agent_version",
    "last_seen",
    "label",
    "notes",
    "tags",
    "mac",
)


def export_devices(store: Store, args: argparse.Namespace, out: IO[str]) -> int:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(DEVICE_CSV_COLUMNS)
    for d in DeviceBook(store).all():  # ordered by hostname, then serial: stable
        row = d.model_dump()
        if row["last_seen"] is not None:
            row["last_seen"] = when(row["last_seen"])  # local, with its zone: as every CSV
        row["tags"] = ";".join(row["tags"])
        w.writerow(["" if row[c] is None else row[c] for c in DEVICE_CSV_COLUMNS])
    return EXIT_OK


register_export_kind("devices", "every known device, one row each", export_devices)


def cmd_export(args: argparse.Namespace) -> int:
    kind = EXPORT_KINDS.get(args.kind)
    if kind is None:
        known = ", ".join(sorted(EXPORT_KINDS))
        return fail(f"export: unknown kind {args.kind!r} (known: {known})", EXIT_USAGE)
    out = Path(args.out).expanduser() if args.out else None
    if out is not None and (problem := output_problem(out)):
        return fail(f"export: {problem}")
    try:
        with open_db(args, writes=False, readonly=True) as store:
            if out is None:
                return kind.run(store, args, sys.stdout)
            with written_whole(out, replace=True) as f:  # a failed export leaves no half file
                return kind.run(store, args, f)
    except StoreError as e:
        return fail(str(e))
    except OSError as e:
        return fail(f"export: {out}: {e.strerror or e}")


# ---- registration --------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("snapshot", help="write a consistent copy of the database (for a USB stick)")
    p.add_argument("out", metavar="OUT.db")
    p.add_argument("--force", action="store_true", help="replace OUT.db if it exists")
    p.add_argument(
        "--with-releases",
        action="store_true",
        help="also carry the releases' files, in OUT.db.releases/ beside it (merge brings "
        "them in, each file verified by sha256)",
    )
    p.set_defaults(func=cmd_snapshot)

    p = sub.add_parser("merge", help="merge a peer's snapshot into this database")
    p.add_argument("peer", metavar="PEER.db")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("sync", help="exchange changes both ways with a copy kept over SSH")
    p.add_argument(
        "target",
        metavar="[user@]host[:path]",
        help="the shared directory on a host (default path: ~/fleet-tui-sync); "
        "also ssh://[user@]host[:port]/path",
    )
    p.add_argument("-p", "--port", type=int, default=None, help="SSH port")
    p.add_argument(
        "--dry-run", action="store_true", help="show what would come in and go out; change nothing"
    )
    p.add_argument(
        "--create-mailbox",
        action="store_true",
        help="start the shared directory if it is not there (only the default one is made "
        "without this: a mistyped path must not become a mailbox nobody else reads)",
    )
    add_ssh_args(
        p,
        "The host's key is pinned in the fleet database like a Pi's: the first connection "
        "pins it (and says so), a changed key is refused until `fleet-tui trust HOST --repin`. "
        "~/.ssh/known_hosts can only refuse: a host it lists must offer a key listed there. "
        "ProxyJump in the config applies.",
    )
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser(
        "conflicts",
        help="placement and rack-unit conflicts left by merges; `resolve` keeps one of them",
    )
    p.add_argument("--json", action="store_true", help="one JSON list")
    csub = p.add_subparsers(dest="conflicts_cmd", metavar="ACTION")
    r = csub.add_parser(
        "resolve", help="keep one placement or rack item, remove what it conflicts with (logged)"
    )
    r.add_argument(
        "subject", metavar="SLOT|SERIAL|UNIT", help="as listed: rack/unit/slot, serial, rack/unit"
    )
    r.add_argument(
        "--keep", required=True, metavar="ID", help="the placement or rack item that stays"
    )
    p.set_defaults(func=cmd_conflicts)

    p = sub.add_parser("device", help="edit or forget one device")
    dsub = p.add_subparsers(dest="device_cmd", metavar="ACTION", required=True)
    e = dsub.add_parser("edit", help="set label, notes, tags")
    e.add_argument("ref", metavar="HOST|SERIAL")
    e.add_argument("--label")
    e.add_argument("--note", help="replace the notes")
    e.add_argument("--tag", action="append", default=[], help="add a tag (repeatable)")
    e.add_argument("--untag", action="append", default=[], help="remove a tag (repeatable)")
    e.add_argument("--clear-tags", action="store_true", help="remove every tag first")
    e.set_defaults(func=cmd_device_edit)
    f = dsub.add_parser("forget", help="forget a device (it comes back if it answers again)")
    f.add_argument("ref", metavar="HOST|SERIAL")
    f.set_defaults(func=cmd_device_forget)

    p = sub.add_parser("export", help="export a report (kinds: see `export --help`)")
    kinds = "; ".join(f"{k}: {v.help}" for k, v in sorted(EXPORT_KINDS.items()))
    p.add_argument("kind", metavar="KIND", help=f"what to export ({kinds}, …)")
    p.add_argument("--csv", action="store_true", help="CSV output (the default)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(func=cmd_export)
