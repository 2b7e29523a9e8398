"""The fleet overview's data: rows, columns, filter and sort. No Textual, so it is cheap to test.

A row is one device, keyed by its identity (core/identity.py): the serial, or a provisional
`candidate:<endpoint>` while its agent has not answered. Stored records (by serial) and live
states (by serial) meet on the same key. Core re-keys a candidate once its agent reports a
serial and says which key the state replaces: that row goes (`take_renamed` tells the screen,
so marks and the cursor follow the device).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fleet_tui.core.identity import serial_of
from fleet_tui.core.models import DeviceState
from fleet_tui.core.policy import Severity, Status, StatusPolicy, evaluate
from fleet_tui.core.records import DeviceRecord
from fleet_tui.screens.common.format import (
    SEVERITY_STYLE,
    Cell,
    age,
    cell,
    clock,
    short_model,
    short_os,
)
from fleet_tui.screens.device.device_ref import DeviceRef
from fleet_tui.screens.fleet.filters import FIELDS, Filterable, FleetFilter


@dataclass
class FleetRow:
    key: str
    state: DeviceState | None = None
    record: DeviceRecord | None = None
    rack: str = ""
    status: Status = field(default_factory=lambda: Status(Severity.UNKNOWN))
    temp_level: Severity = Severity.OK
    _filterable: Filterable | None = None

    @property
    def serial(self) -> str | None:
        """The serial this row stands for (its key); None for a candidate."""
        return serial_of(self.key)

    @property
    def hostname(self) -> str:
        if self.state is not None:
            return self.state.hostname
        if self.record is not None:
            return self.record.hostname or self.record.address or self.record.serial
        return self.key

    def device_ref(self) -> DeviceRef:
        """Which device a detail screen opened on this row shows."""
        endpoint = (
            self.state.endpoint if self.state else (self.record.endpoint if self.record else None)
        )
        return DeviceRef(self.key, self.hostname, endpoint)

    @property
    def model(self) -> str | None:
        if self.state and self.state.facts and self.state.facts.model:
            return self.state.facts.model
        return self.record.model if self.record else None

    @property
    def os_name(self) -> str | None:
        if self.state and self.state.facts and self.state.facts.os_name:
            return self.state.facts.os_name
        return self.record.os_name if self.record else None

    @property
    def address(self) -> str:
        if self.state is not None:
            return f"{self.state.address}:{self.state.port}"
        if self.record is not None and self.record.address:
            return f"{self.record.address}:{self.record.port or 22}"
        return ""

    @property
    def last_seen(self) -> float | None:
        if self.state is not None and self.state.last_seen is not None:
            return self.state.last_seen
        return self.record.last_seen if self.record else None

    @property
    def label(self) -> str:
        return (self.record.label or "") if self.record else ""

    @property
    def tags(self) -> list[str]:
        return list(self.record.tags) if self.record else []

    @property
    def temperature(self) -> float | None:
        h = self.state.health if self.state else None
        return h.temperature_c if h else None

    @property
    def uptime(self) -> float | None:
        h = self.state.health if self.state else None
        return h.uptime_s if h else None

    @property
    def throttle(self) -> str:
        h = self.state.health if self.state else None
        return h.throttled.summary if h and h.throttled else "?"

    def filterable(self) -> Filterable:
        """What the filter sees: a bare regex only the names the table shows (the model and
        OS as their columns show them); field terms (`addr:`, `serial:`…) the rest."""
        if self._filterable is None:
            model = self.model or ""
            os_name = self.os_name or ""
            shown = [
                self.hostname,
                self.label,
                short_model(model) if model else "",
                short_os(os_name) if os_name else "",
                self.rack,
                *self.tags,
            ]
            host = [self.hostname]
            if self.state is not None and self.state.name != self.hostname:
                host.append(self.state.name)
            self._filterable = Filterable(
                haystack=tuple(p for p in shown if p),
                severity=self.status.severity,
                model=f"{model} {short_model(model)}",
                rack=self.rack,
                tags=self.tags,
                host=tuple(host),
                label=self.label,
                address=self.address,
                serial=self.serial or "",
                os=f"{os_name} {short_os(os_name)}" if os_name else "",
            )
        return self._filterable

    def changed(self) -> None:
        self._filterable = None


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # cells of text (the table adds one blank cell between columns)
    cell: Callable[[FleetRow, float], Cell]
    sort: Callable[[FleetRow], Any]  # None sorts last in either direction


def _temp_cell(row: FleetRow, now: float) -> Cell:
    t = row.temperature
    style = SEVERITY_STYLE[row.temp_level] if row.temp_level is not Severity.OK else ""
    return cell(f"{t:.1f}°C" if t is not None else "?", style)


# The throttle column's words (its legend is in `?` and README): two flags fit its width.
SHORT_FLAGS = {
    "under_voltage": "UV",
    "freq_capped": "cap",
    "throttled": "thr",
    "soft_temp_limit": "soft",
}


def short_throttle(row: FleetRow) -> str:
    h = row.state.health if row.state else None
    if h is None or h.throttled is None:
        return "?"
    t = h.throttled
    if t.current:
        return ",".join(SHORT_FLAGS.get(f, f) for f in t.current)
    if t.sticky:
        return "was " + ",".join(SHORT_FLAGS.get(f, f) for f in t.sticky)
    return "ok"


def _throttle_cell(row: FleetRow, now: float) -> Cell:
    if row.state is None or not row.state.reachable:
        return cell("-")
    text = short_throttle(row)
    style = "" if text in ("ok", "?") else ("yellow" if text.startswith("was") else "bold red")
    return cell(text, style)


def short_address(row: FleetRow) -> str:
    """The address as a technician types it: the port only when it is not SSH's 22."""
    return row.address.removesuffix(":22")


