"""Manual hosts: spec parsing, text/CSV import, the hosts table and per-site jump hosts."""

from __future__ import annotations

import pytest

from fleet_tui.core.net.hosts import (
    HostBook,
    HostEntry,
    HostSpec,
    HostSpecError,
    entry_from_spec,
    parse_list,
    parse_spec,
)
from fleet_tui.core.store.database import Store
from fleet_tui.core.tabular import decode


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("pi-07", HostSpec("pi-07")),
        ("Pi-07.Local", HostSpec("pi-07.local")),
        ("pi@10.0.0.7", HostSpec("10.0.0.7", None, "pi")),
        ("pi@10.0.0.7:2222", HostSpec("10.0.0.7", 2222, "pi")),
        ("[fd00::7]:22", HostSpec("fd00::7", 22)),
        ("admin@[FD00:0::7]", HostSpec("fd00::7", None, "admin")),
        ("fd00::7", HostSpec("fd00::7")),
        ("fe80::1%eth0", HostSpec("fe80::1%eth0")),
        ("  rack3-pi_12  ", HostSpec("rack3-pi_12")),
    ],
)
def test_good_specs(text: str, spec: HostSpec) -> None:
    assert parse_spec(text) == spec


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("pi@", "no host"),
        ("pi@host:0", "port must be"),
        ("host:65536", "port must be"),
        ("host:ssh", "port must be"),
        ("bad user@host", "spaces"),
        ("host;reboot", "not an IP address or host name"),
        ("$(reboot)", "not an IP address or host name"),
        ("-oProxyCommand=x", "not an IP address or host name"),
        ("\x1b[2Jhost", "control characters"),
        ("[10.0.0.1]:22", "brackets are for IPv6"),
        ("[fd00::1:22", "missing ']'"),
        ("999.1.1.1", "not an IP address or host name"),
        ("-x@host", "not a user name"),
        ("a" * 400, "longer than"),
        ("fe80::1%eth0;x", "bad interface"),
    ],
)
def test_bad_specs_say_why(text: str, why: str) -> None:
    with pytest.raises(HostSpecError, match=why.replace("(", r"\(").replace("]", r"\]")) as exc:
        parse_spec(text)
    assert "\x1b" not in str(exc.value)


def test_text_list_import_reports_bad_lines_with_their_numbers() -> None:
    text = "# site A\npi@10.0.0.1 rack 1 top\n10.0.0.2:2222\n\nbad:host here\n[fd00::3]:22 # ipv6\nx;y\n"
    entries, problems = parse_list(text)
    assert [(e.host, e.port, e.user, e.name) for e in entries] == [
        ("10.0.0.1", None, "pi", "rack 1 top"),
        ("10.0.0.2", 2222, None, None),
        ("fd00::3", 22, None, None),
    ]
    assert [p.line for p in problems] == [5, 7]
    assert all(e.source == "import" for e in entries)


def test_csv_import_with_aliases_and_defaults() -> None:
    text = (
        "Address,Port,User,Name,Site\n"
        "10.0.0.1,22,pi,Rack 1 \x1b[31mU1,lab\n"
        "fd00::2,2222,,,\n"
        "# a comment row\n"
        "10.0.0.3,notaport,,,\n"
    )
    entries, problems = parse_list(text, jump="ops@jump.example:2200")
    assert [(e.host, e.port, e.user, e.name, e.site, e.jump) for e in entries] == [
        ("10.0.0.1", 22, "pi", "Rack 1 [31mU1", "lab", "ops@jump.example:2200"),
        ("fd00::2", 2222, None, None, None, "ops@jump.example:2200"),
    ]
    assert [p.line for p in problems] == [5] and "port" in problems[0].message
    _, no_host = parse_list("name,port\nx,22\n", fmt="csv")
    assert no_host and "no host column" in no_host[0].message


def test_tsv_as_a_spreadsheet_exports_it() -> None:
    text = "Hostname\tPort\tName\tSite\n10.0.0.1\t2222\tRack 1, top\thq\n\t\t\t\nfd00::2\t\t\t\n"
    for fmt in ("auto", "tsv", "csv"):
        entries, problems = parse_list(text, fmt)
        assert problems == [], fmt
        assert [(e.host, e.port, e.name, e.site) for e in entries] == [
            ("10.0.0.1", 2222, "Rack 1, top", "hq"),
            ("fd00::2", None, None, None),
        ]


