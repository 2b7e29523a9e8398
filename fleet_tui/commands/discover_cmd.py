"""`fleet-tui discover`: find Pis by mDNS and the neighbour table, here or through a jump host.

With --json, one JSON object per candidate; exits 0 on success, 2 on failure, 64 on a usage
error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace

from fleet_tui.commands._common import EXIT_OK, EXIT_USAGE, emit, fail, open_db
from fleet_tui.commands._ssh_args import add_ssh_args, connection_pool
from fleet_tui.core.discovery.mdns import QUIET_S, Candidate, DiscoveryPass, InterfaceError
from fleet_tui.core.net.hosts import HostBook, HostEntry
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.text import visible


def cmd_discover(args: argparse.Namespace) -> int:
    if args.timeout <= 0 or args.timeout > 120:
        return fail("discover: --timeout must be between 0 and 120 seconds", EXIT_USAGE)
    try:
        with open_db(args, writes=not args.no_save and not args.readonly) as store:
            return asyncio.run(_discover(args, store))
    except StoreError as e:
        return fail(str(e))


async def _discover(args: argparse.Namespace, store: Store) -> int:
    from fleet_tui.core.discovery.finder import discover_here
    from fleet_tui.core.discovery.jump import JumpDiscoveryError, discover_via

    book = HostBook(store)
    via = args.via or (book.site_jump(args.site) if args.site else None)
    quiet = None if args.wait else QUIET_S
    try:
        if via:
            pool = connection_pool(store, args)
            try:
                found = await discover_via(
                    pool,
                    via,
                    seconds=args.timeout,
                    interfaces=args.interface or None,
                    neighbours=not args.no_neighbours,
                    quiet=quiet,
                )
            finally:
                await pool.close()
        else:
            found = await discover_here(
                args.timeout,
                args.interface or None,
                neighbours=not args.no_neighbours,
                quiet=quiet,
            )
    except InterfaceError as e:
        return fail(f"discover: {e}", EXIT_USAGE)
    except JumpDiscoveryError as e:
        return fail(f"discover: {e}")
    except OSError as e:
        return fail(f"discover: mDNS failed: {e.strerror or e}")
    save = not args.no_save and not args.readonly
    if found.candidates and not args.json:
        print(CANDIDATES_HEADER)
    for c in found.candidates:
        if save:
            _save_candidate(book, c, args.site)
        emit(args, c.to_json(), _candidate_line(c))
    if args.json:  # the pass itself, last: how long it listened and why it stopped
        emit(args, {"discovery": {**found.summary(), "timeout_s": args.timeout}}, "")
    else:
        print(_pass_line(found, args.timeout), file=sys.stderr)
    if save and found.candidates:
        n = len(found.candidates)
        print(f"{n} candidate(s) saved: `fleet-tui poll` reaches them", file=sys.stderr)
    return EXIT_OK


def _pass_line(found: DiscoveryPass, timeout: float) -> str:
    n = len(found.candidates)
    what = f"{n} candidate(s)" if n else "no candidates found"
    if found.stopped == "quiet":
        why = "the LAN had answered (--wait listens for all of --timeout)"
    else:
        why = f"the --timeout of {timeout:g} s"
    return f"{what} in {found.elapsed_s:.1f} s: stopped at {why}"


def _save_candidate(book: HostBook, c: Candidate, site: str | None) -> None:
    entry = _candidate_entry(c)
    if site:
        entry = replace(entry, site=site)
    # A device that moved (same claimed serial or MAC, other address) replaces its old row.
    for old in book.entries():
        if old.id == entry.id or old.source in ("manual", "import") or old.jump != entry.jump:
            continue
        if (entry.serial and old.serial == entry.serial) or (entry.mac and old.mac == entry.mac):
            book.forget(old.id)
    book.add(entry)


CANDIDATES_HEADER = f"{'NAME':<24} {'ENDPOINT':<22} {'SERVICES':<22} {'SERIAL':<18} MODEL"


def _candidate_line(c: Candidate) -> str:
    services = ",".join(t.split(".")[0].lstrip("_") for t in (c.service_types or (c.service_type,)))
    via = f" via {c.jump}" if c.jump else ""
    return (
        f"{visible(c.name, 40):<24} {c.endpoint:<22} {services:<22} "
        f"{visible(c.serial or '-', 20):<18} {visible(c.model or '-', 40)}{via}"
    )


def _candidate_entry(c: Candidate) -> HostEntry:
    return HostEntry(
        host=c.address,
        port=c.port,
        name=c.name or None,
        jump=c.jump,
        serial=c.serial,
        mac=c.mac,
        source=c.source,
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "discover", help="find Pis: mDNS and the neighbour table, here or through a jump host"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="S",
        help="listen at most S seconds (default 3); it ends sooner once the LAN has answered",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="listen for all of --timeout (slow Wi-Fi, Pis that answer late)",
    )
    p.add_argument(
        "--interface",
        action="append",
        metavar="IP|IFACE",
        help="listen only there (repeatable; default: every interface)",
    )
    p.add_argument(
        "--via",
        metavar="[USER@]JUMP[:PORT]",
        help="discover on the LAN of this jump host (its agent)",
    )
    p.add_argument("--site", metavar="SITE", help="use (and tag hosts with) this site's jump host")
    p.add_argument("--no-neighbours", action="store_true", help="mDNS only")
    p.add_argument(
        "--no-save", action="store_true", help="print only; do not add candidates to the hosts"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per candidate")
    add_ssh_args(p)
    p.set_defaults(func=cmd_discover)
