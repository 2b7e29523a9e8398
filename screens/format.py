"""Turn values into table cells: short, literal (never markup, never escapes), sortable."""

from __future__ import annotations

import time
from functools import lru_cache

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

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


class SafeCell:
    """A one-line table cell of text already made safe: one Segment, never parsed as markup.

    Much cheaper than `Text` in a DataTable of 1,000 rows: no wrapping machinery, and no
    `__rich_measure__`, so adding rows does not measure every cell (our columns have fixed
    widths anyway). Cropped to the column like any one-line renderable.
    """

    __slots__ = ("plain", "style")

    def __init__(self, plain: str, style: str = "") -> None:
        self.plain = plain
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Segment(self.plain, _style(self.style))

    def __str__(self) -> str:
        return self.plain

    def __repr__(self) -> str:
        return f"SafeCell({self.plain!r}, {self.style!r})"


def as_cell(c: Cell) -> SafeCell:
    return SafeCell(c[0], c[1])


def short_model(model: str | None) -> str:
    if not model:
        return "?"
    text = model.split(" Rev ")[0].replace("Raspberry Pi ", "")
    for long, short in ((" Model ", ""), ("Compute Module ", "CM"), (" Plus", "+"), (" ", "")):
        text = text.replace(long, short)
    return text


def short_os(os_name: str | None) -> str:
    if not os_name:
        return "?"
    # "Debian GNU/Linux 12 (bookworm)" -> "bookworm": the codename is what technicians say.
    if "(" in os_name and os_name.endswith(")"):
        return os_name.rsplit("(", 1)[1][:-1]
    return os_name


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def clock(epoch: float | None, now: float | None = None) -> str:
    """HH:MM:SS today, else the date (8 characters either way)."""
    if not epoch:
        return "never"
    now = time.time() if now is None else now
    if now - epoch < 20 * 3600:
        return time.strftime("%H:%M:%S", time.localtime(epoch))
    return time.strftime("%y-%m-%d", time.localtime(epoch))


def stamp(epoch: float | None) -> str:
    """Local date and time for detail views: 2024-05-01 12:03:04."""
    if not epoch:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def temperature(value: float | None) -> str:
    return f"{value:.1f}°C" if value is not None else "?"


def percent(value: float | None) -> str:
    return f"{value:.0f}%" if value is not None else "?"
