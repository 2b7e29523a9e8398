"""core/tabular.py: CSV/TSV as spreadsheets write them, read with line numbers, or refused."""

from __future__ import annotations

import codecs

import pytest

from fleet_tui.core.tabular import TableError, decode, detect_delimiter, read_table


def _rows(text: str, delimiter: str | None = None) -> list[tuple[int, dict[str, str]]]:
    return [(r.line, r.cells) for r in read_table(text, delimiter).rows]


def test_excel_in_europe_semicolons_bom_crlf() -> None:
    raw = codecs.BOM_UTF8 + "Host;Port;Name\r\n10.0.0.1;22;Küche, oben\r\n".encode()
    table = read_table(decode(raw))
    assert (table.columns, table.delimiter, table.format) == (("host", "port", "name"), ";", "csv")
    assert _rows(decode(raw)) == [(2, {"host": "10.0.0.1", "port": "22", "name": "Küche, oben"})]


def test_tsv_and_utf16_unicode_text() -> None:
    text = "host\tname\r\n10.0.0.1\tRack 1, top\r\n"
    assert read_table(text).format == "tsv"
    assert _rows(text) == [(2, {"host": "10.0.0.1", "name": "Rack 1, top"})]
    assert decode(text.encode("utf-16")) == text  # Excel's "Unicode Text" (LE, with a BOM)
    assert decode(codecs.BOM_UTF16_BE + text.encode("utf-16-be")) == text


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("host", None),
        ("host,port", ","),
        ("host;port", ";"),
        ("host\tport", "\t"),
        ("host|port", "|"),
        ('"host;x",port', ","),  # quotes honoured
        ("host;port,name;user", ";"),  # most columns wins
        ("a,b;c", ","),  # a tie: the first of tab , ; |
        ("10.0.0.1 pi-a", None),
    ],
)
def test_delimiter_from_the_header(header: str, delimiter: str | None) -> None:
    assert detect_delimiter(header) == delimiter


def test_line_numbers_count_blank_comment_and_multi_line_rows() -> None:
    text = '# exported\n\nhost,name\n10.0.0.1,"two\nlines"\n\n# skip\n10.0.0.2,b\n10.0.0.3\n'
    table = read_table(text)
    assert table.header_line == 3
    assert _rows(text) == [
        (4, {"host": "10.0.0.1", "name": "two\nlines"}),
        (8, {"host": "10.0.0.2", "name": "b"}),
        (9, {"host": "10.0.0.3", "name": ""}),  # a short row: empty cells
    ]


def test_unnamed_columns_are_dropped_and_a_repeated_one_refused() -> None:
    assert _rows("host;;port;\n10.0.0.1;x;22;y\n") == [(2, {"host": "10.0.0.1", "port": "22"})]
    with pytest.raises(TableError, match="'name' appears twice") as exc:
        read_table("# c\nhost,Name,name\n10.0.0.1,a,b\n")
    assert exc.value.line == 2


def test_no_header_and_the_line_cap() -> None:
    with pytest.raises(TableError, match="no header row"):
        read_table("\n# only a comment\n")
    table = read_table("host\n" + "10.0.0.1\n" * 20, max_lines=10)
    assert len(table.rows) == 9
    assert [(p.line, p.message) for p in table.problems] == [
        (11, "more than 10 lines; the rest is not read")
    ]


def test_a_bad_row_is_a_problem_and_reading_goes_on() -> None:
    huge = "x" * (200 * 1024)  # beyond csv's field size limit
    table = read_table(f'host,name\n10.0.0.1,"{huge}"\n10.0.0.2,b\n')
    assert [p.line for p in table.problems] == [2] and "not valid CSV" in table.problems[0].message
    assert [r.cells["host"] for r in table.rows] == ["10.0.0.2"]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "an .xlsx or .ods spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "an .xls spreadsheet"),
        (b"SQLite format 3\x00" + b"\x00" * 100, "a binary file"),
    ],
)
def test_what_is_not_text_is_named(raw: bytes, why: str) -> None:
    with pytest.raises(TableError, match=why.replace(".", r"\.")) as exc:
        decode(raw)
    assert "save it as CSV or TSV" in str(exc.value)


def test_bytes_that_are_not_utf8_are_replaced_not_fatal() -> None:
    assert (
        decode("host,name\n10.0.0.1,Küche\n".encode("cp1252")) == "host,name\n10.0.0.1,K\ufffdche\n"
    )