def _address_key(row: FleetRow) -> Any:
    host, _, port = row.address.rpartition(":")
    if not host:
        return None
    try:
        return (0, int(ipaddress.ip_address(host)), int(port or 0))
    except ValueError:
        return (1, host, int(port or 0) if port.isdigit() else 0)


# At 80 columns (a jump host's terminal) everything up to Address shows without scrolling
# sideways: what is wrong (status, temperature, throttling) first, then what it is and where to
# reach it. Hostnames fit 13 cells, addresses 15 (any IPv4 address; the port only when not 22);
# longer text ends in `…` and the device screen (enter) shows it in full. The rest is to the
# right. Widths add up to 79 with the one-cell mark and the blank cell after each column.
COLUMNS: tuple[Column, ...] = (
    Column(
        "hostname",
        "Host",
        13,
        lambda r, n: cell(
            r.hostname, "" if r.status.severity is not Severity.UNREACHABLE else "magenta"
        ),
        lambda r: r.hostname.lower(),
    ),
    Column(
        "status",
        "Status",
        11,  # "unreachable"
        lambda r, n: cell(r.status.severity.value, SEVERITY_STYLE[r.status.severity]),
        lambda r: r.status.severity.rank,
    ),
    Column("temp", "Temp", 6, _temp_cell, lambda r: r.temperature),  # "66.1°C"
    Column(
        "throttle",
        "Throttle",
        10,  # "UV,thr", "cap,soft", "was UV,thr"
        _throttle_cell,
        lambda r: r.throttle if r.state and r.state.reachable else None,
    ),
    Column(
        "model",
        "Model",
        6,  # "Zero2W"
        lambda r, n: cell(short_model(r.model)),
        lambda r: short_model(r.model) if r.model else None,
    ),
    Column("uptime", "Up", 4, lambda r, n: cell(age(r.uptime)), lambda r: r.uptime),  # "12d"
    # "10:14" today, "04-26" before
    Column("seen", "Seen", 5, lambda r, n: cell(clock(r.last_seen, n)), lambda r: r.last_seen),
    Column("address", "Address", 15, lambda r, n: cell(short_address(r)), _address_key),
    Column("os", "OS", 8, lambda r, n: cell(short_os(r.os_name)), lambda r: r.os_name),
    Column("rack", "Rack", 6, lambda r, n: cell(r.rack), lambda r: r.rack or None),
    Column("label", "Label", 14, lambda r, n: cell(r.label), lambda r: r.label.lower() or None),
    Column(
        "tags",
        "Tags",
        14,
        lambda r, n: cell(",".join(r.tags)),
        lambda r: ",".join(r.tags) or None,
    ),
    Column("serial", "Serial", 16, lambda r, n: cell(r.serial or ""), lambda r: r.serial),
)
# What the short forms mean (`?` on the fleet shows it)
LEGEND = (
    "Throttle: UV under-voltage, cap frequency capped, thr throttled, soft soft temperature "
    "limit; now, or 'was …' when set since boot only. Up: uptime in its largest unit. Seen: "
    "the last answer (HH:MM today, else MM-DD). Address: the port only when not 22. "
    "→ scrolls to OS, rack, label, tags and serial; enter opens the device with every value "
    "in full."
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
SORTABLE = tuple(c.key for c in COLUMNS)


class FleetModel:
    """Every device row, the filter and the sort; `visible()` is what the table shows."""

    def __init__(self, policy: StatusPolicy) -> None:
        self.policy = policy
        self.rows: dict[str, FleetRow] = {}
        self.filter = FleetFilter()
        self.sort_key = "hostname"
        self.sort_reverse = False
        self._visible: list[str] | None = None
        self.renamed: dict[str, str] = {}  # re-keyed rows since the last `take_renamed`: old -> new

    # ---- updates ----------------------------------------------------------------------
    def apply_states(self, states: Iterable[DeviceState]) -> set[str]:
        """Live states in the order they were published; a state that `replaces` a
        provisional key takes that row's place."""
        changed: set[str] = set()
        for state in states:
            key = state.key
            old = state.replaces
            if old is not None and old != key and self.rows.pop(old, None) is not None:
                changed.discard(old)
                self.renamed.setdefault(old, key)
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = FleetRow(key)
            row.state = state
            self._refresh(row)
            changed.add(key)
        if changed or self.renamed:
            self._visible = None
        return changed

    def apply_records(self, records: Iterable[DeviceRecord], racks: dict[str, str]) -> set[str]:
        """Stored devices (labels, tags, racks), on the row of their serial; devices not seen
        live get their own rows."""
        changed: set[str] = set()
        for rec in records:
            key = rec.serial
            if serial_of(key) is None:
                continue  # not a serial (a hostile peer file): never a candidate's row
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = FleetRow(key)
            rack = racks.get(rec.serial, "")
            if row.record == rec and row.rack == rack:
                continue
            row.record, row.rack = rec, rack
            self._refresh(row)
            changed.add(key)
        if changed:
            self._visible = None
        return changed

    def _refresh(self, row: FleetRow) -> None:
        row.status = evaluate(row.state, self.policy)
        t, p = row.temperature, self.policy
        row.temp_level = (
            Severity.OK
            if t is None or t < p.temp_warn_c
            else Severity.WARN
            if t < p.temp_critical_c
            else Severity.CRITICAL
        )
        row.changed()

    def take_renamed(self) -> dict[str, str]:
        """Rows re-keyed (candidate -> serial) since the last call: old key -> new key."""
        renamed, self.renamed = self.renamed, {}
        return renamed

    # ---- view -------------------------------------------------------------------------
    def set_filter(self, flt: FleetFilter) -> None:
        self.filter = flt
        self._visible = None

    def set_sort(self, key: str, reverse: bool) -> None:
        if key not in COLUMN_BY_KEY:
            raise KeyError(key)
        self.sort_key, self.sort_reverse = key, reverse
        self._visible = None

    def visible(self) -> list[str]:
        if self._visible is None:
            self._visible = self._compute()
        return self._visible

    def _compute(self) -> list[str]:
        flt = self.filter
        rows = [r for r in self.rows.values() if not flt.active or flt.matches(r.filterable())]
        sort = COLUMN_BY_KEY[self.sort_key].sort
        keyed = [(sort(r), r.hostname.lower(), r.key) for r in rows]
        known = sorted((k for k in keyed if k[0] is not None), reverse=self.sort_reverse)
        unknown = sorted(k for k in keyed if k[0] is None)
        return [k[2] for k in known] + [k[2] for k in unknown]

    def cells(self, key: str, now: float) -> tuple[Cell, ...]:
        row = self.rows[key]
        return tuple(c.cell(row, now) for c in COLUMNS)

    def field_values(self) -> dict[str, set[str]]:
        """The values each filter field has in the fleet now (what `tab` completes to)."""
        out: dict[str, set[str]] = {f: set() for f in FIELDS}
        for row in list(self.rows.values()):
            if row.model:
                out["model"].add(short_model(row.model))
            if row.os_name:
                out["os"].add(short_os(row.os_name))
            out["rack"].add(row.rack)
            out["tag"].update(row.tags)
            out["host"].add(row.hostname)
            out["label"].add(row.label)
            out["addr"].add(row.address)
            out["serial"].add(row.serial or "")
        return out

    def counts(self, keys: Iterable[str] | None = None) -> dict[Severity, int]:
        """Rows per status: of every row, or of `keys` (e.g. the rows shown)."""
        out = dict.fromkeys(Severity, 0)
        rows = (
            self.rows.values() if keys is None else (self.rows[k] for k in keys if k in self.rows)
        )
        for row in rows:
            out[row.status.severity] += 1
        return out


def find_rows(model: FleetModel, ref: str) -> list[FleetRow]:
    """Rows a technician may mean by `ref`: exact hostname/serial/address/label, else a prefix."""
    want = ref.strip().lower().removesuffix(".local")
    if not want:
        return []
    exact = []
    for row in model.rows.values():
        names = {
            row.hostname.lower().removesuffix(".local"),
            (row.serial or "").lower(),
            row.address.lower(),
            row.address.rpartition(":")[0].lower(),
            row.label.lower(),
            row.key.lower(),
        }
        if want in names:
            exact.append(row)
    if exact:
        return exact
    return [
        r
        for r in model.rows.values()
        if r.hostname.lower().startswith(want) or r.label.lower().startswith(want)
    ]
