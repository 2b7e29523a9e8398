"""`fleet-tui release add|list|show|fetch`: releases stored content-addressed beside the database.

Exit codes: 0 ok; 2 a bad manifest or archive, an unknown release, --readonly; 64 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fleet_tui.commands._common import EXIT_FAILURE, EXIT_OK, fail, open_db, refuse_readonly, who
from fleet_tui.commands._ssh_args import add_ssh_args, connect_options
from fleet_tui.core.deploy.content import ContentError, manifest_text
from fleet_tui.core.deploy.manifest import ManifestError, parse_manifest
from fleet_tui.core.deploy.releases import ReleaseBook, ReleaseError
from fleet_tui.core.store.database import StoreError
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.text import visible, when


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def cmd_add(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "release add"):
        return EXIT_FAILURE
    source = Path(args.path)
    try:
        parse_manifest(manifest_text(source))  # a bad one is refused before any file is made
        with open_db(args, writes=True) as store:
            record, new = ReleaseBook(store).add(source, who())
    except (ManifestError, ContentError, StoreError) as e:
        return fail(f"release add: {visible(str(e), 400)}")
    except OSError as e:
        return fail(f"release add: {visible(str(e), 400)}")
    if args.json:
        print(json.dumps({**record.to_json(), "new": new}, sort_keys=True))
    else:
        state = "stored" if new else "already stored (same content)"
        print(
            f"{visible(record.id, 80)}: {state}; {record.files} files, {_mb(record.size)}, "
            f"sha256 {record.sha256[:16]}"
        )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False, readonly=True) as store:
            book = ReleaseBook(store)
            records = book.all()
            if args.json:
                for r in records:
                    here = book.content.has_release(r.sha256)
                    print(json.dumps({**r.to_json(), "content_here": here}, sort_keys=True))
                return EXIT_OK
            if not records:
                print("no releases yet (fleet-tui release add PATH)")
                return EXIT_OK
            print(f"{'RELEASE':<32} {'FILES':>5} {'SIZE':>9} {'ADDED':<25} CONTENT")
            for r in records:
                where = "here" if book.content.has_release(r.sha256) else "elsewhere"
                print(
                    f"{visible(r.id, 32):<32} {r.files:>5} {_mb(r.size):>9} "
                    f"{when(r.created):<25} {where}"
                )
    except StoreError as e:
        return fail(str(e))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False, readonly=True) as store:
            book = ReleaseBook(store)
            record = book.get(args.release)
            try:
                files = list(book.files(record).files)
            except ContentError:
                files = []
    except (StoreError, ReleaseError) as e:
        return fail(f"release show: {visible(str(e), 300)}")
    if args.json:
        shown = {**record.to_json(), "file_list": [f.model_dump() for f in files]}
        print(json.dumps(shown, sort_keys=True))
        return EXIT_OK
    m = record.manifest
    print(f"{visible(record.id, 80)}  sha256 {record.sha256}")
    print(f"  added {when(record.created)} by {visible(record.who or '?', 60)}")
    print(
        f"  service: unit={visible(m.service.unit or '-', 80)} start={visible(m.service.start or '-', 120)}"
    )
    health = m.health.http or m.health.command or "(none: the service starting is enough)"
    print(f"  health:  {visible(health, 120)} within {m.health.deadline_s:g} s")
    if m.hooks.pre or m.hooks.post:
        print(
            f"  hooks:   pre={visible(m.hooks.pre or '-', 80)} post={visible(m.hooks.post or '-', 80)}"
        )
    if not files:
        print("  files: not here (added on another laptop)")
    for f in files:
        print(f"  {f.mode:04o} {f.size:>10} {f.sha256[:12]} {visible(f.path, 120)}")
    return EXIT_OK


def cmd_fetch(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "release fetch"):
        return EXIT_FAILURE
    import asyncio

    from fleet_tui.core.sync.fetch import fetch_from
    from fleet_tui.core.sync.ssh import SyncError

    def notice(message: str) -> None:  # a host key pinned on first use, as `sync` says it
        print(f"fleet-tui: {message}", file=sys.stderr)

    try:
        with open_db(args, writes=True) as store:
            book = ReleaseBook(store)
            record = book.get(args.release)
            if book.content.has_release(record.sha256):
                if getattr(args, "json", False):
                    print(json.dumps({"release": record.id, "fetched": False, "here": True}))
                else:
                    print(f"{visible(record.id, 80)}: content already here")
                return EXIT_OK
            got = asyncio.run(
                fetch_from(store, record, args.peer, connect_options(args), args.port, notice)
            )
            if got.got:
                EventLog(store).record(
                    None, "release_fetched", f"{record.id}: content fetched from {got.source}"
                )
    except (StoreError, ReleaseError, SyncError) as e:
        return fail(f"release fetch: {visible(str(e), 400)}")
    if got.refused:
        return fail(f"release fetch: refused, nothing stored: {visible(got.refused[0], 400)}")
    if not got.got:
        return fail(f"release fetch: {visible(record.id, 80)}: its content is not at {got.source}")
    if getattr(args, "json", False):
        out = {"release": record.id, "fetched": True, "here": True, "source": got.source}
        print(json.dumps({**out, "files": got.blobs, "bytes": got.size}))
        return EXIT_OK
    print(
        f"{visible(record.id, 80)}: content fetched from {visible(got.source, 120)}; "
        f"{got.blobs} files ({_mb(got.size)}) verified by sha256"
    )
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rel = sub.add_parser("release", help="releases to deploy: add, list, show, fetch")
    rel.add_argument("--json", action="store_true", help="one JSON object per release")
    rel.set_defaults(func=cmd_list)
    verbs = rel.add_subparsers(dest="release_command", metavar="VERB")
    p = verbs.add_parser("add", help="store a folder or .tar.gz with a fleet-release.toml")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_add)
    p = verbs.add_parser("list", help="every release (the default)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_list)
    p = verbs.add_parser("show", help="one release: manifest and files")
    p.add_argument("release", metavar="NAME[@VERSION]")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_show)
    p = verbs.add_parser(
        "fetch", help="bring a release's files here from a peer (each verified by sha256)"
    )
    p.add_argument("release", metavar="NAME[@VERSION]")
    p.add_argument(
        "--from",
        dest="peer",
        required=True,
        metavar="PEER",
        help="a snapshot written with --with-releases or another fleet database (the content "
        "beside it), a content folder, or a sync mailbox as `sync` takes it: [user@]host[:path]",
    )
    p.add_argument("-p", "--port", type=int, default=None, help="SSH port (a mailbox host)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    add_ssh_args(p, "A mailbox host's key is pinned in the fleet database, as for `sync`.")
    p.set_defaults(func=cmd_fetch)
