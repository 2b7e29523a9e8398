"""CSV reports a customer can open in a spreadsheet: one pydantic model per kind of row.

Rules for every file: UTF-8, a header row of the model's field names, timestamps as ISO-8601
with the zone offset (local time of the machine that wrote it), numbers as plain numbers,
lists joined by ";", text exactly as it is (no markup) except that control characters are
shown as escapes (`\\x1b`) and a cell that a spreadsheet would run as a formula (starting with
=, +, -, @) gets a leading apostrophe. The columns are documented in README.md.
"""

from __future__ import annotations

import csv
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict

from fleet_tui.core.policy import StatusPolicy, evaluate_reading, reading_of_sample, throttle_flags
from fleet_tui.core.records import DeviceRecord, EventRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.text import visible

TEXT_LIMIT = 10_000  # notes can be long; a CSV cell is no place to truncate them at 256
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso(epoch: float | None) -> datetime | None:
    """An aware datetime in local time (so its ISO form carries the zone offset)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch).astimezone()


class CsvRow(BaseModel):
    """A row of a CSV report: its field names are the header, in order."""

    model_config = ConfigDict(frozen=True)


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, int | float):
        return repr(round(value, 3)) if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        return cell(";".join(str(v) for v in value))
    text = visible(value, TEXT_LIMIT)
    if text.startswith(FORMULA_START):
        text = "'" + text
    return text


def write_csv(model: type[CsvRow], rows: Iterable[CsvRow], out: IO[str]) -> int:
    """Write a header and the rows; returns the number of rows written."""
    names = list(model.model_fields)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    n = 0
    for row in rows:
        writer.writerow([cell(getattr(row, name)) for name in names])
        n += 1
    return n


# ---- the fleet table as shown in the TUI ------------------------------------------------------


class FleetCsvRow(CsvRow):
    hostname: str
    status: str
    reasons: str
    temperature_c: float | None
    throttled: str
    model: str | None
    uptime_s: float | None
    last_seen: datetime | None
    address: str
    os_name: str | None
    rack: str
    label: str
    tags: list[str]
    serial: str | None


# ---- headless reports ----------------------------------------------------------------------


class InventoryRow(CsvRow):
    serial: str
    hostname: str | None
    label: str | None
    model: str | None
    revision: str | None
    os_name: str | None
    kernel: str | None
    arch: str | None
    agent_version: str | None
    address: str | None
    port: int | None
    mac: str | None
    rack: str | None
    tags: list[str]
    notes: str | None
    last_seen: datetime | None


class HealthRow(CsvRow):
    serial: str
    hostname: str | None
    time: datetime | None
    status: str
    reasons: str
    temperature_c: float | None
    cpu_percent: float | None
    load1: float | None
    mem_percent: float | None
    disk_percent: float | None
    core_volts: float | None
    power_w: float | None
    fan_rpm: float | None
    throttled_now: list[str]
    throttled_past: list[str]


class EventRow(CsvRow):
    time: datetime | None
    serial: str | None
    hostname: str | None
    kind: str
    message: str


class ThrottleRow(CsvRow):
    time: datetime | None
    hostname: str
    throttled_now: list[str]
    throttled_past: list[str]


class HostKeyRow(CsvRow):
    time: datetime | None
    hostname: str
    endpoint: str
    reason: str
    fingerprint: str
    key: str


def rack_names(store: Store) -> dict[str, str]:
    """serial -> the rack a device is placed in (its name, else its id)."""
    racks = {r["id"]: r.get("name") or r["id"] for r in store.rows("racks")}
    out: dict[str, str] = {}
    for p in store.rows("placements"):
        if p.get("serial") and p.get("rack_id"):
            out[p["serial"]] = racks.get(p["rack_id"], p["rack_id"])
    return out


def inventory_rows(store: Store) -> list[InventoryRow]:
    racks = rack_names(store)
    return [_inventory(d, racks.get(d.serial)) for d in DeviceBook(store).all()]


def _inventory(d: DeviceRecord, rack: str | None) -> InventoryRow:
    return InventoryRow(
        serial=d.serial,
        hostname=d.hostname,
        label=d.label,
        model=d.model,
        revision=d.revision,
        os_name=d.os_name,
        kernel=d.kernel,
        arch=d.arch,
        agent_version=d.agent_version,
        address=d.address,
        port=d.port,
        mac=d.mac,
        rack=rack,
        tags=list(d.tags),
        notes=d.notes,
        last_seen=iso(d.last_seen),
    )


# the sample columns a health row shows, under the same names
HEALTH_METRICS = (
    "temperature_c",
    "cpu_percent",
    "load1",
    "mem_percent",
    "disk_percent",
    "core_volts",
    "power_w",
    "fan_rpm",
)


def health_rows(store: Store, policy: StatusPolicy | None = None) -> list[HealthRow]:
    policy = policy or StatusPolicy()
    latest = SampleLog(store).latest()
    out = []
    for d in DeviceBook(store).all():
        s = latest.get(d.serial)
        if s is None:
            out.append(
                HealthRow(
                    serial=d.serial,
                    hostname=d.hostname,
                    time=None,
                    status="unknown",
                    reasons="no health sample stored",
                    throttled_now=[],
                    throttled_past=[],
                    **dict.fromkeys(HEALTH_METRICS),
                )
            )
            continue
        status = evaluate_reading(reading_of_sample(s, d.clock_skew_s), policy)
        now, past = throttle_flags(s.throttled)
        out.append(
            HealthRow(
                serial=d.serial,
                hostname=d.hostname,
                time=iso(s.time),
                status=status.severity.value,
                reasons="; ".join(status.reasons),
                throttled_now=now,
                throttled_past=past,
                **{m: getattr(s, m) for m in HEALTH_METRICS},
            )
        )
    return out


def event_rows(store: Store, events: Sequence[EventRecord] | None = None) -> list[EventRow]:
    """Events oldest first (a report reads top to bottom)."""
    names = {d.serial: d.hostname for d in DeviceBook(store).all()}
    if events is None:
        events = EventLog(store).recent(limit=1_000_000)
    return [
        EventRow(
            time=iso(e.time),
            serial=e.serial,
            hostname=names.get(e.serial or ""),
            kind=e.kind,
            message=e.message,
        )
        for e in sorted(events, key=lambda e: (e.time, e.origin, e.seq))
    ]


def default_name(kind: str, now: float | None = None) -> str:
    return time.strftime(f"fleet-{kind}-%Y%m%d-%H%M%S.csv", time.localtime(now))


EXPORTS_FOLDER = "fleet-tui-exports"


def default_export_dir() -> Path:
    """Where the TUI's `x` writes unless the config's `export_dir` says otherwise:
    `$XDG_DOCUMENTS_DIR/fleet-tui-exports`, else `~/fleet-tui-exports` (made on first use;
    never the current directory, which may be a checkout or a system folder)."""
    documents = os.environ.get("XDG_DOCUMENTS_DIR")
    return (Path(documents).expanduser() if documents else Path.home()) / EXPORTS_FOLDER


@contextmanager
def written_whole(path: Path, *, replace: bool) -> Iterator[IO[str]]:
    """A text file at `path`, written whole or not at all: into a new file beside it (mode
    0666 less the umask, as `open` makes it), moved into place when the block ends without an
    error, removed otherwise. Over an existing file only with `replace` (else
    FileExistsError, and the existing file stays as it was)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if `path` appeared meanwhile: never a silent overwrite
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
