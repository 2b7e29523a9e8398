"""`fleet-tui config add|list|show|diff|push|rollback`: versioned config files rendered per
device from a template (core/configs/) and pushed through the agent as an operation.

Exit codes: 0 done; 1 some devices failed; 2 every device failed, no such config or
version, refused (--readonly, a "no"); 64 usage (bad name, path, mode, template, filter).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    fail,
    open_db,
    refuse_readonly,
    who,
)
from fleet_tui.core.configs.book import ConfigBook, ConfigError, ConfigFile
from fleet_tui.core.store.database import StoreError
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
