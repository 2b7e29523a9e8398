"""`fleet-tui hosts add|list|import|forget|jump`: the hosts to reach and the sites' jump hosts.

Every action takes `--json` (one JSON object per line) and exits 0 on success, 1 on partial
failure (some lines skipped), 2 on failure, 64 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    confirm,
    emit,
    fail,
    open_db,
    refuse_readonly,
    who,
)
from fleet_tui.core.net.hosts import (
    FORMATS,
    HostBook,
    HostSpecError,
    entry_from_spec,
    parse_list,
    parse_spec,
)
from fleet_tui.core.net.routes import RouteError, resolve
from fleet_tui.core.net.ssh import ConnectOptions, fingerprint
from fleet_tui.core.net.targets import target_of
from fleet_tui.core.store.database import StoreError
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.tabular import TableError, decode
from fleet_tui.core.text import visible

ALL_SITES = "*"


def cmd_hosts_add(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "hosts add"):
        return EXIT_FAILURE
    try:
        entry = entry_from_spec(args.spec, name=args.name, jump=args.jump, site=args.site)
    except HostSpecError as e:
        return fail(f"hosts add: {e}", EXIT_USAGE)
    try:
        with open_db(args, writes=True) as store:
            saved = HostBook(store).add(entry)
    except StoreError as e:
        return fail(str(e))
    emit(
        args,
        saved.to_json(),
        f"added {visible(saved.id)}" + (f" ({visible(saved.name)})" if saved.name else ""),
    )
    return EXIT_OK


HOSTS_HEADER = f"{'HOST':<32} {'USER':<8} {'NAME':<20} {'SOURCE':<10} {'SERIAL':<18} HOST KEY"
NO_HOSTS = "no hosts yet — fleet-tui discover or hosts add"


def cmd_hosts_list(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False) as store:
            book = HostBook(store)
            entries = book.entries()
            jumps = book.site_jumps()
            pins = {r["endpoint"]: r for r in store.rows("host_keys")}
            config = ConnectOptions(use_ssh_config=not args.no_ssh_config).ssh_config()
            if not args.json:
                print(HOSTS_HEADER if entries else NO_HOSTS)
            for e in entries:
                target = target_of(e, jumps)
                try:
                    key = resolve(target, config).key
                except RouteError:
                    key = None
                pin = pins.get(key) if key else None
                row = {
                    **e.to_json(),
                    "route": key,
                    "via": target.jump,
                    "host_key": fingerprint(pin["key"]) if pin else None,
                }
                text = (
                    f"{visible(e.id, 60):<32} {visible(e.user or '-', 16):<8} {visible(e.name or '-', 30):<20} "
                    f"{e.source:<10} {visible(e.serial or '-', 20):<18} {'pinned' if pin else 'not pinned'}"
                )
                emit(args, row, text)
            if not args.json:
                for site, jump in sorted(jumps.items()):
                    print(
                        f"jump for {'all sites' if site == ALL_SITES else 'site ' + visible(site)}: {visible(jump)}"
                    )
    except StoreError as e:
        return fail(str(e))
    return EXIT_OK


def cmd_hosts_import(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "hosts import"):
        return EXIT_FAILURE
    try:
        if args.file == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            raw = stdin.read() if stdin is not None else sys.stdin.read().encode()
        else:
            raw = Path(args.file).read_bytes()
        text = decode(raw)
    except OSError as e:
        return fail(f"{args.file}: cannot read: {e.strerror or e}")
    except TableError as e:
        return fail(f"{args.file}: {e}")
    defaults: dict[str, Any] = {}
    try:
        if args.jump:
            defaults["jump"] = str(parse_spec(args.jump))
    except HostSpecError as e:
        return fail(f"hosts import: --jump: {e}", EXIT_USAGE)
    if args.site:
        defaults["site"] = args.site
    entries, problems = parse_list(text, args.format, **defaults)
    for p in problems:
        print(f"{args.file}:{p.line}: {p.message}", file=sys.stderr)
    if problems and not args.skip_invalid:
        return fail(
            f"{args.file}: {len(problems)} bad line(s), nothing imported "
            "(fix them, or pass --skip-invalid to import the good ones)"
        )
    if args.dry_run:
        for entry in entries:
            emit(args, entry.to_json(), f"would add {visible(entry.id)}")
        return EXIT_PARTIAL if problems else EXIT_OK
    try:
        with open_db(args, writes=True) as store:
            saved = HostBook(store).add_many(entries)
            EventLog(store).record(None, "hosts_imported", f"{len(saved)} host(s) from {args.file}")
    except StoreError as e:
        return fail(str(e))
    for entry in saved:
        emit(args, entry.to_json(), f"added {visible(entry.id)}")
    if not args.json:
        print(f"{len(saved)} host(s) imported, {len(problems)} line(s) skipped", file=sys.stderr)
    return EXIT_PARTIAL if problems else EXIT_OK


def cmd_hosts_forget(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "hosts forget"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            book = HostBook(store)
            hits = book.find(args.ref)
            if not hits:
                return fail(
                    f"hosts forget: no host {visible(args.ref)!r} (see `fleet-tui hosts list`)"
                )
            if len(hits) > 1:
                ids = ", ".join(visible(h.id) for h in hits)
                return fail(
                    f"hosts forget: {visible(args.ref)!r} matches {ids}; give one of them",
                    EXIT_USAGE,
                )
            (entry,) = hits
            answer = confirm(args, f"Forget host {visible(entry.id)}?")
            if answer is None:
                return fail("hosts forget: not confirmed (no terminal): pass --yes", EXIT_USAGE)
            if not answer:
                return fail("hosts forget: not confirmed, nothing changed")
            book.forget(entry.id)
            EventLog(store).record(
                entry.serial, "host_forgotten", f"{entry.id} forgotten by {who()}"
            )
    except StoreError as e:
        return fail(str(e))
    emit(args, {"forgotten": entry.id}, f"forgotten {visible(entry.id)}")
    return EXIT_OK


def cmd_hosts_jump(args: argparse.Namespace) -> int:
    site = args.site or ALL_SITES
    try:
        with open_db(args, writes=bool(args.clear or args.spec)) as store:
            book = HostBook(store)
            if args.clear or args.spec:
                if refuse_readonly(args, "hosts jump"):
                    return EXIT_FAILURE
                try:
                    book.set_site_jump(site, None if args.clear else args.spec)
                except HostSpecError as e:
                    return fail(f"hosts jump: {e}", EXIT_USAGE)
                EventLog(store).record(
                    None,
                    "site_jump",
                    f"site {site}: jump {book.site_jump(site) or 'none'} (by {who()})",
                )
            jump = book.site_jump(site)
    except StoreError as e:
        return fail(str(e))
    label = "all sites" if site == ALL_SITES else f"site {visible(site)}"
    emit(
        args,
        {"site": site, "jump": jump},
        f"jump for {label}: {visible(jump) if jump else 'none (direct)'}",
    )
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("hosts", help="hosts to reach: add, list, import, forget, jump")
    hs = p.add_subparsers(dest="hosts_cmd", metavar="ACTION", required=True)
    a = hs.add_parser("add", help="add [user@]host[:port]")
    a.add_argument("spec", metavar="[USER@]HOST[:PORT]")
    a.add_argument("--name", help="display name")
    a.add_argument("--jump", metavar="[USER@]JUMP[:PORT]", help="reach it through this jump host")
    a.add_argument("--site", help="site it belongs to (its jump host applies)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_hosts_add)
    ls = hs.add_parser("list", help="every host, with its route and whether its key is pinned")
    ls.add_argument("--json", action="store_true")
    ls.add_argument(
        "--no-ssh-config", action="store_true", help="show routes without ~/.ssh/config"
    )
    ls.set_defaults(func=cmd_hosts_list)
    im = hs.add_parser(
        "import",
        help="import a text list (one [user@]host[:port] [name] a line) or a CSV/TSV table",
    )
    im.add_argument("file", metavar="FILE", help="the list ('-' for standard input)")
    im.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="auto: a table when the first line names a host column, else a text list; "
        "csv: a table, its delimiter (, ; tab |) read from the header; tsv: tab-separated",
    )
    im.add_argument(
        "--jump", metavar="[USER@]JUMP[:PORT]", help="every host is behind this jump host"
    )
    im.add_argument("--site", help="every host belongs to this site")
    im.add_argument(
        "--skip-invalid", action="store_true", help="import the good lines, report the bad ones"
    )
    im.add_argument("--dry-run", action="store_true", help="check and show, change nothing")
    im.add_argument("--json", action="store_true")
    im.set_defaults(func=cmd_hosts_import)
    f = hs.add_parser("forget", help="forget a host (asks first; --yes to skip)")
    f.add_argument("ref", metavar="HOST|NAME")
    f.add_argument("-y", "--yes", action="store_true")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_hosts_forget)
    j = hs.add_parser("jump", help="show or set the jump host of a site (default: all sites)")
    j.add_argument("spec", nargs="?", metavar="[USER@]JUMP[:PORT]")
    j.add_argument("--site", help=f"the site (default {ALL_SITES!r}: every host without its own)")
    j.add_argument("--clear", action="store_true", help="reach the site directly")
    j.add_argument("--json", action="store_true")
    j.set_defaults(func=cmd_hosts_jump)
