"""`fleet-tui config add|list|show|diff|push|rollback`: versioned config files rendered per
device from a template (core/configs/) and pushed through the agent as an operation.

Exit codes: 0 done; 1 some devices failed; 2 every device failed, no such config or
version, refused (--readonly, a "no"); 64 usage (bad name, path, mode, template, filter).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    confirm,
    fail,
    open_db,
    refuse_readonly,
    who,
)
from fleet_tui.commands._operation_run import add_run_args, limits, run_operation
from fleet_tui.commands._ssh_args import add_ssh_args, connection_pool
from fleet_tui.core.configs.book import ConfigBook, ConfigError, ConfigFile
from fleet_tui.core.configs.desired import (
    Planned,
    plan_push,
    plan_rollback,
    push_params,
    render_for,
)
from fleet_tui.core.configs.diff import DeviceView, three_way
from fleet_tui.core.configs.record import reconcile
from fleet_tui.core.configs.targets import matching
from fleet_tui.core.fleet.filters import FilterError
from fleet_tui.core.fleet.pool_caller import PoolCaller
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.model import OperationRecord
from fleet_tui.core.ops.runner import OperationRunner
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.text import visible, when


def _read_template(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"--template {path}: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"--template {path}: not UTF-8 text") from None


def cmd_add(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "config add"):
        return EXIT_FAILURE
    try:
        template = _read_template(args.template)
    except ConfigError as e:
        return fail(f"config add: {e}", EXIT_USAGE)
    try:
        with open_db(args, writes=True) as store:
            config, version, added = ConfigBook(store).add(
                args.name,
                args.path,
                template,
                author=who(),
                source=str(Path(args.template).resolve()),
                validate=args.validate,
                restart=args.restart,
                mode=args.mode,
                owner=args.owner,
                keep=args.keep,
                message=args.message or "",
            )
    except ConfigError as e:
        return fail(f"config add: {e}", EXIT_USAGE)
    except StoreError as e:
        return fail(str(e))
    state = f"version {version.number}" if added else f"unchanged (version {version.number})"
    if args.json:
        print(json.dumps({**config.to_json(), "version": version.number, "added": added}))
    else:
        print(f"config {config.name} ({visible(config.path, 200)}): {state}")
    return EXIT_OK


def _summary(book: ConfigBook, c: ConfigFile) -> dict[str, object]:
    head = book.head(c.name)
    return {
        **c.to_json(),
        "version": head.number if head else None,
        "versions": len(book.versions(c.name)),
        "sha256": head.sha256 if head else None,
    }


def cmd_list(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False, readonly=args.readonly) as store:
            book = ConfigBook(store)
            configs = [_summary(book, c) for c in book.all()]
    except StoreError as e:
        return fail(str(e))
    if args.json:
        for c in configs:
            print(json.dumps(c, sort_keys=True))
        return EXIT_OK
    if not configs:
        print("no config files yet (fleet-tui config add NAME --path … --template FILE)")
        return EXIT_OK
    print(f"{'NAME':<20} {'VER':>3} {'PATH':<32} RESTART")
    for c in configs:
        print(
            f"{visible(c['name'], 20):<20} {c['version'] or '-':>3} "
            f"{visible(c['path'], 32):<32} {visible(c['restart'] or '-', 40)}"
        )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False, readonly=args.readonly) as store:
            book = ConfigBook(store)
            config = book.get(args.name)
            versions = book.versions(config.name)
            head = book.version(config.name, args.version)
    except ConfigError as e:
        return fail(f"config show: {e}")
    except StoreError as e:
        return fail(str(e))
    if args.json:
        shown = {
            **config.to_json(),
            "version": head.number,
            "content": head.content,
            "versions": [
                {
                    "version": v.number,
                    "sha256": v.sha256,
                    "author": v.author,
                    "message": v.message,
                    "time": when(v.time),
                }
                for v in versions
            ],
        }
        print(json.dumps(shown, sort_keys=True))
        return EXIT_OK
    print(f"config {visible(config.name, 64)} → {visible(config.path, 200)}")
    for label, value in (
        ("validate", config.validator),
        ("restart", config.restart),
        ("mode", config.mode),
        ("owner", config.owner),
        ("template", config.template),
        ("keep", str(config.keep) if config.keep else None),
    ):
        if value:
            print(f"  {label + ':':<10} {visible(value, 300)}")
    for v in versions:
        mark = "*" if v.key == head.key else " "
        note = f"  {visible(v.message, 60)}" if v.message else ""
        print(
            f" {mark}v{v.number:<3} {when(v.time)}  {visible(v.author, 30)}  {v.sha256[:12]}{note}"
        )
    print(f"--- version {head.number} ---")
    sys.stdout.write(visible_block(head.content))
    return EXIT_OK


def visible_block(text: str) -> str:
    """A file's text for a terminal: each line with its control characters escaped."""
    lines = text.split("\n")
    out = "\n".join(visible(line, 10_000) for line in lines)
    return out if out.endswith("\n") or not out else out + "\n"


