"""`fleet-tui trust`: pin a host's SSH key; --repin replaces a changed one (asks first).

The module is named ssh_trust_cmd (not trust_cmd) so that, with the CLI registering modules in
name order, `trust` stays listed right after `poll` in `fleet-tui --help`.

With --json, one JSON object per line; exits 0 on success, 1 when the pin could not be verified,
2 on failure, 64 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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
from fleet_tui.commands._ssh_args import add_ssh_args, connection_pool
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.hosts import HostBook
from fleet_tui.core.net.pool import ConnectionPool, Unreachable
from fleet_tui.core.net.routes import RouteError, Target
from fleet_tui.core.net.ssh import HostKeyChanged, SSHFailure, fingerprint
from fleet_tui.core.net.targets import known_targets, target_of
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.text import visible


def cmd_trust(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "trust"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=True) as store:
            return asyncio.run(_trust(args, store))
    except StoreError as e:
        return fail(str(e))


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
    device = DeviceBook(store).find(ref)
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
    from fleet_tui.core.net.ssh import fetch_host_key

    target = _trust_target(store, args.host)
    if target is None:
        return fail(
            f"trust: {visible(args.host)!r} is not a known host or a [user@]host[:port]", EXIT_USAGE
        )
    pool = connection_pool(store, args)
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
            emit(
                args, {**info, "action": "none"}, f"{key}: already trusted ({fingerprint(offered)})"
            )
            return EXIT_OK
        if pin is None:
            answer = confirm(args, f"Trust {key} with host key {fingerprint(offered)}?")
            if answer is None:
                return fail("trust: not confirmed (no terminal): pass --yes", EXIT_USAGE)
            if not answer:
                return fail("trust: not confirmed, nothing changed")
            HostKeys(store).pin(key, offered, serial=target.serial, reason=f"trusted by {who()}")
            EventLog(store).record(
                target.serial,
                "host_key_trusted",
                f"{key}: {fingerprint(offered)} trusted by {who()}",
            )
            return await _verify(args, pool, target, {**info, "action": "pinned"})
        refusal = HostKeyChanged(
            key, pin.key, offered, pinned_serial=pin.serial, claimed_serial=target.serial
        )
        refusal = await pool.explain(refusal, target, route)
        print(str(refusal), file=sys.stderr)
        if not args.repin:
            if args.json:
                emit(args, {**info, "action": "refused", "diagnosis": refusal.diagnosis}, "")
            return fail(
                f"trust: {key} offers a different key; nothing changed (re-pin with --repin)"
            )
        answer = confirm(
            args, f"Re-pin {key}: replace {fingerprint(pin.key)} with {fingerprint(offered)}?"
        )
        if answer is None:
            return fail("trust --repin: not confirmed (no terminal): pass --yes", EXIT_USAGE)
        if not answer:
            return fail("trust --repin: not confirmed, nothing changed")
        message = pool.trust.repin(key, offered, pin.serial, who=who())
        print(message, file=sys.stderr)
        return await _verify(
            args,
            pool,
            target,
            {**info, "action": "repinned", "diagnosis": refusal.diagnosis},
            previous_serial=pin.serial,
        )
    except (SSHFailure, RouteError, OSError) as e:
        return fail(f"trust: {e}")
    finally:
        await pool.close()


async def _verify(
    args: argparse.Namespace,
    pool: ConnectionPool,
    target: Target,
    info: dict[str, Any],
    previous_serial: str | None = None,
) -> int:
    """Connect with the new pin: the agent's serial says whose key we just trusted. A host
    not known as a Pi (no serial pinned or claimed) may run no agent — a jump host, a sync
    mailbox's host —; for it, logging in with the new pin is the check."""
    try:
        link = await pool.link(target, retry_now=True)
    except (Unreachable, HostKeyChanged) as e:
        hostlike = isinstance(e, Unreachable) and not previous_serial and not target.serial
        if hostlike and await _logs_in(pool, target):
            emit(
                args,
                {**info, "verified": True, "serial": None},
                f"{info['host']}: pinned {info['offered']}; logs in, no fleet agent there "
                "(a jump or mailbox host, not a Pi)",
            )
            return EXIT_OK
        emit(args, {**info, "verified": False, "error": str(e)}, f"pinned; could not verify: {e}")
        return EXIT_PARTIAL
    serial = link.facts.serial
    note = ""
    if previous_serial and serial and serial != previous_serial:
        note = f" — NOT the serial pinned before ({previous_serial})"
    elif previous_serial and serial == previous_serial:
        note = " (same serial as before: a re-imaged card)"
    emit(
        args,
        {**info, "verified": True, "serial": serial},
        f"{link.route.key}: pinned {info['offered']}, answers as serial {serial}{note}",
    )
    return EXIT_OK


async def _logs_in(pool: ConnectionPool, target: Target) -> bool:
    """An SSH login with the pin alone (no agent): the check for a jump or mailbox host."""
    try:
        route = pool.route(target)
        tunnel = await pool.jump_connection(route.jump) if route.jump else None
        (await pool.connect_host(route, tunnel)).conn.close()
    except (SSHFailure, RouteError, OSError):
        return False
    return True


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "trust", help="pin a host's key; --repin replaces a changed one (asks first)"
    )
    p.add_argument("host", metavar="HOST")
    p.add_argument(
        "--repin", action="store_true", help="replace the pinned key with the one offered now"
    )
    p.add_argument("-y", "--yes", action="store_true", help="do not ask")
    p.add_argument("--json", action="store_true")
    add_ssh_args(p)
    p.set_defaults(func=cmd_trust)
