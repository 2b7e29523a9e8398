"""`fleet-tui audit record`, `fleet-tui export audits` and `fleet-tui report visit`: the CLI
twins of the walkthrough screen (`:walk RACK`) and the site-visit report.

    fleet-tui audit record R2:12/3 --found 1000000012345678   # or an asset tag, or --empty
    fleet-tui export audits --csv --out audits.csv
    fleet-tui report visit --last-visit --md --out visit.md

`audit record` writes one audit row into the rack's open walkthrough (else a new one, or the
one `--session` names). Bad input (an unknown rack, a unit out of range, a code that matches
no device) is one line on stderr, exit 2, and nothing written.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    emit,
    fail,
    open_db,
    output_problem,
    refuse_readonly,
)
from fleet_tui.commands.store_cmds import register_export_kind
from fleet_tui.config import load_config
from fleet_tui.core.export import CsvRow, cell, iso, write_csv, written_whole
from fleet_tui.core.racks.audits import AuditLog, Result
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.known import Known
from fleet_tui.core.racks.layout import load_elevation
from fleet_tui.core.racks.model import where
from fleet_tui.core.racks.spot import SpotError, parse_spot
from fleet_tui.core.racks.visit_report import (
    VisitReport,
    last_visit_end,
    write_visit_csv,
    write_visit_markdown,
)
from fleet_tui.core.racks.walk_order import position_at
from fleet_tui.core.racks.walkthrough import EMPTY, Walkthroughs, classify
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.paths import config_file


# ---- audit record -----------------------------------------------------------------------------
def cmd_audit_record(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "audit record"):
        return EXIT_FAILURE
    cfg, _ = load_config(config_file())
    try:
        rack_ref, unit, slot = parse_spot(args.spot)
    except SpotError as e:
        return fail(f"audit record: {e}", EXIT_USAGE)
    try:
        with open_db(args, writes=False) as store:
            rack = RackBook(store).find_rack(rack_ref)
            position = position_at(load_elevation(store, rack.id), unit, slot, args.face)
            here = where(rack.name, position.unit, position.slot, position.face)
            known = Known.load(store)
            answer = EMPTY if args.empty else args.found
            outcome = classify(position, answer, known, here)
            if outcome.result is Result.UNKNOWN:  # a code that matches nothing: nothing written
                return fail(f"audit record: {outcome.message}")
            walks = Walkthroughs(store)
            session = args.session
            if session is not None:
                row = walks.row(session)
                if row["rack_id"] != rack.id:
                    return fail(f"audit record: walkthrough {session} is not of rack {rack.name}")
            else:
                session = walks.open_for(rack.id) or walks.start(rack.id, cfg.who())
            audit = AuditLog(store).record(
                session=session,
                rack_id=rack.id,
                unit=position.unit,
                slot=position.slot,
                face=position.face,
                expected=position.expected,
                scanned=args.found or "",
                result=outcome.result,
                found=outcome.found,
                who=cfg.who(),
            )
    except (RackError, StoreError) as e:
        return fail(f"audit record: {e}")
    emit(
        args,
        {
            "session": session,
            "where": here,
            "result": audit.result,
            "expected": audit.expected,
            "found": audit.found,
            "who": audit.who,
            "message": outcome.message,
        },
        f"{audit.result}: {outcome.message} (walkthrough {session})",
    )
    return EXIT_OK


# ---- export audits ----------------------------------------------------------------------------
class AuditCsvRow(CsvRow):
    time: datetime | None
    session: str
    who: str
    rack: str
    unit: int
    slot: int | None
    face: str
    result: str
    expected: str
    expected_hostname: str | None
    found: str
    found_hostname: str | None
    scanned: str


def export_audits(store: Store, args: argparse.Namespace, out: IO[str]) -> int:
    names = {d.serial: d.hostname for d in DeviceBook(store).all()}
    racks = {r.id: r.name for r in RackBook(store).racks()}
    rows = [
        AuditCsvRow(
            time=iso(a.time),
            session=a.session,
            who=a.who,
            rack=racks.get(a.rack_id, a.rack_id),
            unit=a.unit,
            slot=a.slot,
            face=a.face,
            result=a.result,
            expected=a.expected,
            expected_hostname=names.get(a.expected) if a.expected else None,
            found=a.found,
            found_hostname=names.get(a.found) if a.found else None,
            scanned=a.scanned,
        )
        for a in AuditLog(store).rows()
    ]
    write_csv(AuditCsvRow, rows, out)
    return EXIT_OK


register_export_kind("audits", "every walkthrough answer (audit rows), oldest first", export_audits)


# ---- report visit -----------------------------------------------------------------------------
def parse_since(text: str) -> float:
    """An ISO-8601 date or time; without a zone it is local time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: give an ISO-8601 date or time (2025-03-01)") from None
    return moment.timestamp() if moment.tzinfo else moment.astimezone().timestamp()


