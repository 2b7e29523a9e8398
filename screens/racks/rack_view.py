"""The rack elevation widget: racks side by side, one column each, drawn line by line.

One Line-API widget for any number of racks (never a widget per unit or slot): only the lines
on screen are drawn, each rack's line is cached, and a live update redraws the lines of the
devices that changed, not the whole view. The racks' headers stay on the top line while the
units scroll; the cursor (a unit, or a slot of a tray) is always scrolled into view.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fleet_tui.core.racks.layout import Elevation
from fleet_tui.screens.fleet.fleet_model import FleetRow
from fleet_tui.screens.racks.rack_model import (
    Marks,
    Overlay,
    RackColumn,
    Stop,
    header,
    layout,
    occupant,
    render_line,
)

MIN_COLUMN = 52  # a rack's column at least (so 80 columns show one rack, 160 three)
MAX_COLUMN = 79
HEADER_LINES = 1


class RackElevation(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up", "move(0, -1)", "Up", id="rack.up", show=False),
        Binding("down", "move(0, 1)", "Down", id="rack.down", show=False),
        Binding("left", "move(-1, 0)", "Left", id="rack.left", show=False),
        Binding("right", "move(1, 0)", "Right", id="rack.right", show=False),
        Binding("home", "edge(-1)", "Top", id="rack.top", show=False),
        Binding("end", "edge(1)", "Bottom", id="rack.bottom", show=False),
        Binding("pageup", "page(-1)", "Page up", id="rack.page_up", show=False),
        Binding("pagedown", "page(1)", "Page down", id="rack.page_down", show=False),
    ]

    class Moved(Message):
        """The cursor is on another unit or slot."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.elevations: list[Elevation] = []
        self.columns: list[RackColumn] = []
        self.rows: Mapping[str, FleetRow] = {}
        self.rack = 0  # the cursor's rack (index into columns)
        self.stop = 0  # the cursor's stop in that rack
        self.moving: tuple[int, int] | None = None  # (rack, stop) of the device being moved
        self.overlay = Overlay.STATUS
        self.face = "front"
        self._cache: dict[tuple[int, int], list[Segment]] = {}
        self._lines_of: dict[str, list[tuple[int, int]]] = {}  # serial -> (rack, line)
        self._width = 0
        self.painted = False  # the first frame with racks in it was drawn (benchmarks)

    # ---- data in -------------------------------------------------------------------------
    def show(
        self,
        elevations: list[Elevation],
        rows: Mapping[str, FleetRow],
        at: tuple[str, int | None, int | None] | None = None,
    ) -> None:
        """Draw these racks; the cursor goes to `at` (rack id, unit, slot) when given, else
        stays on the same rack, unit and slot when they still exist."""
        keep = at or self.where()
        self.elevations = elevations
        self.rows = rows
        self._relayout()
        self.moving = None
        if keep is not None:
            self.go(*keep)
        self.post_message(self.Moved())

    def where(self) -> tuple[str, int | None, int | None] | None:
        """(rack id, unit, slot) under the cursor."""
        stop = self.current_stop
        if stop is None:
            return None
        return self.columns[self.rack].elevation.rack.id, stop.unit, stop.slot

    def go(self, rack_id: str, unit: int | None, slot: int | None) -> None:
        for r, column in enumerate(self.columns):
            if column.elevation.rack.id != rack_id:
                continue
            self._set_cursor(r, 0)
            if unit is not None:
                found = column.stop_at(unit, slot)
                if found is None:
                    found = next((i for i, s in enumerate(column.stops) if s.unit == unit), None)
                if found is not None:
                    self._set_cursor(r, found)
            return

    def devices_changed(self, serials: set[str]) -> None:
        """Redraw the lines of these devices (and the headers: a rack's draw may change)."""
        lines = {key for s in serials for key in self._lines_of.get(s, ())}
        if not lines:
            return
        for key in lines:
            self._cache.pop(key, None)
        top = round(self.scroll_y)
        ys = {line - top + HEADER_LINES for _, line in lines}
        ys = {y for y in ys if HEADER_LINES <= y < self.size.height}
        if len(ys) > self.size.height // 2:  # most of the view: one refresh, not one per line
            self.refresh()
            return
        for y in ys:
            self.refresh_line(y)
        self.refresh_line(0)

    def redraw(self) -> None:
        self._cache.clear()
        self.refresh()

    # ---- layout --------------------------------------------------------------------------
    def _column_width(self) -> int:
        # the vertical scrollbar's cell kept whether or not it shows: no sideways scrollbar
        room = max(1, (self.size.width or 80) - self.styles.scrollbar_size_vertical)
        n = max(1, len(self.elevations))
        per_screen = max(1, room // MIN_COLUMN)
        return max(MIN_COLUMN if n > per_screen else 1, min(MAX_COLUMN, room // min(n, per_screen)))

    def _relayout(self) -> None:
        width = self._column_width()
        self._width = width
        self.columns = [layout(e, width) for e in self.elevations]
        self._cache.clear()
        self._lines_of = {}
        for r, column in enumerate(self.columns):
            for i, line in enumerate(column.lines):
                for s in line.stops:
                    for face in ("front", "rear"):
                        serial = occupant(line.unit, column.stops[s].slot, face)
                        if serial:
                            self._lines_of.setdefault(serial, []).append((r, i))
        height = max((len(c.lines) for c in self.columns), default=0) + HEADER_LINES
        self.virtual_size = Size(width * len(self.columns), height)
        self.rack = min(self.rack, max(0, len(self.columns) - 1))
        stops = len(self.columns[self.rack].stops) if self.columns else 0
        self.stop = min(self.stop, max(0, stops - 1))
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        if self.elevations and self._column_width() != self._width:
            keep = self.where()
            self._relayout()
            if keep is not None:
                self.go(*keep)

    # ---- drawing -------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        if not self.columns:
            return Strip.blank(self.size.width, self.rich_style)
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        # only the racks on screen are drawn (at 80 columns one of a room's twenty)
        first = min(len(self.columns) - 1, scroll_x // self._width)
        last = min(len(self.columns), -(-(scroll_x + width) // self._width))
        segments: list[Segment] = []
        if y < HEADER_LINES:
            for r in range(first, last):
                segments.append(header(self.columns[r], self.rows, self.face, r == self.rack))
        else:
            index = scroll_y + y - HEADER_LINES
            for r in range(first, last):
                segments.extend(self._column_line(r, index))
        x0 = first * self._width
        strip = Strip(segments, (last - first) * self._width).crop(
            scroll_x - x0, scroll_x - x0 + width
        )
        self.painted = True
        return strip.extend_cell_length(width).apply_style(self.rich_style)

    def _column_line(self, r: int, index: int) -> list[Segment]:
        key = (r, index)
        found = self._cache.get(key)
        if found is None:
            column = self.columns[r]
            marks = Marks(
                cursor=self.stop if r == self.rack else None,
                moving=self.moving[1] if self.moving and self.moving[0] == r else None,
                overlay=self.overlay,
                face=self.face,
            )
            found = self._cache[key] = render_line(column, index, self.rows, marks)
        return found

    def set_overlay(self, overlay: Overlay) -> None:
        self.overlay = overlay
        self.redraw()

    def set_face(self, face: str) -> None:
        self.face = face
        self._relayout()

    def set_moving(self, moving: tuple[int, int] | None) -> None:
        old = self.moving
        self.moving = moving
        for m in (old, moving):
            if m is not None:
                self._forget(m[0], m[1])

    # ---- cursor --------------------------------------------------------------------------
    @property
    def current_column(self) -> RackColumn | None:
        return self.columns[self.rack] if self.columns else None

    @property
    def current_stop(self) -> Stop | None:
        column = self.current_column
        if column is None or not column.stops:
            return None
        return column.stops[self.stop]

    def _forget(self, r: int, stop: int) -> None:
        column = self.columns[r] if r < len(self.columns) else None
        if column is None or stop >= len(column.stops):
            return
        line = column.stops[stop].line
        self._cache.pop((r, line), None)
        y = line - round(self.scroll_y) + HEADER_LINES
        if HEADER_LINES <= y < self.size.height:
            self.refresh_line(y)

    def _set_cursor(self, r: int, stop: int) -> None:
        old_rack, old_stop = self.rack, self.stop
        self.rack, self.stop = r, stop
        if self.columns:
            self._forget(old_rack, old_stop)
            self._forget(r, stop)
            if old_rack != r:
                self.refresh_line(0)
            self._show_cursor()

    def _show_cursor(self) -> None:
        stop = self.current_stop
        if stop is None:
            return
        column = self.columns[self.rack]
        x = self.rack * self._width
        region = Region(x + column.label_width + stop.x, stop.line + HEADER_LINES, stop.width, 1)
        # the whole rack's column when it fits, so moving between racks shows all of one
        if self._width <= self.scrollable_content_region.width:
            region = Region(x, region.y, self._width, 1)
        self.scroll_to_region(
            region, spacing=Spacing(top=HEADER_LINES), animate=False, immediate=True, force=True
        )

    def action_move(self, dx: int, dy: int) -> None:
        column = self.current_column
        stop = self.current_stop
        if column is None or stop is None:
            return
        group = column.groups[stop.group]
        k = group.index(self.stop)
        if dy:
            g = stop.group + dy
            if not 0 <= g < len(column.groups):
                return
            target = column.groups[g]
            self._set_cursor(self.rack, target[min(k, len(target) - 1)])
        elif 0 <= k + dx < len(group):
            self._set_cursor(self.rack, group[k + dx])
        else:
            r = self.rack + dx
            if not 0 <= r < len(self.columns) or not self.columns[r].stops:
                return
            other = self.columns[r]
            line = stop.line
            near = min(
                range(len(other.groups)),
                key=lambda g: abs(other.stops[other.groups[g][0]].line - line),
            )
            target = other.groups[near]
            self._set_cursor(r, target[0] if dx > 0 else target[-1])
        self.post_message(self.Moved())

    def action_edge(self, direction: int) -> None:
        column = self.current_column
        if column is None or not column.groups:
            return
        group = column.groups[0 if direction < 0 else -1]
        self._set_cursor(self.rack, group[0])
        self.post_message(self.Moved())

    def action_page(self, direction: int) -> None:
        column = self.current_column
        stop = self.current_stop
        if column is None or stop is None:
            return
        page = max(1, self.size.height - HEADER_LINES - 1)
        want = stop.line + direction * page
        g = min(
            range(len(column.groups)),
            key=lambda i: abs(column.stops[column.groups[i][0]].line - want),
        )
        self._set_cursor(self.rack, column.groups[g][0])
        self.post_message(self.Moved())