class NoTargets(ConfigError):
    """A filter that matches no known device (not a usage error: exit 2)."""


def _targets(store: Store, text: str) -> list[DeviceRecord]:
    try:
        devices = matching(store, text)
    except FilterError as e:
        raise ConfigError(f"--to {text!r}: {e}") from e
    if not devices:
        raise NoTargets(f"--to {text!r}: matches no known device (fleet-tui hosts, poll)")
    return devices


async def _views(
    args: argparse.Namespace, store: Store, config: ConfigFile, devices: list[DeviceRecord]
) -> list[DeviceView]:
    book = ConfigBook(store)
    rendered = render_for(store, config, book.version(config.name), devices)
    pool = connection_pool(store, args)
    try:
        return await three_way(book, PoolCaller(pool, known_targets(store)), config, rendered)
    finally:
        await pool.close()


def cmd_diff(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False, readonly=args.readonly) as store:
            book = ConfigBook(store)
            if not store.readonly:
                reconcile(book)
            config = book.get(args.name)
            devices = _targets(store, args.to)
            views = asyncio.run(_views(args, store, config, devices))
    except NoTargets as e:
        return fail(f"config diff: {e}")
    except ConfigError as e:
        return fail(f"config diff: {e}", EXIT_USAGE if "--to" in str(e) else EXIT_FAILURE)
    except StoreError as e:
        return fail(str(e))
    for v in views:
        if args.json:
            print(json.dumps({**v.to_json(), "config": config.name}, sort_keys=True))
            continue
        pushed = f"pushed v{v.pushed_number}" if v.pushed else "never pushed"
        print(f"== {visible(v.name, 64)} ({visible(v.serial, 32)}): {v.state}, {pushed}")
        if v.desired_error:
            print(f"   desired: {visible(v.desired_error, 300)}")
        if v.current_error:
            print(f"   on the device: {visible(v.current_error, 300)}")
        if v.current_hash:
            print(f"   on the device: readable only by root; sha256 {v.current_hash[:12]}")
        if v.rolled_back:
            print(f"   rolled back on the Pi: {visible(v.rolled_back.get('reason'), 300)}")
        for title, text in v.diffs(config.path):
            print(f"-- {title}")
            sys.stdout.write(visible_block(text))
    unreadable = sum(1 for v in views if v.current_error)
    if unreadable == len(views):
        return EXIT_FAILURE
    return EXIT_PARTIAL if unreadable else EXIT_OK


