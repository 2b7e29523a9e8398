"""A long Rich Text drawn line by line: a Line-API widget that renders only the lines on screen.

For views that are many lines of already-styled text (the heat maps of a room of racks): a
`Static` would lay out and render every line of it on each update; this one keeps the lines
and turns a line into a strip only when it is scrolled into view (cached until the next
`show`). Lines are cut at the widget's width with an ellipsis, never wrapped.
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class TextLines(ScrollView):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Text] = []
        self._cache: dict[tuple[int, int], Strip] = {}
        self.painted = False  # a line of content was drawn (benchmarks)

    def show(self, text: Text) -> None:
        """Draw `text`: its lines (split at newlines), the view scrolled where it was."""
        self.lines = list(text.split("\n", allow_blank=True)) if text.plain else []
        if self.lines and not self.lines[-1].plain:
            self.lines.pop()
        self._cache.clear()
        self.virtual_size = Size(0, len(self.lines))  # cut at the width: no sideways scroll
        self.refresh()

    @property
    def plain(self) -> str:
        """The text shown (every line, not just those on screen): for tests and exports."""
        return "\n".join(line.plain for line in self.lines)

    def render_line(self, y: int) -> Strip:
        _, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        if not 0 <= index < len(self.lines) or width <= 0:
            return Strip.blank(max(0, width), self.rich_style)
        key = (index, width)
        strip = self._cache.get(key)
        if strip is None:
            line = self.lines[index].copy()
            line.end = ""
            line.truncate(width, overflow="ellipsis")
            strip = Strip(list(line.render(self.app.console)), line.cell_len)
            strip = strip.extend_cell_length(width).apply_style(self.rich_style)
            self._cache[key] = strip
            self.painted = True
        return strip
