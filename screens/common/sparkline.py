"""The device screen's last-hour sparklines, with a scale that says what a bar means.

Each metric has an axis chosen for it, not stretched over whatever the data did: percentages
are 0–100, load, power and fan speed start at 0, and temperature and core volts span at least
10 °C and 0.2 V, so 0.1 °C of noise stays one bar high instead of jumping from ▁ to █. The axis
is printed beside the bars (`40–50°C`). Time runs left to right over the last hour, each cell
one slice of it (the slice's highest reading; for volts the lowest, a sag is what matters): a
gap is a time without readings, not squeezed away. No Textual here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text

BARS = "▁▂▃▄▅▆▇█"
NO_DATA = " "


@dataclass(frozen=True)
class Scale:
    """How a metric's axis is chosen from its readings."""

    unit: str  # printed after the range
    min_span: float  # the axis is never narrower than this
    step: float  # its ends are multiples of this
    floor: float | None = None  # the axis starts here (0: a quantity, not a reading)
    top: float | None = None  # fixed top (percentages)
    summary: Callable[[Sequence[float]], float] = max  # one slice of time's value
    places: int = 0  # decimals of the printed range

    def axis(self, values: Iterable[float]) -> tuple[float, float]:
        """(bottom, top) of the axis for these readings (at least one)."""
        vs = list(values)
        lo, hi = min(vs), max(vs)
        if self.floor is not None:
            bottom = min(self.floor, _down(lo, self.step))
            if self.top is not None:
                return bottom, max(self.top, _up(hi, self.step))
            return bottom, round(max(_up(hi, self.step), bottom + self.min_span), 6)
        bottom, top = _down(lo, self.step), _up(hi, self.step)
        middle = (lo + hi) / 2
        while top - bottom < self.min_span - 1e-9:  # widen on the side that keeps it centred
            if abs(middle - (bottom - self.step + top) / 2) <= abs(
                middle - (bottom + top + self.step) / 2
            ):
                bottom -= self.step
            else:
                top += self.step
        return round(bottom, 6), round(top, 6)

    def label(self, axis: tuple[float, float]) -> str:
        lo, hi = axis
        return f"{lo:.{self.places}f}–{hi:.{self.places}f}{self.unit}"


def _down(value: float, step: float) -> float:
    return math.floor(round(value / step, 6)) * step


def _up(value: float, step: float) -> float:
    return math.ceil(round(value / step, 6)) * step


def _lowest(values: Sequence[float]) -> float:
    return min(values)


SCALES: dict[str, Scale] = {
    "temperature_c": Scale("°C", min_span=10.0, step=5.0),
    "cpu_percent": Scale("%", min_span=100.0, step=10.0, floor=0.0, top=100.0),
    "load1": Scale("", min_span=1.0, step=1.0, floor=0.0),
    "mem_percent": Scale("%", min_span=100.0, step=10.0, floor=0.0, top=100.0),
    "disk_percent": Scale("%", min_span=100.0, step=10.0, floor=0.0, top=100.0),
    "core_volts": Scale("V", min_span=0.2, step=0.1, summary=_lowest, places=1),
    "power_w": Scale("W", min_span=5.0, step=5.0, floor=0.0),
    "fan_rpm": Scale("rpm", min_span=1000.0, step=1000.0, floor=0.0),
}
LABEL_WIDTH = 9  # the widest range label: "0–10000rpm" is rare, "1.1–1.3V" is not


def bars(
    readings: Sequence[tuple[float, float]],
    start: float,
    end: float,
    width: int,
    axis: tuple[float, float],
    summary: Callable[[Sequence[float]], float] = max,
) -> str:
    """`width` cells for the time from `start` to `end`: each cell the bar of its slice's
    readings (time, value) on `axis`, blank where there were none."""
    if width <= 0:
        return ""
    slices: list[list[float]] = [[] for _ in range(width)]
    length = max(end - start, 1e-9)
    for t, v in readings:
        if start <= t <= end:
            slices[min(width - 1, int((t - start) / length * width))].append(v)
    lo, hi = axis
    extent = (hi - lo) or 1.0
    out = []
    for values in slices:
        if not values:
            out.append(NO_DATA)
            continue
        level = round((summary(values) - lo) / extent * (len(BARS) - 1))
        out.append(BARS[max(0, min(len(BARS) - 1, level))])
    return "".join(out)


def metric_text(
    label: str,
    value: str,
    readings: Sequence[tuple[float, float]],
    span: tuple[float, float],
    scale: Scale,
    width: int,
) -> Text:
    """One metric on one line of `width` cells: label, latest value, the bars of the time
    `span` (start, end), and the axis they are drawn on."""
    line = Text.assemble((f"{label:<6}", "bold"), f"{value:>7} ", no_wrap=True, end="")
    if not readings:
        line.append("no readings this hour", style="dim")
    else:
        axis = scale.axis(v for _, v in readings)
        room = width - line.cell_len - 1 - LABEL_WIDTH
        line.append(bars(readings, span[0], span[1], room, axis, scale.summary))
        line.append(f" {scale.label(axis):>{LABEL_WIDTH}}", style="dim")
    line.truncate(width, overflow="ellipsis")
    return line
