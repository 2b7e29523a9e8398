"""Discovery and connection commands: discover, hosts add|list|import|forget|jump, poll, trust.

Every command takes `--json` (one JSON object per line) and exits 0 on success, 1 on partial
failure (some devices failed), 2 on failure, 64 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import socket
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.discovery import Candidate, InterfaceError
from core.hosts import HostBook, HostEntry, HostSpecError, entry_from_spec, parse_list, parse_spec
from core.pool import ConnectionPool, Timeouts, Unreachable
from core.routes import RouteError, Target, resolve
from core.ssh import ConnectOptions, HostKeyChanged, SSHFailure, fingerprint
from core.store import Store, StoreError
from core.targets import known_targets, target_of
from core.text import visible
from fleet_tui.paths import default_db_path

EXIT_OK, EXIT_PARTIAL, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2, 64
ALL_SITES = "*"


# ---- shared helpers --------------------------------------------------------------------------


def _db(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else default_db_path()


def _fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"fleet-tui: {message}", file=sys.stderr)
    return code


def _emit(args: argparse.Namespace, obj: dict[str, Any], text: str) -> None:
    print(json.dumps(obj, sort_keys=True) if args.json else text, flush=True)


def _readonly(args: argparse.Namespace, what: str) -> bool:
    if getattr(args, "readonly", False):
        _fail(f"{what}: refused, --readonly is on")
        return True
    return False


def _options(args: argparse.Namespace) -> ConnectOptions:
    """The user's OpenSSH config and ssh-agent, plus what the command line adds."""
    options = ConnectOptions(connect_timeout=args.connect_timeout)
    if args.identity:
        options.client_keys = [Path(p).expanduser() for p in args.identity]
    if args.user:
        options.username = args.user
    if args.ssh_config:
        options.config_paths = [Path(args.ssh_config).expanduser()]
    if args.no_ssh_agent:
        options.use_ssh_agent = False
    return options


def _pool(store: Store, args: argparse.Namespace) -> ConnectionPool:
    t = args.connect_timeout
    return ConnectionPool(
        store,
        _options(args),
        timeouts=Timeouts(tcp=min(5.0, t), handshake=t, agent=max(15.0, t), call=max(10.0, t)),
    )


