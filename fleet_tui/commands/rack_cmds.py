"""`fleet-tui rack add|list|show|tray|item|free|import|export`, `fleet-tui place` and
`fleet-tui unplace`: the CLI twins of the rack screens (core/racks/).

Exit codes: 0 done; 1 an import with --skip-invalid that skipped rows; 2 refused (unknown rack
or device, unit out of range, slot taken, bad layout rows, --readonly); 64 usage (a malformed
RACK:UNIT[/SLOT], a name that matches several devices)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    emit,
    fail,
    open_db,
    output_problem,
    refuse_readonly,
)
from fleet_tui.commands._rack_text import elevation_json, elevation_lines
from fleet_tui.commands.store_cmds import register_export_kind
from fleet_tui.core.export import write_csv, written_whole
from fleet_tui.core.fleet.refs import resolve
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.layout import load_elevation, load_elevations
from fleet_tui.core.racks.layout_csv import LayoutCsvRow, import_layout, layout_rows
from fleet_tui.core.racks.model import ITEM_KINDS, REAR, RackInfo
from fleet_tui.core.racks.spot import SpotError, parse_spot
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.text import visible


def _read(args: argparse.Namespace) -> Store:
    return open_db(args, writes=False, readonly=True)


def _rack_name(book: RackBook, rack: RackInfo) -> str:
    """How to name a rack in a file: its name, or ROOM/NAME when another room has one so."""
    return book.refs().get(rack.id, rack.name)


# ---- rack add / list / show ------------------------------------------------------------------
def cmd_rack_add(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "rack add"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=True) as store:
            book = RackBook(store)
            rid = book.add_rack(
                args.name,
                room=args.room,
                site=args.site,
                height_u=args.height,
                top_down=args.top_down,
                budget_w=args.budget_w,
                notes=args.notes or "",
            )
            rack = book.find_rack(rid)
    except (RackError, StoreError) as e:
        return fail(f"rack add: {e}")
    emit(
        args,
        rack.to_json(),
        f"rack {visible(rack.name)} added: {rack.height_u}U, room {visible(rack.room)}, "
        f"site {visible(rack.site)}",
    )
    return EXIT_OK


def cmd_rack_list(args: argparse.Namespace) -> int:
    try:
        with _read(args) as store:
            elevations = load_elevations(store, devices={})
    except StoreError as e:
        return fail(str(e))
    if args.json:
        for el in elevations:
            obj = {
                **el.rack.to_json(),
                "devices": len(el.placements),
                "free_units": len(el.free_units()),
            }
            print(json.dumps(obj, sort_keys=True))
        return EXIT_OK
    if not elevations:
        print("no racks yet (fleet-tui rack add NAME --room ROOM --site SITE)")
        return EXIT_OK
    print(f"{'RACK':<16} {'ROOM':<16} {'SITE':<16} {'U':>3} {'FREE':>4} {'PIS':>4}")
    for el in elevations:
        r = el.rack
        print(
            f"{visible(r.name, 16):<16} {visible(r.room, 16):<16} {visible(r.site, 16):<16} "
            f"{r.height_u:>3} {len(el.free_units()):>4} {len(el.placements):>4}"
        )
    return EXIT_OK


def cmd_rack_show(args: argparse.Namespace) -> int:
    try:
        with _read(args) as store:
            rack = RackBook(store).find_rack(args.name)
            elevation = load_elevation(store, rack.id)
    except (RackError, StoreError) as e:
        return fail(f"rack show: {e}")
    if args.json:
        print(json.dumps(elevation_json(elevation), sort_keys=True))
    else:
        print("\n".join(elevation_lines(elevation)))
    return EXIT_OK


# ---- trays and equipment ---------------------------------------------------------------------
def cmd_rack_tray(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "rack tray"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            book = RackBook(store)
            rack = book.find_rack(args.name)
            book.set_tray(rack.id, args.unit, args.slots)
    except (RackError, StoreError) as e:
        return fail(f"rack tray: {e}")
    shape = f"a {args.slots}-slot tray" if args.slots > 1 else "a full-width unit"
    emit(
        args,
        {"rack": rack.name, "unit": args.unit, "slots": max(args.slots, 0)},
        f"{visible(rack.name)} U{args.unit} is {shape}",
    )
    return EXIT_OK


def cmd_rack_item(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "rack item"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            book = RackBook(store)
            rack = book.find_rack(args.name)
            item_id = book.add_item(
                rack.id, args.unit, height_u=args.height, kind=args.kind, label=args.label
            )
    except (RackError, StoreError) as e:
        return fail(f"rack item: {e}")
    top = args.unit + args.height - 1
    span = f"U{args.unit}" if top == args.unit else f"U{args.unit}-U{top}"
    emit(
        args,
        {
            "id": item_id,
            "rack": rack.name,
            "unit": args.unit,
            "height_u": args.height,
            "kind": args.kind,
            "label": args.label,
        },
        f"{args.kind} {visible(args.label)!r} in {visible(rack.name)} {span}",
    )
    return EXIT_OK


# ---- free space --------------------------------------------------------------------------------
def cmd_rack_free(args: argparse.Namespace) -> int:
    try:
        with _read(args) as store:
            book = RackBook(store)
            rack_id = book.find_rack(args.rack).id if args.rack else None
            runs = book.free_space(
                room=args.room, rack_id=rack_id, trays=args.trays, tray_u=args.tray_u
            )
            best = (
                [] if runs else book.free_space(room=args.room, rack_id=rack_id, tray_u=args.tray_u)
            )
    except (RackError, StoreError) as e:
        return fail(f"rack free: {e}")
    if args.json:
        for r in runs:
            obj = {"rack": r.rack.name, "room": r.rack.room, "first": r.first, "last": r.last}
            print(json.dumps({**obj, "units": r.units, "fits": r.fits}, sort_keys=True))
        return EXIT_OK
    what = f"{args.trays} tray(s) of {args.tray_u}U"
    if not runs:
        most: dict[str, int] = {}
        for r in best:
            most[r.rack.name] = most.get(r.rack.name, 0) + r.fits
        if most:
            name, n = max(most.items(), key=lambda kv: kv[1])
            print(f"no rack has room for {what}: at most {n} in {visible(name)}")
        else:
            print(f"no rack has room for {what}: no free units")
        return EXIT_OK
    print(f"room for {what}:")
    for r in runs:
        print(f"  {visible(r.rack.path, 40):<40} {r.where().split(' ', 1)[1]:<10} {r.fits} tray(s)")
    return EXIT_OK


# ---- place / unplace -----------------------------------------------------------------------------
def _device(store: Store, ref: str, command: str) -> tuple[str, str] | int:
    """(serial, hostname or serial) of the one device `ref` names, else the exit code (after
    saying why)."""
    found = resolve(DeviceBook(store).all(), [ref])
    if found.problems:
        fail(f"{command}: {found.problems[0]}")
        return EXIT_USAGE if found.ambiguous else EXIT_FAILURE
    d = found.devices[0]
    return d.serial, d.hostname or d.serial


def cmd_place(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "place"):
        return EXIT_FAILURE
    try:
        rack_ref, unit, slot = parse_spot(args.spot)
    except SpotError as e:
        return fail(f"place: {e}", EXIT_USAGE)
    try:
        with open_db(args, writes=False) as store:
            who = _device(store, args.device, "place")
            if isinstance(who, int):
                return who
            serial, name = who
            book = RackBook(store)
            rack = book.find_rack(rack_ref)
            before = book.placement_of(serial)
            was = book.describe(before) if before else None
            face = REAR if args.rear else "front"
            pid = book.place(serial, rack.id, unit, slot, face=face)
            now = book.placement_of(serial)
            to = book.describe(now) if now else ""
    except (RackError, StoreError) as e:
        return fail(f"place: {e}")
    if before is not None and before.id == pid:
        text = f"{visible(name)} is already in {to}"
    elif was:
        text = f"{visible(name)} moved from {was} to {to}"
    else:
        text = f"{visible(name)} placed in {to}"
    obj = {"id": pid, "serial": serial, "rack": rack.name, "unit": unit, "slot": slot}
    emit(args, {**obj, "face": face, "from": was}, text)
    return EXIT_OK


def cmd_unplace(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "unplace"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=False) as store:
            book = RackBook(store)
            if book.placement_of(args.device.strip()) is not None:  # also a planned serial
                serial, name = args.device.strip(), args.device.strip()
                known = DeviceBook(store).get(serial)
                name = (known.hostname if known else None) or serial
            else:
                who = _device(store, args.device, "unplace")
                if isinstance(who, int):
                    return who
                serial, name = who
            old = book.unplace(serial)
            was = book.describe(old)
    except (RackError, StoreError) as e:
        return fail(f"unplace: {e}")
    emit(args, {"serial": serial, "from": was}, f"{visible(name)} removed from {was}")
    return EXIT_OK


# ---- import / export -------------------------------------------------------------------------------
def cmd_rack_import(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "rack import"):
        return EXIT_FAILURE
    path = Path(args.file).expanduser()
    try:
        with open_db(args, writes=False) as store:
            result = import_layout(store, path, skip_invalid=args.skip_invalid)
    except (RackError, StoreError) as e:
        return fail(f"rack import: {e}")
    unreadable = [p for p in result.problems if p.line == 0]
    if unreadable:
        return fail(f"rack import: {args.file}: {unreadable[0].message}")
    for p in result.problems:
        print(f"{args.file}:{p.line}: {p.message}", file=sys.stderr)
    if result.problems and not result.written and not args.skip_invalid:
        return fail(
            f"{args.file}: {len(result.problems)} problem(s), nothing imported "
            "(fix them, or pass --skip-invalid to import the good rows)"
        )
    if result.problems and not result.written and not result.unchanged:
        return fail(f"{args.file}: no good rows, nothing imported")
    summary = {
        "placed": result.placed,
        "trays": result.trays,
        "items": result.items,
        "unchanged": result.unchanged,
        "skipped": len({p.line for p in result.problems}),
        "unknown_serials": result.unknown,
    }
    text = (
        f"{result.placed} device(s) placed or moved, {result.trays} tray(s), "
        f"{result.items} item(s), {result.unchanged} row(s) already so, "
        f"{summary['skipped']} row(s) skipped"
    )
    if result.unknown:
        text += f"; {len(result.unknown)} serial(s) not seen yet by any agent"
    emit(args, summary, text)
    return EXIT_PARTIAL if result.problems else EXIT_OK


def cmd_rack_export(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser() if args.out else None
    if out is not None and (problem := output_problem(out)):
        return fail(f"rack export: {problem}")
    try:
        with _read(args) as store:
            book = RackBook(store)
            rack = book.find_rack(args.name)
            rows = layout_rows(store, rack.id, _rack_name(book, rack))
    except (RackError, StoreError) as e:
        return fail(f"rack export: {e}")
    if out is None:
        write_csv(LayoutCsvRow, rows, sys.stdout)
        return EXIT_OK
    with written_whole(out, replace=True) as f:
        write_csv(LayoutCsvRow, rows, f)
    print(f"{len(rows)} row(s) written to {out}", file=sys.stderr)
    return EXIT_OK


def export_racks(store: Store, args: argparse.Namespace, out: Any) -> int:
    """`fleet-tui export racks --csv`: every rack's layout in one file (rack import reads it)."""
    book = RackBook(store)
    rows: list[LayoutCsvRow] = []
    for rack in book.racks():
        rows += layout_rows(store, rack.id, _rack_name(book, rack))
    write_csv(LayoutCsvRow, rows, out)
    return EXIT_OK


