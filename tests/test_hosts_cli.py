"""`fleet-tui hosts add|list|import|forget|jump` and `discover`: exit codes, --json, errors."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import socket
from pathlib import Path

import pytest
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from fleet_tui.cli import main
from fleet_tui.core.net.hosts import HostBook
from fleet_tui.core.sim.lab import LOOPBACK
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog


def run(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_forget_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fleet.db"
    code, out, _ = run(capsys, db, "hosts", "add", "pi@10.0.0.7:2222", "--name", "door", "--json")
    assert code == 0 and json.loads(out)["id"] == "10.0.0.7:2222"
    code, out, _ = run(capsys, db, "hosts", "add", "10.0.0.8", "--jump", "ops@jump.example:2200")
    assert code == 0 and "10.0.0.8 via ops@jump.example:2200" in out
    code, out, _ = run(capsys, db, "hosts", "list", "--json", "--no-ssh-config")
    rows = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert rows["10.0.0.7:2222"]["user"] == "pi" and rows["10.0.0.7:2222"]["host_key"] is None
    assert (
        rows["10.0.0.8 via ops@jump.example:2200"]["route"] == "10.0.0.8:22 via jump.example:2200"
    )
    code, _, err = run(capsys, db, "hosts", "forget", "door")
    assert code == 64 and "--yes" in err  # no terminal to ask: refused, not assumed
    code, out, _ = run(capsys, db, "hosts", "forget", "door", "--yes")
    assert code == 0 and "forgotten 10.0.0.7:2222" in out
    with Store.open(db) as store:
        assert [e.id for e in HostBook(store).entries()] == ["10.0.0.8 via ops@jump.example:2200"]
        assert EventLog(store).recent()[0].kind == "host_forgotten"


@pytest.mark.parametrize("spec", ["", "pi@", "host:99999", "a b", "$(reboot)", "\x1b[2J"])
def test_bad_specs_are_usage_errors_that_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str
) -> None:
    db = tmp_path / "fleet.db"
    code, out, err = run(capsys, db, "hosts", "add", spec)
    assert code == 64 and out == "" and err.startswith("fleet-tui: hosts add:")
    assert "\x1b" not in err
    with Store.open(db) as store:
        assert HostBook(store).entries() == []


def test_import_is_all_or_nothing_unless_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    listing = tmp_path / "site.txt"
    listing.write_text("# rack 1\npi@10.0.1.1 top\n10.0.1.2:2222\n10.0.1.3:notaport spare\n")
    code, out, err = run(capsys, db, "hosts", "import", str(listing))
    assert code == 2 and f"{listing}:4:" in err and "nothing imported" in err
    with Store.open(db) as store:
        assert HostBook(store).entries() == []
    code, out, err = run(
        capsys, db, "hosts", "import", str(listing), "--skip-invalid", "--site", "hq"
    )
    assert code == 1 and out.count("added") == 2
    csv_file = tmp_path / "site.csv"
    csv_file.write_text("host,port,user,name\n10.0.2.1,22,pi,a\n[fd00::2],,,b\n")
    code, out, _ = run(capsys, db, "hosts", "import", str(csv_file), "--json")
    assert code == 0 and [json.loads(x)["host"] for x in out.splitlines()] == [
        "10.0.2.1",
        "fd00::2",
    ]
    binary = tmp_path / "x.db"
    binary.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    code, _, err = run(capsys, db, "hosts", "import", str(binary))
    assert code == 2 and "binary" in err
    code, _, err = run(capsys, db, "hosts", "import", str(tmp_path / "missing.txt"))
    assert code == 2 and "cannot read" in err
    with Store.open(db) as store:
        assert len(HostBook(store).entries()) == 4


def test_import_reads_spreadsheet_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "fleet.db"
    tsv = tmp_path / "rack.tsv"  # "Unicode Text" from Excel: UTF-16, tab-separated
    tsv.write_bytes("Hostname\tPort\tName\r\n10.0.3.1\t2222\tRack 1, top\r\n".encode("utf-16"))
    code, out, _ = run(capsys, db, "hosts", "import", str(tsv), "--json")
    assert code == 0 and [
        (r["host"], r["port"], r["name"]) for r in map(json.loads, out.splitlines())
    ] == [("10.0.3.1", 2222, "Rack 1, top")]
    eu = tmp_path / "site.csv"  # Excel "CSV UTF-8" where the decimal separator is a comma
    eu.write_bytes("\ufeffIP;User;Name\r\n10.0.3.2;pi;K\u00fcche\r\n".encode())
    code, out, _ = run(capsys, db, "hosts", "import", str(eu), "--json")
    assert code == 0 and json.loads(out)["name"] == "K\u00fcche"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(eu.read_bytes())))
    code, out, _ = run(capsys, db, "hosts", "import", "-", "--dry-run")
    assert code == 0 and out == "would add 10.0.3.2\n"
    with Store.open(db) as store:
        assert {e.host for e in HostBook(store).entries()} == {"10.0.3.1", "10.0.3.2"}


def test_import_names_a_file_that_is_no_host_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps([{"host": f"10.0.4.{i}"} for i in range(50)], indent=2))
    code, out, err = run(capsys, db, "hosts", "import", str(notes))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{notes}:1: neither a host list") and len(lines) == 2
    xlsx = tmp_path / "hosts.xlsx"
    xlsx.write_bytes(b"PK\x03\x04" + bytes(200))
    code, _, err = run(capsys, db, "hosts", "import", str(xlsx))
    assert code == 2 and ".xlsx" in err and "save it as CSV or TSV" in err
    with Store.open(db) as store:
        assert HostBook(store).entries() == []


def test_site_jump_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fleet.db"
    assert run(capsys, db, "hosts", "jump", "--site", "hq", "ops@gw.example")[0] == 0
    code, out, _ = run(capsys, db, "hosts", "jump", "--site", "hq", "--json")
    assert code == 0 and json.loads(out) == {"site": "hq", "jump": "ops@gw.example"}
    assert run(capsys, db, "hosts", "jump", "--site", "hq", "bad host")[0] == 64
    assert run(capsys, db, "--readonly", "hosts", "jump", "--clear", "--site", "hq")[0] == 2
    code, out, _ = run(capsys, db, "hosts", "jump", "--site", "hq", "--clear")
    assert code == 0 and "none (direct)" in out


def test_readonly_refuses_every_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fleet.db"
    for argv in (
        ["hosts", "add", "10.0.0.1"],
        ["hosts", "forget", "x", "--yes"],
        ["trust", "10.0.0.1", "--repin", "--yes"],
    ):
        code, _, err = run(capsys, db, "--readonly", *argv)
        assert code == 2 and "--readonly" in err


async def test_discover_on_loopback_saves_candidates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = secrets.token_hex(3)
    zc = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
    info = ServiceInfo(
        "_pifleet._tcp.local.",
        f"pi-{tag}._pifleet._tcp.local.",
        addresses=[socket.inet_aton(LOOPBACK)],
        port=2299,
        server=f"pi-{tag}.local.",
        properties={b"serial": b"10000000aaaa0001", b"model": b"Raspberry Pi 5"},
    )
    await zc.async_register_service(info)
    db = tmp_path / "fleet.db"
    try:
        code, out, _ = await asyncio.to_thread(
            run, capsys, db, "discover", "--interface", LOOPBACK, "--timeout", "1.5", "--json"
        )
        code_text, text, _ = await asyncio.to_thread(
            run, capsys, db, "discover", "--interface", LOOPBACK, "--timeout", "1.5", "--no-save"
        )
    finally:
        await zc.async_unregister_all_services()
        await zc.async_close()
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[-1]["discovery"]["stopped"] in ("quiet", "timeout")  # the pass, last
    mine = [r for r in rows[:-1] if r["name"] == f"pi-{tag}"]
    assert mine and mine[0]["serial"] == "10000000aaaa0001" and mine[0]["port"] == 2299
    assert code_text == 0
    header, *rows = text.splitlines()
    assert header.split() == ["NAME", "ENDPOINT", "SERVICES", "SERIAL", "MODEL"]
    assert any(r.split()[:2] == [f"pi-{tag}", f"{LOOPBACK}:2299"] for r in rows), text
    with Store.open(db) as store:
        (entry,) = [e for e in HostBook(store).entries() if e.port == 2299]
    assert (
        entry.source == "mdns" and entry.serial == "10000000aaaa0001" and entry.name == f"pi-{tag}"
    )
    bad_if = await asyncio.to_thread(
        run, capsys, db, "discover", "--interface", "nosuchif0", "--timeout", "0.5"
    )
    assert bad_if[0] == 64 and "no such interface" in bad_if[2]
    assert (await asyncio.to_thread(run, capsys, db, "discover", "--timeout", "0"))[0] == 64
