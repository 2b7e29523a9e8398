"""`fleet-tui rack …`, `place`, `unplace`: what a technician types, what they read, exit codes,
and that a refused command writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet_tui.cli import main
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook

PI1, PI2, PI3 = "1000000012345678", "10000000abcdef01", "00000000c2b8e4a1"


def run(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _rows(db: Path) -> dict[str, int]:
    """Every row (live or tombstoned) of the tables a rack command may write."""
    tables = ("racks", "rack_trays", "rack_items", "placements", "events")
    with Store.open(db) as s:
        return {t: s.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "fleet.db"
    with Store.open(path) as s:
        d = DeviceBook(s)
        d.upsert(PI1, hostname="pi-4b-017", address="10.0.0.7")
        d.upsert(PI2, hostname="pi-5-002")
        d.upsert(PI3, hostname="evil\x1b[2Jpi", label="A-17")
    code, out, _ = run(
        capsys,
        path,
        "rack",
        "add",
        "R2",
        "--room",
        "Lab",
        "--site",
        "HQ",
        "--height",
        "12",
        "--budget-w",
        "600",
    )
    assert code == 0 and "rack R2 added: 12U, room Lab, site HQ" in out
    assert run(capsys, path, "rack", "tray", "R2", "8", "--slots", "4")[0] == 0
    code, out, _ = run(
        capsys,
        path,
        "rack",
        "item",
        "R2",
        "1",
        "--height",
        "2",
        "--kind",
        "pdu",
        "--label",
        "PDU A",
    )
    assert code == 0 and "pdu 'PDU A' in R2 U1-U2" in out
    return path


def test_place_by_any_name_move_and_show(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, db, "place", "pi-4b-017", "R2:8/2")
    assert (code, out.strip()) == (0, "pi-4b-017 placed in R2 U8 slot 2")
    # the serial without its leading zeros, as a barcode prints it; --rear
    code, out, _ = run(capsys, db, "place", "c2b8e4a1", "R2:U8/2", "--rear")
    assert code == 0 and out.strip() == "evil\\x1b[2Jpi placed in R2 U8 slot 2 rear"
    code, out, _ = run(capsys, db, "place", "10.0.0.7", "R2:5", "--json")  # by address
    moved = json.loads(out)
    assert (code, moved["unit"], moved["slot"], moved["from"]) == (0, 5, None, "R2 U8 slot 2")
    code, out, _ = run(capsys, db, "place", "A-17", "R2:8/4")  # by label: a move
    assert out.strip() == "evil\\x1b[2Jpi moved from R2 U8 slot 2 rear to R2 U8 slot 4"
    code, out, _ = run(capsys, db, "rack", "show", "R2")
    assert code == 0 and "\x1b" not in out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0] == "rack R2: room Lab, site HQ, 12U, U1 at the bottom, budget 600 W"
    assert lines[1] == "U12-U9   free (4 units)"  # the top of the rack first
    assert lines[2] == "U8       tray of 4 slots"
    assert "slot 4" in lines[6] and "evil\\x1b[2Jpi" in lines[6] and PI3 in lines[6]
    assert lines[-1] == "2 device(s), 8 free unit(s)"
    assert any(line.startswith("U5") and "pi-4b-017" in line and PI1 in line for line in lines)
    assert any(line.startswith("U1 ") and "pdu 'PDU A' (2U, U1-U2)" in line for line in lines)
    code, out, _ = run(capsys, db, "rack", "show", "R2", "--json")
    shown = json.loads(out)
    units = {u["unit"]: u for u in shown["units"]}
    assert [u["unit"] for u in shown["units"]][:2] == [12, 11]
    assert units[8]["kind"] == "tray" and units[8]["slots"] == 4
    assert units[8]["devices"] == [
        {
            "id": units[8]["devices"][0]["id"],
            "serial": PI3,
            "hostname": "evil\x1b[2Jpi",
            "slot": 4,
            "face": "front",
        }
    ]
    assert units[5]["devices"][0]["hostname"] == "pi-4b-017"
    assert units[2]["kind"] == "covered" and units[1]["item"]["label"] == "PDU A"
    assert shown["free_units"] == [12, 11, 10, 9, 7, 6, 4, 3]
    code, out, _ = run(capsys, db, "unplace", "pi-4b-017")
    assert (code, out.strip()) == (0, "pi-4b-017 removed from R2 U5")
    code, _, err = run(capsys, db, "unplace", "pi-4b-017")
    assert code == 2 and "is not placed in a rack" in err


@pytest.mark.parametrize(
    ("argv", "code", "why"),
    [
        (("place", "pi-5-002", "R7:3"), 2, "unknown rack 'R7'"),
        (("place", "pi-5-002", "R2:13"), 2, "unit 13 is out of range: rack R2 has 12 units"),
        (
            ("place", "pi-5-002", "R2:8/2"),
            2,
            "R2 U8 slot 2 is taken by pi-4b-017 (1000000012345678)",
        ),
        (("place", "pi-5-002", "R2:8"), 2, "R2 U8 is a 4-slot tray: give a slot"),
        (("place", "pi-5-002", "R2:5/1"), 2, "R2 U5 is not a tray"),
        (("place", "pi-5-002", "R2:2"), 2, "R2 U2 is taken by pdu 'PDU A'"),
        (("place", "pi-5-002", "R2"), 64, "is not RACK:UNIT"),
        (("place", "nobody", "R2:3"), 2, "'nobody': no such device"),
        (("rack", "tray", "R2", "8", "--slots", "1"), 2, "move them first"),
        (
            ("rack", "item", "R2", "7", "--height", "2", "--kind", "shelf", "--label", "s"),
            2,
            "R2 U8 is a 4-slot tray",
        ),
        (("rack", "add", "R2", "--room", "lab", "--site", "HQ"), 2, "already exists"),
        (("rack", "show", "R9"), 2, "unknown rack 'R9'"),
        (("--readonly", "place", "pi-5-002", "R2:3"), 2, "refused, --readonly is on"),
        (("--readonly", "rack", "tray", "R2", "3", "--slots", "2"), 2, "--readonly"),
        (("--readonly", "unplace", "pi-4b-017"), 2, "--readonly"),
    ],
)
def test_bad_input_is_one_line_non_zero_and_writes_nothing(
    db: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], code: int, why: str
) -> None:
    assert run(capsys, db, "place", "pi-4b-017", "R2:8/2")[0] == 0
    before = _rows(db)
    args = list(argv)
    if args[0] == "--readonly":
        got, out, err = main(["--readonly", "--db", str(db), *args[1:]]), *capsys.readouterr()
    else:
        got, out, err = run(capsys, db, *args)
    assert got == code and why in err and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("fleet-tui: ")
    assert _rows(db) == before


def test_free_space_where_four_more_trays_fit(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(capsys, db, "rack", "add", "R3", "--room", "Lab", "--site", "HQ", "--height", "4")[0]
        == 0
    )
    assert (
        run(
            capsys,
            db,
            "rack",
            "item",
            "R3",
            "1",
            "--height",
            "2",
            "--kind",
            "switch",
            "--label",
            "core",
        )[0]
        == 0
    )
    code, out, _ = run(capsys, db, "rack", "free", "--room", "Lab", "--trays", "4", "--json")
    runs = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {r["rack"] for r in runs} == {"R2"}  # R3 has room for 2 only
    assert [(r["first"], r["last"], r["fits"]) for r in runs] == [(9, 12, 4), (3, 7, 5)]
    code, out, _ = run(capsys, db, "rack", "free", "--rack", "R3", "--trays", "3")
    assert code == 0 and "no rack has room for 3 tray(s) of 1U: at most 2 in R3" in out


def test_import_reports_bad_rows_by_line_and_imports_nothing(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = tmp_path / "layout.csv"
    # Excel in Europe: a byte-order mark, semicolons, CRLF
    layout.write_bytes(
        "\ufeffRack;Unit;Slot;Face;Serial;Hostname;Kind;Label;Height;Slots\r\n"
        "R2;10;;;;;tray;;;4\r\n"
        "R2;10;1;;;pi-4b-017;pi;;;\r\n"
        "R2;10;2;rear;c2b8e4a1;;;;;\r\n"
        "R2;13;;;;pi-5-002;;;;\r\n"
        "R9;3;;;;pi-5-002;;;;\r\n"
        "R2;11;;;;pi-4b-017;;;;\r\n"
        "R2;12;;;;ghost\x1b[31m;;;;\r\n"
        "R2;6;;;;;toaster;;;\r\n".encode()
    )
    before = _rows(db)
    code, out, err = run(capsys, db, "rack", "import", str(layout))
    assert code == 2 and out == ""
    assert f"{layout}:5: unit 13 is out of range: rack R2 has 12 units" in err
    assert f"{layout}:6: unknown rack 'R9'" in err
    assert f"{layout}:7: 1000000012345678 is placed twice (also on line 3)" in err
    line8 = next(line for line in err.splitlines() if line.startswith(f"{layout}:8: "))
    assert "'ghost\\" in line8 and "no such device" in line8  # escaped, never the escape
    assert f"{layout}:9: kind 'toaster' is not one of" in err
    assert "5 problem(s), nothing imported" in err and "\x1b" not in err
    assert _rows(db) == before
    code, out, err = run(capsys, db, "rack", "import", str(layout), "--skip-invalid", "--json")
    summary = json.loads(out)
    assert code == 1 and (summary["placed"], summary["trays"], summary["skipped"]) == (2, 1, 5)
    with Store.open(db) as s:
        book = RackBook(s)
        got = {(p.serial, p.unit, p.slot, p.face) for p in book.placements(book.find_rack("R2").id)}
    assert got == {(PI1, 10, 1, "front"), (PI3, 10, 2, "rear")}


def test_export_then_import_elsewhere_round_trips(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, db, "place", "pi-4b-017", "R2:8/3", "--rear")
    run(capsys, db, "place", "pi-5-002", "R2:5")
    out_file = tmp_path / "r2.csv"
    code, _, err = run(capsys, db, "rack", "export", "R2", "--csv", "--out", str(out_file))
    assert code == 0 and "row(s) written" in err
    text = out_file.read_text()
    assert text.splitlines()[0] == "rack,unit,slot,face,serial,hostname,kind,label,height,slots"
    assert f"R2,8,3,rear,{PI1},pi-4b-017,pi,,," in text
    # another laptop: the same devices and an empty rack of the same name
    other = tmp_path / "other.db"
    with Store.open(other) as s:
        DeviceBook(s).upsert(PI1, hostname="pi-4b-017")
        DeviceBook(s).upsert(PI2, hostname="pi-5-002")
        RackBook(s).add_rack("R2", room="Lab", site="HQ", height_u=12)
    code, out, _ = run(capsys, other, "rack", "import", str(out_file))
    assert code == 0 and "2 device(s) placed or moved, 1 tray(s), 1 item(s)" in out
    code, again, _ = run(capsys, other, "rack", "export", "R2", "--csv")
    assert again == text
    code, out, _ = run(capsys, other, "rack", "import", str(out_file))  # nothing new
    assert code == 0 and out.startswith("0 device(s) placed or moved, 0 tray(s), 0 item(s)")


def test_import_of_a_missing_file_or_a_spreadsheet_is_one_line(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, db, "rack", "import", str(tmp_path / "nope.csv"))
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "cannot read" in err
    xlsx = tmp_path / "layout.xlsx"
    xlsx.write_bytes(b"PK\x03\x04rest of a zip")
    code, _, err = run(capsys, db, "rack", "import", str(xlsx))
    assert code == 2 and "save it as CSV" in err and len(err.splitlines()) == 1


def test_a_renamed_pi_is_found_by_its_serial(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = tmp_path / "layout.csv"
    layout.write_text(
        "rack,unit,serial,hostname\n"
        f"R2,5,{PI1},old-name-of-pi-4b-017\n"  # the sheet still has the old name: fine
        f"R2,6,{PI2},pi-4b-017\n"  # but a hostname of another device is a mistake
    )
    code, _, err = run(capsys, db, "rack", "import", str(layout))
    assert code == 2 and f"{layout}:3: serial '{PI2}' and hostname 'pi-4b-017' are two" in err
    code, out, _ = run(capsys, db, "rack", "import", str(layout), "--skip-invalid")
    assert code == 1 and out.startswith("1 device(s) placed or moved")