register_export_kind("racks", "every rack's layout: trays, equipment, devices", export_racks)


# ---- registration ---------------------------------------------------------------------------------
def _unit(text: str) -> int:
    try:
        value = int(text.upper().removeprefix("U"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a unit number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"unit {value} is below 1")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rack", help="racks: add, list, show, tray, item, free, import, export")
    rs = p.add_subparsers(dest="rack_cmd", metavar="ACTION", required=True)

    a = rs.add_parser("add", help="a new rack in a room of a site")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--room", required=True)
    a.add_argument("--site", required=True)
    a.add_argument("--height", type=int, default=42, metavar="U", help="units (default 42)")
    a.add_argument("--top-down", action="store_true", help="U1 is the top unit")
    a.add_argument("--budget-w", type=float, metavar="W", help="power budget in watts")
    a.add_argument("--notes")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_rack_add)

    ls = rs.add_parser("list", help="every rack with its free units and devices")
    ls.add_argument("--json", action="store_true", help="one JSON object a line")
    ls.set_defaults(func=cmd_rack_list)

    s = rs.add_parser("show", help="a rack's elevation, top first (or JSON)")
    s.add_argument("name", metavar="NAME", help="rack name, or ROOM/NAME")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_rack_show)

    t = rs.add_parser("tray", help="declare a unit as a tray of Pi slots (0: full-width again)")
    t.add_argument("name", metavar="NAME")
    t.add_argument("unit", metavar="UNIT", type=_unit)
    t.add_argument("--slots", type=int, required=True, metavar="N", help="1 to 16")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_rack_tray)

    i = rs.add_parser("item", help="equipment that is not a Pi: switch, PDU, shelf …")
    i.add_argument("name", metavar="NAME")
    i.add_argument("unit", metavar="UNIT", type=_unit, help="its lowest unit")
    i.add_argument("--height", type=int, default=1, metavar="U")
    i.add_argument("--kind", required=True, choices=ITEM_KINDS)
    i.add_argument("--label", required=True, metavar="L")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_rack_item)

    f = rs.add_parser("free", help="where N more Pi trays fit")
    f.add_argument("--room", help="only racks of this room")
    f.add_argument("--rack", metavar="NAME", help="only this rack")
    f.add_argument("--trays", type=int, default=1, metavar="N")
    f.add_argument("--tray-u", type=int, default=1, metavar="U", help="units a tray takes")
    f.add_argument("--json", action="store_true", help="one JSON object per free run")
    f.set_defaults(func=cmd_rack_free)

    im = rs.add_parser("import", help="apply a layout CSV (rack, unit, slot, face, serial …)")
    im.add_argument("file", metavar="FILE.csv")
    im.add_argument(
        "--skip-invalid", action="store_true", help="import the good rows, report the bad ones"
    )
    im.add_argument("--json", action="store_true")
    im.set_defaults(func=cmd_rack_import)

    ex = rs.add_parser("export", help="a rack's layout as CSV (rack import reads it back)")
    ex.add_argument("name", metavar="NAME")
    ex.add_argument("--csv", action="store_true", required=True, help="CSV (the one format)")
    ex.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    ex.set_defaults(func=cmd_rack_export)

    pl = sub.add_parser("place", help="put a device in a rack: RACK:UNIT[/SLOT]")
    pl.add_argument("device", metavar="HOST|SERIAL")
    pl.add_argument("spot", metavar="RACK:UNIT[/SLOT]")
    pl.add_argument("--rear", action="store_true", help="at the back of the rack")
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_place)

    un = sub.add_parser("unplace", help="take a device out of its rack")
    un.add_argument("device", metavar="HOST|SERIAL")
    un.add_argument("--json", action="store_true")
    un.set_defaults(func=cmd_unplace)