def test_csv_with_bom_and_semicolons_as_excel_in_europe_writes_it() -> None:
    raw = (
        b"\xef\xbb\xbfIP;User;Name\r\n10.0.0.1;pi;K\xc3\xbcche, Regal 2\r\n10.0.0.2;;\r\npi 3;;\r\n"
    )
    entries, problems = parse_list(decode(raw))
    assert [(e.host, e.user, e.name) for e in entries] == [
        ("10.0.0.1", "pi", "Küche, Regal 2"),
        ("10.0.0.2", None, None),
    ]
    assert [p.line for p in problems] == [4] and "spaces" in problems[0].message


def test_columns_pasted_from_a_spreadsheet_and_names_with_commas_are_text_lists() -> None:
    entries, problems = parse_list("10.0.0.1\tPi A\n10.0.0.2 Rack 1, top\n")
    assert problems == []
    assert [(e.host, e.name) for e in entries] == [
        ("10.0.0.1", "Pi A"),
        ("10.0.0.2", "Rack 1, top"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        '[\n  {"host": "10.0.0.1"},\n  {"host": "10.0.0.2"}\n]\n',  # JSON
        "<!DOCTYPE html>\n<html>\n<body>hosts</body>\n</html>\n",
        "name;port\npi-a;22\n",  # a table without a host column
        "\x1b[2J;x\nMeeting: notes\n",
    ],
)
def test_a_file_that_is_neither_is_one_problem(text: str) -> None:
    entries, problems = parse_list(text)
    assert entries == [] and len(problems) == 1
    assert problems[0].line == 1 and problems[0].message.startswith("neither a host list")
    assert "no host column (host, address, ip, hostname)" in problems[0].message
    assert "\x1b" not in problems[0].message


def test_table_errors_keep_line_numbers_and_escape_what_they_show() -> None:
    _, problems = parse_list("host,name\n\x1b[31mpi,a\nok-host,b\n", fmt="csv")
    assert [p.line for p in problems] == [2] and "\x1b" not in problems[0].message
    _, dup = parse_list("host,name,NAME\n10.0.0.1,a,b\n")
    assert [(p.line, p.message) for p in dup] == [(1, "column 'name' appears twice in the header")]


@pytest.mark.parametrize(
    "text", ["10.0.0.1\n" * 10_001, "host\n" + "10.0.0.1\n" * 10_000], ids=["text", "csv"]
)
def test_an_import_stops_at_ten_thousand_lines(text: str) -> None:
    entries, problems = parse_list(text)
    assert len(entries) in (9_999, 10_000)
    assert [p.line for p in problems] == [10_001] and "more than 10000 lines" in problems[0].message


def test_hosts_table_round_trip_and_rediscovery_keeps_typed_fields(store: Store) -> None:
    book = HostBook(store)
    typed = book.add(entry_from_spec("pi@10.0.0.7:22", name="door controller", site="hq"))
    assert typed.id == "10.0.0.7:22" and typed.added is not None
    # mDNS finds the same endpoint later: it adds the claimed serial, keeps the typed name
    book.add(HostEntry("10.0.0.7", 22, name="pi-07", serial="10000000abcdef01", source="mdns"))
    (row,) = book.entries()
    assert (row.name, row.user, row.site, row.source, row.serial) == (
        "door controller",
        "pi",
        "hq",
        "manual",
        "10000000abcdef01",
    )
    assert book.find("door controller") == [row] and book.find("10.0.0.7") == [row]
    via = book.add(entry_from_spec("10.0.0.7:22", jump="ops@jump:2200"))
    assert via.id == "10.0.0.7:22 via ops@jump:2200"
    assert len(book.entries()) == 2
    book.forget(typed.id)
    assert [e.id for e in book.entries()] == [via.id]


def test_an_unchanged_rediscovery_writes_nothing(store: Store) -> None:
    book = HostBook(store)
    book.add(HostEntry("10.0.0.8", 22, name="pi-08", source="mdns"))
    version = store.get_row("hosts", "10.0.0.8:22")
    book.add(HostEntry("10.0.0.8", 22, name="pi-08", source="mdns"))
    assert store.get_row("hosts", "10.0.0.8:22") == version


def test_site_jump_setting(store: Store) -> None:
    book = HostBook(store)
    assert book.site_jump("hq") is None
    book.set_site_jump("hq", "ops@jump.example:2200")
    assert book.site_jump("hq") == "ops@jump.example:2200"
    with pytest.raises(HostSpecError):
        book.set_site_jump("hq", "not a host")
    assert book.site_jump("hq") == "ops@jump.example:2200"  # a bad value loses nothing
    book.set_site_jump("hq", None)
    assert book.site_jumps() == {}
