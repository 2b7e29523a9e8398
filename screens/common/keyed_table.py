"""A DataTable made to show an ordered list of keyed rows, touching only what changed.

`sync()` adds and removes rows by key, replaces only the cells whose text or style changed
(all of them in one refresh, not one refresh per cell), reorders without rebuilding, and keeps
the cursor on the same device (also when its row is re-keyed), so live updates never flicker or move the cursor to another
row. A big change (a new filter hiding hundreds of rows) rebuilds the table once instead of
hundreds of `remove_row` calls, each of which re-lays it.

Laid out for 80 columns: no cell padding, one blank cell right of each column instead (so a
column costs its width + 1, not + 2), and text that does not fit ends in `…`. Columns named in
`wrap` wrap onto more lines instead (a message, a fingerprint: rows grow to fit), and the
`flex` column takes whatever width the others leave.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual import events
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from fleet_tui.screens.common.format import Cell, SafeCell, as_cell

REBUILD_AFTER = 24  # more removals than this in one sync: rebuild instead
GAP = 1  # blank cells right of a column

CellsFn = Callable[[str], Sequence[Cell]]


class WrapCell:
    """A table cell of text already made safe that wraps at spaces (and folds a word longer
    than the column, such as a key fingerprint) instead of being cut; never markup."""

    __slots__ = ("gap", "plain", "style")

    def __init__(self, plain: str, style: str = "", gap: int = 0) -> None:
        self.plain = plain
        self.style = style
        self.gap = gap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = Text(self.plain, style=self.style, overflow="fold", end="")
        yield from console.render(text, options.update_width(max(1, options.max_width - self.gap)))

    def __str__(self) -> str:
        return self.plain

    def __repr__(self) -> str:
        return f"WrapCell({self.plain!r}, {self.style!r})"


class KeyedTable(DataTable[SafeCell | WrapCell]):
    def __init__(
        self,
        columns: Sequence[tuple[str, str, int]],
        zebra_stripes: bool = True,
        *,
        wrap: Collection[str] = (),
        flex: str | None = None,
        tight: Collection[str] = (),
        **kwargs: object,
    ) -> None:
        """`columns`: (key, label, width in cells); `wrap`: columns whose text wraps (rows
        grow); `flex`: the column that takes the width the others leave (at least its own);
        `tight`: columns with no blank cell to their right (a one-cell mark)."""
        super().__init__(
            cursor_type="row",
            zebra_stripes=zebra_stripes,
            cell_padding=0,
            **kwargs,  # type: ignore[arg-type]
        )
        self._columns = [key for key, _, _ in columns]
        self._column_keys = [ColumnKey(key) for key in self._columns]
        self._spec = list(columns)
        self._gaps = [0 if key in tight else GAP for key in self._columns]
        self._wrap = frozenset(i for i, key in enumerate(self._columns) if key in wrap)
        self._flex = self._columns.index(flex) if flex is not None else None
        self._order: list[str] = []
        self._shown: dict[str, tuple[Cell, ...]] = {}

    def on_mount(self) -> None:
        for (key, label, width), gap in zip(self._spec, self._gaps, strict=True):
            self.add_column(label, key=key, width=width + gap)
        self._fit_flex()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_flex()

    def _fit_flex(self) -> None:
        """Give the flex column the width the others leave (a scrollbar's worth kept)."""
        i = self._flex
        if i is None or not self.size.width:
            return
        column = self.columns.get(self._column_keys[i])
        if column is None:
            return
        others = sum(
            w + g
            for j, ((_, _, w), g) in enumerate(zip(self._spec, self._gaps, strict=True))
            if j != i
        )
        room = self.size.width - self.styles.scrollbar_size_vertical - others
        width = max(self._spec[i][2] + self._gaps[i], room)
        if width != column.width:
            column.width = width
            shown, keep_key, keep_row = dict(self._shown), self.cursor_key, self.cursor_row
            self._rebuild(self._order, lambda key: shown[key])  # rows measured again
            self._restore_cursor(keep_key, keep_row)

    def _cell(self, i: int, c: Cell) -> SafeCell | WrapCell:
        if i in self._wrap:
            return WrapCell(c[0], c[1], self._gaps[i])
        return as_cell(c, self._gaps[i])

    def _add(self, key: str, row: tuple[Cell, ...]) -> None:
        cells = [self._cell(i, c) for i, c in enumerate(row)]
        self.add_row(*cells, key=key, height=None if self._wrap else 1)
        self._shown[key] = row

    @property
    def order(self) -> list[str]:
        return list(self._order)

    @property
    def cursor_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def set_header(self, key: str, label: str) -> None:
        column = self.columns.get(ColumnKey(key))
        if column is not None:
            column.label = Text(label)
            self._update_count += 1
            self.refresh()

    def show_column(self, key: str) -> None:
        """Scroll sideways so the column `key` (its header) is on screen, e.g. the one just
        sorted by: at 80 columns most of the fleet table is off to the right."""
        index = self._columns.index(key) if key in self._columns else -1
        if index < 0 or not self.ordered_columns:
            return
        x = sum(c.get_render_width(self) for c in self.ordered_columns[:index])
        width = self.ordered_columns[index].get_render_width(self)
        view = self.scrollable_content_region.width
        if x + width <= view:
            target = 0  # fits without scrolling: show the table from its start
        elif x < self.scroll_x:
            target = x
        elif x + width > self.scroll_x + view:
            target = x + width - view
        else:
            return  # on screen already
        if target != self.scroll_x:
            self.scroll_to(x=max(0, target), animate=False, immediate=True)

    def sync(
        self,
        order: list[str],
        cells: CellsFn,
        changed: set[str],
        renamed: Mapping[str, str] | None = None,
    ) -> None:
        """Show exactly `order`; `changed` are keys whose cells may differ from what is shown;
        `renamed` (old key -> new key): rows now shown under another key, the cursor follows."""
        keep_key, keep_row = self.cursor_key, self.cursor_row
        if keep_key is not None and renamed:
            keep_key = renamed.get(keep_key, keep_key)
        wanted = set(order)
        removed = [k for k in self._order if k not in wanted]
        if len(removed) > REBUILD_AFTER:
            self._rebuild(order, cells)
        else:
            for key in removed:
                self.remove_row(key)
                self._shown.pop(key, None)
            self._order = [k for k in self._order if k in wanted]
            present = set(self._order)
            updates: list[tuple[str, int, Cell]] = []
            regrown: list[str] = []  # wrapped text changed: the row's height may change
            for key in order:
                if key not in present:
                    self._add(key, tuple(cells(key)))
                    self._order.append(key)
                elif key in changed:
                    new = tuple(cells(key))
                    old = self._shown[key]
                    if new == old:
                        continue
                    if any(new[i] != old[i] for i in self._wrap):
                        regrown.append(key)
                    else:
                        updates += [(key, i, c) for i, c in enumerate(new) if c != old[i]]
                    self._shown[key] = new
            self._set_cells(updates)
            for key in regrown:  # added again (measured again), then put back in place
                self.remove_row(key)
                self._add(key, self._shown[key])
            if self._order != order or regrown:
                self._reorder(order)
        self._restore_cursor(keep_key, keep_row)

    def _set_cells(self, updates: list[tuple[str, int, Cell]]) -> None:
        """Replace cells by row key, then refresh once (update_cell refreshes per call)."""
        if not updates:
            return
        data = getattr(self, "_data", None)
        if data is None:  # a Textual without the private map: the public way
            for key, i, c in updates:
                self.update_cell(key, self._columns[i], self._cell(i, c))
            return
        for key, i, c in updates:
            data[RowKey(key)][self._column_keys[i]] = self._cell(i, c)
        self._update_count += 1
        self.refresh()

    def update_column(self, key: str, column: str, value: Cell) -> None:
        old = self._shown.get(key)
        if old is None:
            return
        index = self._columns.index(column)
        self.update_cell(key, column, self._cell(index, value))
        self._shown[key] = (*old[:index], value, *old[index + 1 :])

    def _reorder(self, order: list[str]) -> None:
        # What DataTable.sort does, with an order we computed (it only sorts by cell values).
        self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(order)})
        self._order = list(order)
        self._update_count += 1
        self.refresh()

    def _rebuild(self, order: list[str], cells: CellsFn) -> None:
        scroll_y = self.scroll_y
        self.clear()
        self._shown.clear()
        for key in order:
            self._add(key, tuple(cells(key)))
        self._order = list(order)
        self.scroll_to(y=scroll_y, animate=False, immediate=True)

    def _restore_cursor(self, key: str | None, old_row: int) -> None:
        if not self._order:
            return
        if key is not None and key in self._shown:
            row = self._order.index(key)
        else:
            row = min(old_row, len(self._order) - 1)
        if row != self.cursor_row:
            self.move_cursor(row=row, animate=False)