def _send(
    args: argparse.Namespace, store: Store, config: ConfigFile, planned: list[Planned], action: str
) -> int:
    """Confirm, run the `config_push` operation, record what each device was given."""
    verb = "roll back" if action == "rollback" else "push"
    print(f"{verb} {config.name} → {config.path} on {len(planned)} device(s):", file=sys.stderr)
    for p in planned[:8]:
        print(f"  {visible(p.hostname, 64)}  v{p.version.number}", file=sys.stderr)
    if len(planned) > 8:
        print(f"  … and {len(planned) - 8} more", file=sys.stderr)
    answer = confirm(args, f"{verb} {config.name}?")
    if answer is None:
        return fail(f"config {action}: needs --yes when not run from a terminal", EXIT_USAGE)
    if not answer:
        return fail(f"config {action}: not confirmed; nothing was done")
    params = push_params(config, planned, action)
    if args.confirm_within is not None:
        params["confirm_s"] = args.confirm_within
    targets = [DeviceTarget(p.serial, p.hostname) for p in planned]
    run_limits = limits(args)

    def start(runner: OperationRunner) -> OperationRecord:
        return runner.start("config_push", targets, params, force=args.force, limits=run_limits)

    try:
        return run_operation(args, store, start)
    finally:
        reconcile(ConfigBook(store))


def cmd_push(args: argparse.Namespace, action: str = "push") -> int:
    if refuse_readonly(args, f"config {action}"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            book = ConfigBook(store)
            reconcile(book)
            config = book.get(args.name)
            devices = _targets(store, args.to)
            if action == "push":
                version = book.version(config.name, args.version)
                planned = plan_push(store, config, version, devices)
            else:
                planned = plan_rollback(store, config, devices, args.version)
            return _send(args, store, config, planned, action)
    except NoTargets as e:
        return fail(f"config {action}: {e}")
    except ConfigError as e:
        return fail(f"config {action}: {e}", EXIT_USAGE)
    except ValueError as e:
        return fail(f"config {action}: {e}", EXIT_USAGE)
    except StoreError as e:
        return fail(str(e))


def cmd_rollback(args: argparse.Namespace) -> int:
    return cmd_push(args, "rollback")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser(
        "config", help="config files rendered per device: add, list, show, diff, push, rollback"
    )
    config.add_argument("--json", action="store_true", help="one JSON object per config")
    config.set_defaults(func=cmd_list)
    verbs = config.add_subparsers(dest="config_command", metavar="VERB")

    p = verbs.add_parser("add", help="add a config, or a new version of its template")
    p.add_argument("name", metavar="NAME", help="a-z, 0-9, '.', '_', '-'")
    p.add_argument("--path", required=True, help="where it goes on the Pi: /etc/… or ~/…")
    p.add_argument("--template", required=True, metavar="FILE", help="${device.hostname} …")
    p.add_argument("--validate", metavar="CMD", help='checks the new file first: "cmd %%s"')
    p.add_argument("--restart", metavar="UNIT|CMD", help="a systemd unit, else a command")
    p.add_argument("--mode", help="octal, e.g. 0644 (default: the old file's, else 0644)")
    p.add_argument("--owner", help="user or user:group (files outside the home; via sudo)")
    p.add_argument(
        "--keep", type=int, metavar="N", help="backups of the replaced file kept per Pi (3)"
    )
    p.add_argument("-m", "--message", help="what changed in this version")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_add)

    p = verbs.add_parser("list", help="the configs (the default)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_list)

    p = verbs.add_parser("show", help="a config, its versions and a version's template")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--version", type=int, metavar="N", help="this version (default: the newest)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_show)

    p = verbs.add_parser("diff", help="per device: desired, last pushed, on the device (drift)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--to", required=True, metavar="FILTER", help="the fleet filter; * = all")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    add_ssh_args(p)
    p.set_defaults(func=cmd_diff)

    for verb, func, text in (
        ("push", cmd_push, "validate on the Pi, back up, swap, restart (asks first)"),
        ("rollback", cmd_rollback, "put a kept version back (default: the one before)"),
    ):
        p = verbs.add_parser(verb, help=text)
        p.add_argument("name", metavar="NAME")
        p.add_argument("--to", required=True, metavar="FILTER", help="the fleet filter; * = all")
        p.add_argument(
            "--version",
            type=int,
            metavar="N",
            help="this version" + (" (default: the newest)" if verb == "push" else ""),
        )
        p.add_argument(
            "--confirm-within",
            type=float,
            metavar="S",
            help="the Pi puts the old file back unless reached again within S s (default 60)",
        )
        add_run_args(p, danger=True)
        p.set_defaults(func=func)
