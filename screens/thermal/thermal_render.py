"""What :thermal draws, as Rich Text (no Textual here): per rack a heat map of units × slots,
each cell the Pi's °C and the word for its state, coloured; the rack's ambient sensors on its
title line. Hostnames and sensor names are untrusted: plain Text, never markup."""

from __future__ import annotations

import textwrap

from rich.text import Text

from fleet_tui.core.racks.layout import Elevation, UnitView
from fleet_tui.core.text import visible
from fleet_tui.core.thermal.dashboard import SHORT, DeviceThermal, ThermalView

STATE_STYLE = {
    "ok": "green",
    "warm": "yellow",
    "hot": "bold dark_orange",
    "critical": "bold white on red",
    "unknown": "dim",
}
LABEL_W = 5  # "U42 " and a space
MAX_CELL = 14
LEGEND = "cells: °C and state (ok · warm · hot · critical; narrow: o w h c); · empty slot"


def cell_text(d: DeviceThermal | None, width: int) -> tuple[str, str]:
    """(text, style) of one slot, fitted to `width` cells."""
    if d is None:
        return "·".center(width)[:width], "dim"
    style = STATE_STYLE.get(d.state, "")
    temp = f"{d.temperature_c:.0f}" if d.temperature_c is not None else "?"
    word = d.state
    short = {"critical": "crit", "unknown": "?"}.get(word, word)
    for text in (
        f"{temp}°C {word}",
        f"{temp}° {word}",
        f"{temp}° {short}",
        f"{temp} {word[0]}",
        temp,
    ):
        if len(text) <= width - 1 or (len(text) <= width and width <= 3):
            return text.ljust(width)[:width], style
    return temp[:width].ljust(width), style


def _unit_row(e: Elevation, u: UnitView, view: ThermalView, width: int) -> Text:
    line = Text(f"{e.label(u.number):>4} ", style="dim", no_wrap=True, end="")
    slots: list[int | None] = list(range(1, u.slots + 1)) if u.kind == "tray" else [None]
    cell_w = max(3, min(MAX_CELL, (width - LABEL_W) // max(1, len(slots))))
    for slot in slots:
        p = u.at(slot) or u.at(slot, "rear")
        d = view.by_serial.get(p.serial) if p is not None else None
        if p is not None and d is None:
            line.append("? ".ljust(cell_w)[:cell_w], style="dim")
            continue
        text, style = cell_text(d, cell_w)
        line.append(text, style=style)
    return line


def rack_title(e: Elevation, view: ThermalView) -> Text:
    title = Text(no_wrap=True, end="")
    title.append(visible(e.rack.name, 30), style="bold")
    if e.rack.room:
        title.append(f" ({visible(e.rack.room, 20)})", style="dim")
    ambient = view.rack_summary(e.rack.id)
    title.append(" · ")
    if ambient:
        title.append(visible(ambient, 200))
    else:
        title.append("no ambient sensor", style="dim")
    return title


def rack_map(e: Elevation, view: ThermalView, width: int) -> Text:
    """The rack's title line, then one line per unit that holds Pis (top first); runs of
    other units are one dim line ("U20-U30 free/equipment")."""
    out = Text(no_wrap=True, overflow="ellipsis", end="")
    title = rack_title(e, view)
    title.truncate(width, overflow="ellipsis")
    out.append_text(title)
    out.append("\n")
    gap: list[int] = []

    def flush() -> None:
        if gap:
            a, b = e.label(gap[0]), e.label(gap[-1])
            out.append(f"     {a if a == b else a + '–' + b}: no Pis\n", style="dim")
            gap.clear()

    for u in e.units:
        if u.kind in ("tray", "device") and u.occupants:
            flush()
            out.append_text(_unit_row(e, u, view, width))
            out.append("\n")
        else:
            gap.append(u.number)
    flush()
    return out


def heat_maps(view: ThermalView, width: int) -> Text:
    if not view.elevations:
        return Text(
            "no racks yet: fleet-tui rack add R1 --room ROOM, then place Pis "
            "(the hottest list below works without racks)",
            style="dim",
        )
    out = Text(no_wrap=True, overflow="ellipsis", end="")
    for e in view.elevations:
        out.append_text(rack_map(e, view, width))
    if view.unplaced_ambient:
        names = ", ".join(a.text for a in view.unplaced_ambient[:6])
        out.append(f"ambient on Pis not in a rack: {visible(names, 300)}\n", style="dim")
    out.append("\n".join(textwrap.wrap(LEGEND, max(20, width))), style="dim")
    return out


def flags_text(d: DeviceThermal) -> tuple[str, str]:
    """(text, style): the throttle flags now, else since boot (`past:`), short forms."""
    if d.flags_now:
        return ",".join(SHORT[f] for f in d.flags_now), "bold red"
    if d.flags_past:
        return "past:" + ",".join(SHORT[f] for f in d.flags_past), "yellow"
    return "-", "dim"


def fan_text(d: DeviceThermal) -> str:
    if d.fan_rpm is None and d.fan_mode is None:
        return "-"
    rpm = f"{d.fan_rpm:.0f}" if d.fan_rpm is not None else "?"
    return f"{rpm} {d.fan_mode}" if d.fan_mode else rpm


def summary_line(view: ThermalView) -> Text:
    counts: dict[str, int] = {}
    for d in view.devices:
        counts[d.state] = counts.get(d.state, 0) + 1
    line = Text(f"{len(view.devices)} devices", end="")
    for word in ("critical", "hot", "warm"):
        if counts.get(word):
            line.append(" · ")
            line.append(f"{counts[word]} {word}", style=STATE_STYLE[word])
    throttled = sum(1 for d in view.devices if d.flags_now)
    if throttled:
        line.append(f" · {throttled} throttled now", style="bold red")
    firing = sum(len(d.firing) for d in view.devices)
    if firing:
        line.append(f" · {firing} polic{'y' if firing == 1 else 'ies'} firing", style="bold")
    return line
