"""What the rack elevation shows, without Textual: the lines of each rack's column, where the
cursor may stop, and the three overlays (status, temperature, power draw).

A rack's column is one line per unit, top of the rack first, labelled in the rack's own
numbering (U42..U1, or U1..U42 for a top-down rack). A tray splits its unit into slots side by
side, wrapping onto more lines when the column is too narrow for all of them; an item (switch,
PDU…) spans its units; a free unit says so. Devices show their hostname (literally: made safe,
never markup) and, after it, the overlay's word: the fleet's status word (the same policy and
words as the fleet table: screens/fleet/fleet_model.py), the temperature on a heat scale, or the
power draw in W ("est." when estimated from the model and CPU load, "—" when unknown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

from fleet_tui.core.metrics import metrics_of
from fleet_tui.core.policy import Severity
from fleet_tui.core.power.draw import known_draw
from fleet_tui.core.racks.layout import Elevation, UnitView
from fleet_tui.core.racks.model import REAR
from fleet_tui.screens.common.format import SEVERITY_STYLE, fit, safe
from fleet_tui.screens.fleet.fleet_model import FleetRow


class Overlay(StrEnum):
    STATUS = "status"
    TEMPERATURE = "temperature"
    POWER = "power"

    def next(self) -> Overlay:
        order = list(Overlay)
        return order[(order.index(self) + 1) % len(order)]


# The heat scale: (below this °C, style). Words are always there too (the value in °C).
HEAT: tuple[tuple[float, str], ...] = (
    (45.0, "blue"),
    (55.0, "cyan"),
    (65.0, "green"),
    (72.0, "yellow"),
    (80.0, "dark_orange"),
    (math.inf, "bold red"),
)

UNKNOWN_VALUE = "—"
SLOT_MIN = 20  # a slot narrower than this wraps the tray onto another line
GAP = 1  # blank cells right of each rack's column

_STYLE_CACHE: dict[str, Style] = {}


def style(text: str) -> Style:
    found = _STYLE_CACHE.get(text)
    if found is None:
        found = _STYLE_CACHE[text] = Style.parse(text) if text else Style()
    return found


def heat_style(temp: float) -> str:
    for below, name in HEAT:
        if temp < below:
            return name
    return HEAT[-1][1]


def heat_legend() -> list[tuple[str, str]]:
    """(text, style) pieces of the scale, for the screen's status line."""
    out: list[tuple[str, str]] = []
    low = None
    for below, name in HEAT:
        text = f"<{below:g}" if low is None else (f"≥{low:g}" if below == math.inf else f"{low:g}")
        out.append((f" {text} ", f"reverse {name}"))
        low = below
    out.append(("°C", ""))
    return out


@dataclass(frozen=True)
class Power:
    watts: float | None
    estimated: bool = False

    @property
    def text(self) -> str:
        if self.watts is None:
            return UNKNOWN_VALUE
        return f"{self.watts:.1f} W" + (" est." if self.estimated else "")


def power_of(row: FleetRow | None) -> Power:
    """What the device draws now: measured (a Pi 5's PMIC), else estimated from its model and
    CPU load, else unknown (not reached, or a model we have no figures for)."""
    if row is None or row.state is None or not row.state.reachable or row.state.health is None:
        return Power(None)
    m = metrics_of(row.state.health)
    if m.power_w is not None:
        return Power(m.power_w)
    draw = known_draw(row.model)  # the one table (core/power/draw.py)
    if draw is None:
        return Power(None)
    return Power(draw.at_load(m.cpu_percent), estimated=True)


def overlay_value(row: FleetRow | None, overlay: Overlay) -> tuple[str, str]:
    """The word after a device's hostname, and its style."""
    if overlay is Overlay.STATUS:
        severity = row.status.severity if row is not None else Severity.UNKNOWN
        return severity.value, SEVERITY_STYLE[severity]
    if overlay is Overlay.TEMPERATURE:
        t = row.temperature if row is not None else None
        return (f"{t:.1f}°C", heat_style(t)) if t is not None else ("?", "dim")
    p = power_of(row)
    return p.text, "" if p.watts is not None else "dim"


