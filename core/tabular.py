"""Tables people make by hand (CSV or TSV from a spreadsheet), read defensively.

What a customer mails or a technician exports is untrusted and varies: UTF-8 with or without
a byte-order mark (Excel's "CSV UTF-8"), UTF-16 (Excel's "Unicode Text", tab-separated), `;`
instead of `,` (Excel where the decimal separator is a comma), tabs (a spreadsheet's "TSV" or
copy and paste), `|`, or a spreadsheet that was never exported. `decode` turns the bytes into
text or says what the file is instead; `read_table` takes the first line that is not blank or a
comment as the header, splits it on whichever of tab, `,`, `;`, `|` gives the most columns
(`detect_delimiter`), and returns every row with the line it starts on, so that callers
validate cells themselves and report `FILE:LINE: why`. Messages show the file's text escaped.

The standard library's `csv` does the parsing. sqlite-utils' `rows_from_file` was weighed for
this and not used: it reads a first line `[fd00::1]:22` as JSON, lets `csv.Sniffer` pick any
character as the delimiter (`p` in a plain host list), fails on a one-column file and on bytes
that are not UTF-8, keeps only the last of two same-named columns and drops line numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from fleet_tui.core.text import visible

DELIMITERS = ("\t", ",", ";", "|")  # order breaks ties
MAX_LINES = 10_000
_SPREADSHEETS = (
    (b"PK\x03\x04", "a zip file (an .xlsx or .ods spreadsheet?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an .xls spreadsheet or another Office file"),
)
_EXPORT_HINT = "save it as CSV or TSV (or as text) and import that"


class TableError(ValueError):
    """The input cannot be read as a table at all; the message says why."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


@dataclass(frozen=True)
class Row:
    line: int  # the file's line this row starts on (1-based, blank and comment lines counted)
    cells: dict[str, str]  # column name -> the cell, stripped ("" when the row is short)


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]  # header cells stripped and lower-cased; "" for an unnamed column
    delimiter: str
    header_line: int
    rows: tuple[Row, ...]
    problems: tuple[Problem, ...]  # rows that are not valid CSV, lines past the limit

    @property
    def format(self) -> str:
        return "tsv" if self.delimiter == "\t" else "csv"

    def first_column(self, names: Iterable[str]) -> str | None:
        """The first of `names` (lower-case) that the header has."""
        return next((n for n in names if n in self.columns), None)


def decode(raw: bytes) -> str:
    """Text from a file's bytes: UTF-8 (a byte-order mark dropped) or, by its byte-order mark,
    UTF-16; bytes that are not UTF-8 become U+FFFD. A spreadsheet or any other binary file
    raises TableError naming what it looks like."""
    for magic, what in _SPREADSHEETS:
        if raw.startswith(magic):
            raise TableError(f"{what}, not text: {_EXPORT_HINT}")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16", errors="replace")
    else:
        text = raw.decode("utf-8-sig", errors="replace")
    if "\x00" in text[:4096]:
        raise TableError(f"a binary file, not text, CSV or TSV: {_EXPORT_HINT}")
    return text


def first_line(text: str, comment: str = "#") -> tuple[int, str] | None:
    """(line number, line) of the first line that is neither blank nor a comment."""
    for number, line in enumerate(text.splitlines()[:MAX_LINES], start=1):
        if line.strip() and not line.lstrip().startswith(comment):
            return number, line
    return None


def split_line(line: str, delimiter: str) -> list[str]:
    """One line's cells (quotes honoured); the whole line when it does not parse."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return [line]


def detect_delimiter(header: str, candidates: Iterable[str] = DELIMITERS) -> str | None:
    """Of `candidates`, the one that splits a header line into the most cells (the first
    listed wins a tie); None when none splits it."""
    best, cells = None, 1
    for delimiter in candidates:
        n = len(split_line(header, delimiter))
        if n > cells:
            best, cells = delimiter, n
    return best


def read_table(
    text: str, delimiter: str | None = None, *, max_lines: int = MAX_LINES, comment: str = "#"
) -> Table:
    """A header row and the rows under it. The delimiter is detected from the header unless
    given. Blank rows and rows whose first cell starts with `comment` are skipped; a row that
    is not valid CSV becomes a Problem and reading goes on; past `max_lines` lines reading
    stops with a Problem. No header row, or a column named twice, raises TableError."""
    if delimiter is None:
        found = first_line(text, comment)
        delimiter = (detect_delimiter(found[1]) if found else None) or ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: tuple[str, ...] | None = None
    header_line = 0
    rows: list[Row] = []
    problems: list[Problem] = []
    start = 1  # the line the next row starts on
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(reader.line_num, f"not valid CSV: {exc}"))
            if reader.line_num < start:  # no progress: never loop on the same input
                break
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if line > max_lines:
            problems.append(Problem(line, f"more than {max_lines} lines; the rest is not read"))
            break
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith(comment):
            continue
        if columns is None:
            columns, header_line = _header(cells, line), line
            continue
        rows.append(
            Row(
                line,
                {
                    name: (cells[i].strip() if i < len(cells) else "")
                    for i, name in enumerate(columns)
                    if name
                },
            )
        )
    if columns is None:
        raise TableError("no header row", problems[0].line if problems else 1)
    return Table(columns, delimiter, header_line, tuple(rows), tuple(problems))


def _header(cells: list[str], line: int) -> tuple[str, ...]:
    columns = tuple(c.strip().lower() for c in cells)
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            raise TableError(f"column {visible(name, 60)!r} appears twice in the header", line)
        seen.add(name)
    return columns
