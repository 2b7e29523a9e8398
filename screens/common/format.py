"""Turn values into table cells: short, literal (never markup, never escapes), sortable."""

from __future__ import annotations

import time
from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from fleet_tui.core.fleet.filters import short_model as short_model  # the screens' name for it
from fleet_tui.core.fleet.filters import short_os as short_os
from fleet_tui.core.policy import Severity
from fleet_tui.core.text import visible

SEVERITY_STYLE = {
    Severity.OK: "green",
    Severity.UNKNOWN: "dim",
    Severity.WARN: "bold yellow",
    Severity.UNREACHABLE: "bold magenta",
    Severity.CRITICAL: "bold red",
}


Cell = tuple[str, str]  # (text made safe, style): cheap to compare, turned into Text when shown


def safe(value: object, limit: int = 256) -> str:
    """Control characters shown as escapes (the common all-printable case stays fast)."""
    text = "" if value is None else str(value)
    if len(text) <= limit and text.isprintable():
        return text
    return visible(text, limit)


def literal(value: object, style: str = "", limit: int = 256) -> Text:
    """Untrusted text made safe: control characters shown as escapes, markup left as text."""
    return Text(safe(value, limit), style=style, no_wrap=True, end="")


def cell(value: object, style: str = "") -> Cell:
    return (safe(value), style)


@lru_cache(maxsize=256)
def _style(style: str) -> Style | None:
    return Style.parse(style) if style else None


ELLIPSIS = "…"


def fit(text: str, width: int) -> str:
    """`text` in at most `width` cells; a cut shows as `…` (never a silent crop)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    return set_cell_size(text, width - 1).rstrip() + ELLIPSIS


class SafeCell:
    """A one-line table cell of text already made safe: one Segment, never parsed as markup.

    Much cheaper than `Text` in a DataTable of 1,000 rows: no wrapping machinery, and no
    `__rich_measure__`, so adding rows does not measure every cell (our columns have fixed
    widths anyway). `gap` cells at the right stay blank (the space between two columns of a
    table without cell padding); text that does not fit ends in `…`.
    """

    __slots__ = ("gap", "plain", "style")

    def __init__(self, plain: str, style: str = "", gap: int = 0) -> None:
        self.plain = plain
        self.style = style
        self.gap = gap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Segment(fit(self.plain, options.max_width - self.gap), _style(self.style))

    def __str__(self) -> str:
        return self.plain

    def __repr__(self) -> str:
        return f"SafeCell({self.plain!r}, {self.style!r})"


def as_cell(c: Cell, gap: int = 0) -> SafeCell:
    return SafeCell(c[0], c[1], gap)


def pi_model(model: str | None) -> str | None:
    """The model as the Pi names it, less the brand every row shares: "Pi 4 Model B Rev 1.4"."""
    return model.replace("Raspberry Pi", "Pi", 1) if model else model


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def age(seconds: float | None) -> str:
    """A duration in its largest unit, for a narrow column: 42s, 57m, 5h, 12d."""
    if seconds is None:
        return "?"
    s = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def clock(epoch: float | None, now: float | None = None) -> str:
    """HH:MM within the last 20 hours, else the day (MM-DD, as in `when`), else the year: 5
    cells at most."""
    if not epoch:
        return "never"
    now = time.time() if now is None else now
    if now - epoch < 20 * 3600:
        fmt = "%H:%M"
    elif now - epoch < 300 * 86400:
        fmt = "%m-%d"
    else:
        fmt = "%Y"
    return time.strftime(fmt, time.localtime(epoch))


def when(epoch: float | None, now: float | None = None) -> str:
    """A table's time column: HH:MM:SS today, else MM-DD HH:MM (11 cells at most); the
    details and exports give the full date."""
    if not epoch:
        return "never"
    now = time.time() if now is None else now
    if time.localtime(epoch)[:3] == time.localtime(now)[:3]:
        return time.strftime("%H:%M:%S", time.localtime(epoch))
    return time.strftime("%m-%d %H:%M", time.localtime(epoch))


def stamp(epoch: float | None) -> str:
    """Local date and time for detail views: 2024-05-01 12:03:04."""
    if not epoch:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def temperature(value: float | None) -> str:
    return f"{value:.1f}°C" if value is not None else "?"


def percent(value: float | None) -> str:
    return f"{value:.0f}%" if value is not None else "?"