def _confirm(args: argparse.Namespace, question: str) -> bool | None:
    """True/False from the user; None when nobody can answer (no tty and no --yes)."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        return None
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


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


# ---- discover --------------------------------------------------------------------------------


def cmd_discover(args: argparse.Namespace) -> int:
    if args.timeout <= 0 or args.timeout > 120:
        return _fail("discover: --timeout must be between 0 and 120 seconds", EXIT_USAGE)
    try:
        with Store.open(_db(args)) as store:
            return asyncio.run(_discover(args, store))
    except StoreError as e:
        return _fail(str(e))


async def _discover(args: argparse.Namespace, store: Store) -> int:
    from core.finder import discover_here
    from core.jump import JumpDiscoveryError, discover_via

    book = HostBook(store)
    via = args.via or (book.site_jump(args.site) if args.site else None)
    try:
        if via:
            pool = _pool(store, args)
            try:
                found = await discover_via(
                    pool,
                    via,
                    seconds=args.timeout,
                    interfaces=args.interface or None,
                    neighbours=not args.no_neighbours,
                )
            finally:
                await pool.close()
        else:
            found = await discover_here(
                args.timeout, args.interface or None, neighbours=not args.no_neighbours
            )
    except InterfaceError as e:
        return _fail(f"discover: {e}", EXIT_USAGE)
    except JumpDiscoveryError as e:
        return _fail(f"discover: {e}")
    except OSError as e:
        return _fail(f"discover: mDNS failed: {e.strerror or e}")
    save = not args.no_save and not args.readonly
    for c in found:
        if save:
            _save_candidate(book, c, args.site)
        _emit(args, c.to_json(), _candidate_line(c))
    if not found and not args.json:
        print("no candidates found", file=sys.stderr)
    if save and found:
        print(f"{len(found)} candidate(s) saved: `fleet-tui poll` reaches them", file=sys.stderr)
    return EXIT_OK


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


def _candidate_line(c: Candidate) -> str:
    services = ",".join(t.split(".")[0].lstrip("_") for t in (c.service_types or (c.service_type,)))
    via = f" via {c.jump}" if c.jump else ""
    return (
        f"{visible(c.name, 40):<24} {c.endpoint:<22} {services:<22} "
        f"{visible(c.serial or '-', 20):<18} {visible(c.model or '-', 40)}{via}"
    )


# ---- hosts -----------------------------------------------------------------------------------


def cmd_hosts_add(args: argparse.Namespace) -> int:
    if _readonly(args, "hosts add"):
        return EXIT_FAILURE
    try:
        entry = entry_from_spec(args.spec, name=args.name, jump=args.jump, site=args.site)
    except HostSpecError as e:
        return _fail(f"hosts add: {e}", EXIT_USAGE)
    try:
        with Store.open(_db(args)) as store:
            saved = HostBook(store).add(entry)
    except StoreError as e:
        return _fail(str(e))
    _emit(
        args,
        saved.to_json(),
        f"added {visible(saved.id)}" + (f" ({visible(saved.name)})" if saved.name else ""),
    )
    return EXIT_OK


def cmd_hosts_list(args: argparse.Namespace) -> int:
    try:
        with Store.open(_db(args)) as store:
            book = HostBook(store)
            entries = book.entries()
            jumps = book.site_jumps()
            pins = {r["endpoint"]: r for r in store.rows("host_keys")}
            config = ConnectOptions(use_ssh_config=not args.no_ssh_config).ssh_config()
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
                _emit(args, row, text)
            if not args.json:
                for site, jump in sorted(jumps.items()):
                    print(
                        f"jump for {'all sites' if site == ALL_SITES else 'site ' + visible(site)}: {visible(jump)}"
                    )
    except StoreError as e:
        return _fail(str(e))
    return EXIT_OK


def cmd_hosts_import(args: argparse.Namespace) -> int:
    if _readonly(args, "hosts import"):
        return EXIT_FAILURE
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            raw = Path(args.file).read_bytes()
            if b"\x00" in raw[:4096]:
                return _fail(f"{args.file}: a binary file, not a host list")
            text = raw.decode("utf-8", errors="replace")
    except OSError as e:
        return _fail(f"{args.file}: cannot read: {e.strerror or e}")
    defaults: dict[str, Any] = {}
    try:
        if args.jump:
            defaults["jump"] = str(parse_spec(args.jump))
    except HostSpecError as e:
        return _fail(f"hosts import: --jump: {e}", EXIT_USAGE)
    if args.site:
        defaults["site"] = args.site
    entries, problems = parse_list(text, args.format, **defaults)
    for p in problems:
        print(f"{args.file}:{p.line}: {p.message}", file=sys.stderr)
    if problems and not args.skip_invalid:
        return _fail(
            f"{args.file}: {len(problems)} bad line(s), nothing imported "
            "(fix them, or pass --skip-invalid to import the good ones)"
        )
    if args.dry_run:
        for entry in entries:
            _emit(args, entry.to_json(), f"would add {visible(entry.id)}")
        return EXIT_PARTIAL if problems else EXIT_OK
    try:
        with Store.open(_db(args)) as store:
            saved = HostBook(store).add_many(entries)
            store.record_event(None, "hosts_imported", f"{len(saved)} host(s) from {args.file}")
    except StoreError as e:
        return _fail(str(e))
    for entry in saved:
        _emit(args, entry.to_json(), f"added {visible(entry.id)}")
    if not args.json:
        print(f"{len(saved)} host(s) imported, {len(problems)} line(s) skipped", file=sys.stderr)
    return EXIT_PARTIAL if problems else EXIT_OK


def cmd_hosts_forget(args: argparse.Namespace) -> int:
    if _readonly(args, "hosts forget"):
        return EXIT_FAILURE
    try:
        with Store.open(_db(args)) as store:
            book = HostBook(store)
            hits = book.find(args.ref)
            if not hits:
                return _fail(
                    f"hosts forget: no host {visible(args.ref)!r} (see `fleet-tui hosts list`)"
                )
            if len(hits) > 1:
                ids = ", ".join(visible(h.id) for h in hits)
                return _fail(
                    f"hosts forget: {visible(args.ref)!r} matches {ids}; give one of them",
                    EXIT_USAGE,
                )
            (entry,) = hits
            answer = _confirm(args, f"Forget host {visible(entry.id)}?")
            if answer is None:
                return _fail("hosts forget: not confirmed (no terminal): pass --yes", EXIT_USAGE)
            if not answer:
                return _fail("hosts forget: not confirmed, nothing changed")
            book.forget(entry.id)
            store.record_event(entry.serial, "host_forgotten", f"{entry.id} forgotten by {_who()}")
    except StoreError as e:
        return _fail(str(e))
    _emit(args, {"forgotten": entry.id}, f"forgotten {visible(entry.id)}")
    return EXIT_OK


def cmd_hosts_jump(args: argparse.Namespace) -> int:
    site = args.site or ALL_SITES
    try:
        with Store.open(_db(args)) as store:
            book = HostBook(store)
            if args.clear or args.spec:
                if _readonly(args, "hosts jump"):
                    return EXIT_FAILURE
                try:
                    book.set_site_jump(site, None if args.clear else args.spec)
                except HostSpecError as e:
                    return _fail(f"hosts jump: {e}", EXIT_USAGE)
                store.record_event(
                    None,
                    "site_jump",
                    f"site {site}: jump {book.site_jump(site) or 'none'} (by {_who()})",
                )
            jump = book.site_jump(site)
    except StoreError as e:
        return _fail(str(e))
    label = "all sites" if site == ALL_SITES else f"site {visible(site)}"
    _emit(
        args,
        {"site": site, "jump": jump},
        f"jump for {label}: {visible(jump) if jump else 'none (direct)'}",
    )
    return EXIT_OK


# ---- poll ------------------------------------------------------------------------------------


def cmd_poll(args: argparse.Namespace) -> int:
    if not 1 <= args.concurrency <= 1024:
        return _fail("poll: --concurrency must be between 1 and 1024", EXIT_USAGE)
    targets: list[Target] = []
    try:
        for spec in args.host or []:
            targets.append(Target.parse(spec, jump=args.jump))
    except RouteError as e:
        return _fail(f"poll: {e}", EXIT_USAGE)
    try:
        with Store.open(_db(args)) as store:
            if not targets:
                targets = known_targets(store)
            if not targets:
                return _fail(
                    "poll: no known devices (run `fleet-tui discover` or `fleet-tui hosts add`)"
                )
            return asyncio.run(_poll(args, store, targets))
    except StoreError as e:
        return _fail(str(e))


async def _poll(args: argparse.Namespace, store: Store, targets: Sequence[Target]) -> int:
    from core.poll import poll

    pool = _pool(store, args)
    ok = failed = 0
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
            _emit(args, row.to_json(), _poll_line(row.to_json()))
    finally:
        await pool.close()
    if not args.json:
        print(f"{ok} reachable, {failed} unreachable", file=sys.stderr)
    if failed == 0:
        return EXIT_OK
    return EXIT_PARTIAL if ok else EXIT_FAILURE


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


# ---- trust -----------------------------------------------------------------------------------


def cmd_trust(args: argparse.Namespace) -> int:
    if _readonly(args, "trust"):
        return EXIT_FAILURE
    try:
        with Store.open(_db(args)) as store:
            return asyncio.run(_trust(args, store))
    except StoreError as e:
        return _fail(str(e))


def _trust_target(store: Store, ref: str) -> Target | None:
    """A pinned route key, a hosts-table entry, a known device, or a new [user@]host[:port]."""
    book = HostBook(store)
    jumps = book.site_jumps()
    hits = book.find(ref)
    if len(hits) == 1:
        return target_of(hits[0], jumps)
    if " via " in ref:
        host, _, jump = ref.partition(" via ")
        return Target.parse(host, jump=jump)
    device = store.find_device(ref)
    if device is not None and device.address:
        for t in known_targets(store):
            if t.serial == device.serial:
                return t
        return Target(
            device.address, device.port, device.user, None, device.serial, device.hostname
        )
    try:
        return Target.parse(ref)
    except RouteError:
        return None


async def _trust(args: argparse.Namespace, store: Store) -> int:
    from core.ssh import fetch_host_key

    target = _trust_target(store, args.host)
    if target is None:
        return _fail(
            f"trust: {visible(args.host)!r} is not a known host or a [user@]host[:port]", EXIT_USAGE
        )
    pool = _pool(store, args)
    try:
        route = pool.route(target)
        tunnel = await pool.jump_connection(route.jump) if route.jump else None
        offered = await fetch_host_key(route, pool.options, tunnel=tunnel)
        key = route.key
        pin = pool.trust.pin(key)
        info: dict[str, Any] = {
            "host": key,
            "offered": fingerprint(offered),
            "pinned": fingerprint(pin.key) if pin else None,
        }
        if pin is not None and pin.key.split()[:2] == offered.split()[:2]:
            _emit(
                args, {**info, "action": "none"}, f"{key}: already trusted ({fingerprint(offered)})"
            )
            return EXIT_OK
        if pin is None:
            answer = _confirm(args, f"Trust {key} with host key {fingerprint(offered)}?")
            if answer is None:
                return _fail("trust: not confirmed (no terminal): pass --yes", EXIT_USAGE)
            if not answer:
                return _fail("trust: not confirmed, nothing changed")
            store.pin_host_key(key, offered, serial=target.serial, reason=f"trusted by {_who()}")
            store.record_event(
                target.serial,
                "host_key_trusted",
                f"{key}: {fingerprint(offered)} trusted by {_who()}",
            )
            return await _verify(args, pool, target, {**info, "action": "pinned"})
        refusal = HostKeyChanged(
            key, pin.key, offered, pinned_serial=pin.serial, claimed_serial=target.serial
        )
        refusal = await pool.explain(refusal, target, route)
        print(str(refusal), file=sys.stderr)
        if not args.repin:
            if args.json:
                _emit(args, {**info, "action": "refused", "diagnosis": refusal.diagnosis}, "")
            return _fail(
                f"trust: {key} offers a different key; nothing changed (re-pin with --repin)"
            )
        answer = _confirm(
            args, f"Re-pin {key}: replace {fingerprint(pin.key)} with {fingerprint(offered)}?"
        )
        if answer is None:
            return _fail("trust --repin: not confirmed (no terminal): pass --yes", EXIT_USAGE)
        if not answer:
            return _fail("trust --repin: not confirmed, nothing changed")
        message = pool.trust.repin(key, offered, pin.serial, who=_who())
        print(message, file=sys.stderr)
        return await _verify(
            args,
            pool,
            target,
            {**info, "action": "repinned", "diagnosis": refusal.diagnosis},
            previous_serial=pin.serial,
        )
    except (SSHFailure, RouteError, OSError) as e:
        return _fail(f"trust: {e}")
    finally:
        await pool.close()


async def _verify(
    args: argparse.Namespace,
    pool: ConnectionPool,
    target: Target,
    info: dict[str, Any],
    previous_serial: str | None = None,
) -> int:
    """Connect with the new pin: the agent's serial says whose key we just trusted."""
    try:
        link = await pool.link(target, retry_now=True)
    except (Unreachable, HostKeyChanged) as e:
        _emit(args, {**info, "verified": False, "error": str(e)}, f"pinned; could not verify: {e}")
        return EXIT_PARTIAL
    serial = link.facts.serial
    note = ""
    if previous_serial and serial and serial != previous_serial:
        note = f" — NOT the serial pinned before ({previous_serial})"
    elif previous_serial and serial == previous_serial:
        note = " (same serial as before: a re-imaged card)"
    _emit(
        args,
        {**info, "verified": True, "serial": serial},
        f"{link.route.key}: pinned {info['offered']}, answers as serial {serial}{note}",
    )
    return EXIT_OK


