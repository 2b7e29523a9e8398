"""The rack layout as a spreadsheet a customer keeps: one row per tray, piece of equipment and
placed device. Read defensively (core/tabular.py: BOM, `;` or tabs, line numbers), checked
row by row against the racks as the file leaves them, and written in one transaction: with
any bad row nothing is imported unless the caller skips the bad rows.

Columns (header names, any order, case-insensitive; only `rack` and `unit` are required):
rack (name or ROOM/NAME), unit, slot, face (front|rear), serial, hostname, kind (pi, tray,
switch, poe-switch, pdu, shelf, other, blank), label, height (U of equipment, default 1),
slots (of a tray). A row naming a serial or hostname is a device (kind `pi` or empty). A slot
on a unit the file and the rack do not declare as a tray makes it a tray of the highest slot
the file uses there."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fleet_tui.core.export import CsvRow, write_csv
from fleet_tui.core.fleet.refs import resolve
from fleet_tui.core.identity import valid_serial
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.racks.layout import load_elevation
from fleet_tui.core.racks.model import (
    FRONT,
    ITEM_KINDS,
    ItemInfo,
    Placement,
    RackInfo,
    check_face,
)
from fleet_tui.core.racks.rules import RackState
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.tabular import Problem, TableError, decode, read_table
from fleet_tui.core.text import visible

COLUMNS = ("rack", "unit", "slot", "face", "serial", "hostname", "kind", "label", "height", "slots")
DEVICE_KINDS = ("", "pi", "device")
MAX_LINES = 20_000


class LayoutCsvRow(CsvRow):
    rack: str
    unit: int
    slot: int | None = None
    face: str | None = None
    serial: str | None = None
    hostname: str | None = None
    kind: str = "pi"
    label: str | None = None
    height: int | None = None
    slots: int | None = None


@dataclass(frozen=True)
class LayoutRow:
    line: int
    rack: str
    unit: int
    kind: str  # "pi", "tray" or an item kind
    slot: int | None = None
    face: str = FRONT
    serial: str = ""
    hostname: str = ""
    label: str = ""
    height: int = 1
    slots: int = 0


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    placed: int = 0  # devices placed or moved
    trays: int = 0
    items: int = 0
    unchanged: int = 0  # rows already true in the store
    unknown: list[str] = field(default_factory=list)  # serials placed that no agent reported yet
    written: bool = False


def _int(cells: dict[str, str], name: str, low: int, default: int | None = None) -> int | None:
    text = cells.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise RackError(f"{name} {visible(text, 20)!r} is not a whole number") from None
    if value < low:
        raise RackError(f"{name} {value} is below {low}")
    return value


def _text(cells: dict[str, str], name: str) -> str:
    """A cell, without the apostrophe a CSV export puts before a formula-like start."""
    text = cells.get(name, "")
    return text[1:] if text[:2] in ("'=", "'+", "'-", "'@") else text


def parse_row(line: int, cells: dict[str, str]) -> LayoutRow:
    """One row checked on its own (RackError says why not)."""
    rack = _text(cells, "rack")
    if not rack:
        raise RackError("no rack")
    unit = _int(cells, "unit", 1)
    if unit is None:
        raise RackError("no unit")
    kind = cells.get("kind", "").lower()
    serial, hostname = _text(cells, "serial"), _text(cells, "hostname")
    if kind in DEVICE_KINDS:
        if not serial and not hostname:
            raise RackError("a device row needs a serial or a hostname")
        face = check_face(cells.get("face", "") or FRONT)
        slot = _int(cells, "slot", 1)
        return LayoutRow(line, rack, unit, "pi", slot, face, serial, hostname)
    if kind == "tray":
        slots = _int(cells, "slots", 2)
        if slots is None:
            raise RackError("a tray row needs slots (2 to 16)")
        return LayoutRow(line, rack, unit, "tray", slots=slots)
    if kind in ITEM_KINDS:
        height = _int(cells, "height", 1, 1) or 1
        return LayoutRow(line, rack, unit, kind, label=_text(cells, "label"), height=height)
    kinds = ", ".join(("pi", "tray", *ITEM_KINDS))
    raise RackError(f"kind {visible(kind, 30)!r} is not one of {kinds}")


def read_layout_text(text: str) -> tuple[list[LayoutRow], list[Problem]]:
    try:
        table = read_table(text, max_lines=MAX_LINES)
    except TableError as e:
        return [], [Problem(0, str(e))]
    missing = [c for c in ("rack", "unit") if c not in table.columns]
    if missing:
        header = visible(table.delimiter.join(table.columns), 80)
        return [], [Problem(0, f"no {missing[0]} column in the header {header!r}")]
    problems = list(table.problems)
    rows = []
    for row in table.rows:
        try:
            rows.append(parse_row(row.line, row.cells))
        except RackError as e:
            problems.append(Problem(row.line, str(e)))
    return rows, problems


def read_layout(path: Path) -> tuple[list[LayoutRow], list[Problem]]:
    """The rows of a layout file and the problems of the rows that are not (line numbers;
    line 0: the file as a whole cannot be read as a layout)."""
    try:
        text = decode(path.read_bytes())
    except OSError as e:
        return [], [Problem(0, f"cannot read: {e.strerror or e}")]
    except TableError as e:
        return [], [Problem(0, str(e))]
    return read_layout_text(text)


class _Plan:
    """The file applied to the racks in memory, row by row, with the rules a write runs."""

    def __init__(self, store: Store) -> None:
        self.book = RackBook(store)
        self.devices = DeviceBook(store).all()
        self.states: dict[str, RackState] = {}
        self.racks: dict[str, RackInfo] = {}

    def state(self, ref: str) -> RackState:
        if ref not in self.racks:
            self.racks[ref] = self.book.find_rack(ref)
        rack = self.racks[ref]
        if rack.id not in self.states:
            self.states[rack.id] = self.book.state(rack.id)
        return self.states[rack.id]

    def serial(self, row: LayoutRow) -> tuple[str, bool]:
        """(serial, known) of a device row. The serial decides when there is one (a serial no
        agent has reported yet is placed as planned); the hostname then only has to name no
        other device (a renamed Pi's old name is no error)."""
        by_host = resolve(self.devices, [row.hostname]) if row.hostname else None
        if not row.serial:
            if by_host is None or by_host.problems:
                raise RackError(by_host.problems[0] if by_host else "no serial or hostname")
            return by_host.devices[0].serial, True
        by_serial = resolve(self.devices, [row.serial])
        if by_serial.problems:
            if by_serial.ambiguous or valid_serial(row.serial) is None:
                raise RackError(by_serial.problems[0])
            serial, known = row.serial, False
        else:
            serial, known = by_serial.devices[0].serial, True
        if by_host is not None and by_host.devices and by_host.devices[0].serial != serial:
            raise RackError(
                f"serial {visible(row.serial, 64)!r} and hostname {visible(row.hostname, 64)!r} "
                "are two different devices"
            )
        return serial, known


def import_layout(store: Store, path: Path, skip_invalid: bool = False) -> ImportResult:
    """Apply a layout file: trays and equipment first, then devices (moved when placed
    elsewhere). With a bad row and not `skip_invalid`: nothing written, the problems said."""
    rows, problems = read_layout(path)
    result = ImportResult(problems=problems)
    if any(p.line == 0 for p in problems):
        return result
    plan = _Plan(store)
    trays: list[LayoutRow] = []
    items: list[LayoutRow] = []
    devices: list[tuple[LayoutRow, str, bool]] = []
    seen: dict[str, int] = {}
    for row in rows:
        try:
            plan.state(row.rack)
            if row.kind == "tray":
                trays.append(row)
            elif row.kind != "pi":
                items.append(row)
            else:
                serial, known = plan.serial(row)
                if serial in seen:
                    raise RackError(
                        f"{visible(serial, 64)} is placed twice (also on line {seen[serial]})"
                    )
                seen[serial] = row.line
                devices.append((row, serial, known))
        except RackError as e:
            problems.append(Problem(row.line, str(e)))
    # the devices the file places leave their current places first: the file may swap them
    for state in plan.states.values():
        for serial in seen:
            state.drop(serial)
    _infer_trays(plan, trays, devices)
    actions: list[tuple[str, LayoutRow, RackState, str]] = []
    for row in trays:
        state = plan.state(row.rack)
        try:
            state.check_tray(row.unit, row.slots)
            state.set_tray(row.unit, row.slots)
            actions.append(("tray", row, state, ""))
        except RackError as e:
            problems.append(Problem(row.line, str(e)))
    for row in items:
        state = plan.state(row.rack)
        same = [
            i
            for i in state.items
            if (i.unit, i.height_u, i.kind, i.label) == (row.unit, row.height, row.kind, row.label)
        ]
        if same:
            result.unchanged += 1
            continue
        try:
            state.check_item(row.unit, row.height, row.kind)
            state.add_item(_pending_item(row))
            actions.append(("item", row, state, ""))
        except RackError as e:
            problems.append(Problem(row.line, str(e)))
    for row, serial, known in devices:
        state = plan.state(row.rack)
        try:
            face = state.check_place(serial, row.unit, row.slot, row.face)
            state.put(_pending_place(serial, state, row, face))
            actions.append(("pi", row, state, serial))
            if not known:
                result.unknown.append(serial)
        except RackError as e:
            problems.append(Problem(row.line, str(e)))
    problems.sort(key=lambda p: p.line)
    if problems and not skip_invalid:
        return result
    bad = {p.line for p in problems}
    _write(store, plan, [a for a in actions if a[1].line not in bad], result)
    return result


def _pending_item(row: LayoutRow) -> ItemInfo:
    return ItemInfo(f"line-{row.line}", row.unit, row.height, row.kind, row.label)


def _pending_place(serial: str, state: RackState, row: LayoutRow, face: str) -> Placement:
    return Placement(f"line-{row.line}", serial, state.rack.id, row.unit, row.slot, face)


def _infer_trays(
    plan: _Plan, trays: list[LayoutRow], devices: list[tuple[LayoutRow, str, bool]]
) -> None:
    """A tray row for each unit the file puts slotted devices on and declares nowhere."""
    declared = {(plan.state(r.rack).rack.id, r.unit) for r in trays}
    highest: dict[tuple[str, int], LayoutRow] = {}
    for row, _, _ in devices:
        if row.slot is None:
            continue
        state = plan.state(row.rack)
        key = (state.rack.id, row.unit)
        if key in declared or row.unit in state.trays:
            continue
        if key not in highest or (highest[key].slot or 0) < row.slot:
            highest[key] = row
    for row in highest.values():
        trays.append(LayoutRow(row.line, row.rack, row.unit, "tray", slots=max(2, row.slot or 2)))


def _write(
    store: Store,
    plan: _Plan,
    actions: list[tuple[str, LayoutRow, RackState, str]],
    result: ImportResult,
) -> None:
    """Write the planned rows in one transaction, each checked again against the store."""
    if not actions:
        return
    book = plan.book
    with store.write() as c:
        states = {rid: book.state(rid) for rid in {a[2].rack.id for a in actions}}
        for serial in {a[3] for a in actions if a[0] == "pi"}:
            for state in states.values():  # as planned: the file's devices leave first
                state.drop(serial)
        for kind, row, planned, serial in actions:
            state = states[planned.rack.id]
            if kind == "tray":
                if state.trays.get(row.unit, 1) == row.slots:
                    result.unchanged += 1
                    continue
                state.check_tray(row.unit, row.slots)
                book.write_tray(c, state, row.unit, row.slots)
                result.trays += 1
            elif kind == "item":
                state.check_item(row.unit, row.height, row.kind)
                book.write_item(c, state, row.unit, row.height, row.kind, row.label)
                result.items += 1
            else:
                face = state.check_place(serial, row.unit, row.slot, row.face)
                before = book.placement_of(serial)
                pid = book.write_place(c, state, serial, row.unit, row.slot, face)
                if before is not None and before.id == pid:
                    result.unchanged += 1
                else:
                    result.placed += 1
    result.written = True


# ---- export --------------------------------------------------------------------------------------


def layout_rows(store: Store, rack_id: str, rack_ref: str | None = None) -> list[LayoutCsvRow]:
    """A rack as layout rows, top of the rack first: equipment, trays, devices."""
    e = load_elevation(store, rack_id)
    name = rack_ref or e.rack.name
    out: list[LayoutCsvRow] = []
    for u in e.units:
        if u.kind == "item" and u.item is not None:
            item = u.item
            out.append(
                LayoutCsvRow(
                    rack=name, unit=u.number, kind=item.kind, label=item.label, height=item.height_u
                )
            )
        if u.kind == "tray":
            out.append(LayoutCsvRow(rack=name, unit=u.number, kind="tray", slots=u.slots))
        placed = sorted([*u.occupants.values(), *u.conflicts], key=lambda p: (p.face, p.slot or 0))
        for p in placed:
            out.append(
                LayoutCsvRow(
                    rack=name,
                    unit=u.number,
                    slot=p.slot,
                    face=p.face,
                    serial=p.serial,
                    hostname=e.hostname(p.serial),
                )
            )
    return out


def export_rack_csv(store: Store, rack_id: str, out: IO[str], rack_ref: str | None = None) -> int:
    """Write one rack's layout as CSV (COLUMNS); returns the number of rows."""
    return write_csv(LayoutCsvRow, layout_rows(store, rack_id, rack_ref), out)
