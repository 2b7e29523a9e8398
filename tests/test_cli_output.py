"""What the command line prints for people: a header over every table, a sentence when a table
is empty, and times as the CSVs write them (ISO-8601 with the zone offset)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet_tui.cli import main
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.store.database import Store


def run(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_hosts_list_has_a_header_and_says_when_there_are_no_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    Store.open(db).close()
    code, out, err = run(capsys, db, "hosts", "list", "--no-ssh-config")
    assert code == 0 and err == ""
    assert out == "no hosts yet — fleet-tui discover or hosts add\n"
    code, out, _ = run(capsys, db, "hosts", "list", "--json")
    assert code == 0 and out == ""  # JSON lines: no rows, no header, no prose
    assert run(capsys, db, "hosts", "add", "pi@10.0.0.7:2222", "--name", "door")[0] == 0
    code, out, _ = run(capsys, db, "hosts", "list", "--no-ssh-config")
    header, row = out.splitlines()
    assert header.split() == ["HOST", "USER", "NAME", "SOURCE", "SERIAL", "HOST", "KEY"]
    assert row.split()[:4] == ["10.0.0.7:2222", "pi", "door", "manual"]
    assert row.index("pi") == header.index("USER") and row.index("door") == header.index("NAME")
    code, out, _ = run(capsys, db, "hosts", "list", "--json", "--no-ssh-config")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["10.0.0.7:2222"]


def test_poll_prints_a_header_over_its_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    # nothing listens on port 1 of loopback: refused at once, a row all the same
    argv = ["poll", "--host", "127.0.0.1:1", "--timeout", "5", "--connect-timeout", "2"]
    code, out, _ = run(capsys, db, *argv)
    assert code == 2
    header, row = out.splitlines()
    assert header.split() == ["DEVICE", "ROUTE", "MODEL", "TEMP", "THROTTLED"]
    assert row.startswith("127.0.0.1") and "unreachable" in row
    code, out, _ = run(capsys, db, *argv, "--json")
    assert code == 2 and [json.loads(line)["reachable"] for line in out.splitlines()] == [False]


def test_ops_show_has_a_header_over_the_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        op = OperationJournal(store).create(
            "identify", "Identify 1 device", [DeviceTarget("10000000aaaa0001", "pi-a")]
        )
    code, out, _ = run(capsys, db, "ops", "show", op.id)
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["DEVICE"])
    assert lines[header].split() == ["DEVICE", "SERIAL", "STATUS", "MESSAGE"]
    assert lines[header + 1].split()[:3] == ["pi-a", "10000000aaaa0001", "pending"]