@dataclass(frozen=True)
class Stop:
    """A place the cursor can be: a unit (slot None: full width, free, or an item) or a slot
    of a tray unit, at `line` of the rack's column, `x`..`x + width` of its content."""

    unit: int
    slot: int | None
    line: int
    x: int
    width: int
    group: int  # the index of its unit among the rack's units that have stops


@dataclass
class Line:
    unit: UnitView
    first: bool  # the unit's first line (it carries the label)
    stops: list[int] = field(default_factory=list)  # indices into RackColumn.stops
    pad: int = 0  # blank cells after the last stop (a tray's last line, fewer slots)


@dataclass
class RackColumn:
    """One rack laid out in `width` cells (its gap included)."""

    elevation: Elevation
    width: int
    label_width: int
    lines: list[Line]
    stops: list[Stop]
    groups: list[list[int]]  # per unit with stops, top first: its stop indices

    @property
    def content_width(self) -> int:
        return self.width - GAP - self.label_width

    def stop_at(self, unit: int, slot: int | None) -> int | None:
        for i, s in enumerate(self.stops):
            if s.unit == unit and s.slot == slot:
                return i
        return None


def layout(elevation: Elevation, width: int) -> RackColumn:
    label_width = len(f"U{elevation.rack.height_u}") + 1
    content = max(8, width - GAP - label_width)
    lines: list[Line] = []
    stops: list[Stop] = []
    groups: list[list[int]] = []
    seen_items: set[str] = set()
    for unit in elevation.units:
        item = unit.item
        if item is not None and item.id in seen_items:  # the item's other units: no stop
            lines.append(Line(unit, first=True))
            continue
        if item is not None:
            seen_items.add(item.id)  # its top unit (display order) carries its name
        group: list[int] = []
        if item is None and unit.kind == "tray" and unit.slots > 1:
            n = unit.slots
            per_line_max = max(1, content // SLOT_MIN)
            rows = math.ceil(n / per_line_max)
            per_line = math.ceil(n / rows)
            base = content // per_line
            for r in range(rows):
                line = Line(unit, first=r == 0)
                slots = list(range(r * per_line + 1, min(n, (r + 1) * per_line) + 1))
                x = 0
                for j, slot in enumerate(slots):
                    w = content - x if len(slots) == per_line and j == len(slots) - 1 else base
                    stops.append(Stop(unit.number, slot, len(lines), x, w, len(groups)))
                    line.stops.append(len(stops) - 1)
                    group.append(len(stops) - 1)
                    x += w
                line.pad = content - x
                lines.append(line)
        else:
            line = Line(unit, first=True)
            stops.append(Stop(unit.number, None, len(lines), 0, content, len(groups)))
            line.stops.append(len(stops) - 1)
            group.append(len(stops) - 1)
            lines.append(line)
        groups.append(group)
    return RackColumn(elevation, width, label_width, lines, stops, groups)


@dataclass(frozen=True)
class Marks:
    """How the column is drawn now: the cursor's stop, the device being moved, the overlay
    and the face."""

    cursor: int | None = None
    moving: int | None = None
    overlay: Overlay = Overlay.STATUS
    face: str = "front"


def occupant(unit: UnitView, slot: int | None, face: str) -> str | None:
    p = unit.at(slot, face)
    return p.serial if p is not None else None


def hostname_of(column: RackColumn, rows: Mapping[str, FleetRow], serial: str) -> str:
    row = rows.get(serial)
    if row is not None:
        return row.hostname
    return column.elevation.hostname(serial) or serial


def _piece(text: str, value: str, width: int, base: str, value_style: str) -> list[Segment]:
    """`text` then `value` right-aligned in `width` cells (a one-cell separator after)."""
    inner = width - 1
    if inner <= 0:
        return [Segment(" " * width)]
    if value:
        room = inner - cell_len(value) - 1
        if room < 1:
            value = fit(value, inner)
            return [Segment(value.ljust(inner), style(f"{base} {value_style}")), Segment("│")]
        head = fit(text, room)
        pad = inner - cell_len(head) - cell_len(value)
        return [
            Segment(head + " " * pad, style(base)),
            Segment(value, style(f"{base} {value_style}".strip())),
            Segment("│", style("dim")),
        ]
    head = fit(text, inner)
    return [Segment(head + " " * (inner - cell_len(head)), style(base)), Segment("│", style("dim"))]


def render_line(
    column: RackColumn, index: int, rows: Mapping[str, FleetRow], marks: Marks
) -> list[Segment]:
    """The segments of line `index` of the rack's column, exactly `column.width` cells."""
    if index >= len(column.lines):
        return [Segment(" " * column.width)]
    line = column.lines[index]
    unit = line.unit
    label = column.elevation.label(unit.number) if line.first else ""
    out = [Segment(label.rjust(column.label_width - 1) + " ", style("dim"))]
    if not line.stops:  # a unit under equipment that spans it
        item = unit.item
        text = f"⋮ {item.kind} {safe(item.label)}" if item is not None else "⋮"
        out.append(
            Segment(fit(text, column.content_width).ljust(column.content_width), style("dim"))
        )
    for i in line.stops:
        stop = column.stops[i]
        base = "reverse" if i == marks.cursor else ""
        if i == marks.moving:
            base = f"{base} underline bold".strip()
        out.extend(_stop_segments(column, unit, stop, rows, marks, base))
    if line.pad:
        out.append(Segment(" " * line.pad))
    out.append(Segment(" " * GAP))
    return out


def _stop_segments(
    column: RackColumn,
    unit: UnitView,
    stop: Stop,
    rows: Mapping[str, FleetRow],
    marks: Marks,
    base: str,
) -> list[Segment]:
    prefix = f"{stop.slot} " if stop.slot is not None else ""
    if unit.item is not None:
        item = unit.item
        text = ("⚠ " if unit.clash else "") + f"{item.kind} {safe(item.label)}"
        return _piece(text, f"{item.height_u}U", stop.width, f"{base} bold".strip(), "")
    serial = occupant(unit, stop.slot, marks.face)
    if serial is None:
        word = "free" if unit.kind == "free" else "empty"
        return _piece(f"{prefix}· {word}", "", stop.width, f"{base} dim".strip(), "")
    row = rows.get(serial)
    value, value_style = overlay_value(row, marks.overlay)
    name = safe(hostname_of(column, rows, serial))
    if unit.conflicts or unit.clash:
        name = "⚠ " + name
    return _piece(prefix + name, value, stop.width, base, value_style)


def header(column: RackColumn, rows: Mapping[str, FleetRow], face: str, current: bool) -> Segment:
    """`R1 · room-a · 30/42U used · 14 Pis · 38 W est./600 W` in the column's width."""
    e = column.elevation
    rack = e.rack
    used = sum(1 for u in e.units if u.kind != "free")
    pis = len(e.placements)
    parts = [safe(rack.name)]
    if rack.room:
        parts.append(safe(rack.room))
    parts.append(f"{used}/{rack.height_u}U used")
    parts.append(f"{pis} Pi{'' if pis == 1 else 's'}")
    draw = rack_draw(e, rows)
    if draw.watts is not None or rack.budget_w:
        budget = f"/{rack.budget_w:g} W" if rack.budget_w else ""
        parts.append(
            f"{draw.text.removesuffix(' est.')}{budget}{' est.' if draw.estimated else ''}"
        )
    if face == REAR:
        parts.append("REAR")
    text = fit(" · ".join(parts), column.width - GAP).ljust(column.width - GAP) + " " * GAP
    return Segment(text, style("bold reverse" if current else "bold"))


def rack_draw(elevation: Elevation, rows: Mapping[str, FleetRow]) -> Power:
    """The rack's known draw: measured and estimated devices summed (est. if any is)."""
    total, estimated, known = 0.0, False, False
    for p in elevation.placements:
        power = power_of(rows.get(p.serial))
        if power.watts is not None:
            total += power.watts
            estimated |= power.estimated
            known = True
    return Power(total if known else None, estimated)


def used_units(elevation: Elevation) -> int:
    return sum(1 for u in elevation.units if u.kind != "free")