def cmd_report_visit(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as e:
        return fail(f"report visit: {e}", EXIT_USAGE)
    out = Path(args.out).expanduser() if args.out else None
    if out is not None and (problem := output_problem(out)):
        return fail(f"report visit: {problem}")
    cfg, _ = load_config(config_file())
    now = time.time()
    try:
        with open_db(args, writes=False, readonly=True) as store:
            if since is not None:
                why = "--since"
            else:
                since = last_visit_end(store, now)
                why = "the end of the last visit" if since else "no earlier visit recorded"
            rows = VisitReport(store, since or 0.0, cfg.status, now).rows()
    except StoreError as e:
        return fail(f"report visit: {e}")

    def write(f: IO[str]) -> None:
        if args.md:
            write_visit_markdown(rows, f, since, why, now)
        else:
            write_visit_csv(rows, f)

    if out is None:
        write(sys.stdout)
        return EXIT_OK
    try:
        with written_whole(out, replace=True) as f:
            write(f)
    except OSError as e:
        return fail(f"report visit: {out}: {e.strerror or e}")
    start = cell(iso(since)) if since else "the first records"
    print(f"visit report since {start}: {len(rows)} rows written to {out}", file=sys.stderr)
    return EXIT_OK


# ---- registration -----------------------------------------------------------------------------
def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="rack audits: record what is in a slot (walkthrough answers)")
    asub = p.add_subparsers(dest="audit_cmd", metavar="ACTION", required=True)
    r = asub.add_parser(
        "record", help="record what was found at RACK:UNIT[/SLOT] (the rack's open walkthrough)"
    )
    r.add_argument("spot", metavar="RACK:UNIT[/SLOT]")
    r.add_argument(
        "--rear",
        dest="face",
        action="store_const",
        const="rear",
        default="front",
        help="the rear of the unit",
    )
    what = r.add_mutually_exclusive_group(required=True)
    what.add_argument("--found", metavar="SERIAL|TAG", help="the serial or asset tag found there")
    what.add_argument("--empty", action="store_true", help="the slot is empty")
    r.add_argument(
        "--session", metavar="ID", help="the walkthrough to add to (default: the open one)"
    )
    r.add_argument("--json", action="store_true", help="print the audit row as JSON")
    r.set_defaults(func=cmd_audit_record)

    p = sub.add_parser("report", help="reports for a customer (visit: what changed since a visit)")
    rsub = p.add_subparsers(dest="report_cmd", metavar="KIND", required=True)
    v = rsub.add_parser(
        "visit",
        help="the site-visit report: devices added, gone, moved; failed audits; throttling; "
        "temperatures; clock skew; open conflicts",
    )
    when = v.add_mutually_exclusive_group()
    when.add_argument("--since", metavar="DATE", help="since this ISO-8601 date or time")
    when.add_argument(
        "--last-visit",
        action="store_true",
        help="since the last visit ended (the default): the newest walkthrough finished before "
        "today",
    )
    fmt = v.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", action="store_true", help="one table with a section column")
    fmt.add_argument("--md", action="store_true", help="Markdown, one table per section")
    v.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    v.set_defaults(func=cmd_report_visit)