# ---- registration ----------------------------------------------------------------------------


def _ssh_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SSH (defaults: ~/.ssh/config and ssh-agent)")
    g.add_argument(
        "-i", "--identity", action="append", metavar="FILE", help="private key (repeatable)"
    )
    g.add_argument(
        "-l",
        "--user",
        metavar="USER",
        help="login user when neither the host nor the config names one",
    )
    g.add_argument(
        "-F", "--ssh-config", metavar="FILE", help="OpenSSH config file instead of ~/.ssh/config"
    )
    g.add_argument("--no-ssh-agent", action="store_true", help="do not use ssh-agent")
    g.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="per connection step (default 10)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "discover", help="find Pis: mDNS and the neighbour table, here or through a jump host"
    )
    p.add_argument(
        "--timeout", type=float, default=3.0, metavar="S", help="listen for S seconds (default 3)"
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
    _ssh_args(p)
    p.set_defaults(func=cmd_discover)

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
        "import", help="import a text list (one [user@]host[:port] [name] a line) or a CSV"
    )
    im.add_argument("file", metavar="FILE", help="the list ('-' for standard input)")
    im.add_argument("--format", choices=("auto", "text", "csv"), default="auto")
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
    _ssh_args(p)
    p.set_defaults(func=cmd_poll)

    p = sub.add_parser(
        "trust", help="pin a host's key; --repin replaces a changed one (asks first)"
    )
    p.add_argument("host", metavar="HOST")
    p.add_argument(
        "--repin", action="store_true", help="replace the pinned key with the one offered now"
    )
    p.add_argument("-y", "--yes", action="store_true", help="do not ask")
    p.add_argument("--json", action="store_true")
    _ssh_args(p)
    p.set_defaults(func=cmd_trust)
