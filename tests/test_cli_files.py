"""Files and folders the command line makes, and the ones it must not: a mistyped `--db` or
`--out` is said (exit 2), never turned into a new fleet or a new folder with `mkdir -p`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet_tui.cli import main
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook


def _env(tmp_path: Path) -> dict[str, str]:
    """A home of its own: nothing the test runs may touch the user's real one."""
    return {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }


def _cli(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet_tui.cli", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _tree(root: Path) -> set[str]:
    """Every path under `root`, but a database's -wal and -shm (SQLite's own)."""
    return {
        str(p.relative_to(root)) for p in root.rglob("*") if not p.name.endswith(("-wal", "-shm"))
    }


def test_a_mistyped_db_is_said_and_never_made(tmp_path: Path) -> None:
    before = _tree(tmp_path)
    typo = tmp_path / "nonexistent" / "dir" / "x.db"
    out = _cli(tmp_path, "--db", str(typo), "hosts", "list")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(f"fleet-tui: {typo}: no such database")
    assert "--create" in out.stderr and len(out.stderr.splitlines()) == 1
    # a command that writes does not make the folder either
    out = _cli(tmp_path, "--db", str(typo), "hosts", "add", "10.0.0.7")
    assert out.returncode == 2 and "no folder" in out.stderr
    # nor the TUI, which says so before it starts
    out = _cli(tmp_path, "--db", str(typo), timeout=120)
    assert out.returncode == 2 and "no such database" in out.stderr
    out = _cli(tmp_path, "--db", str(typo), "demo", "--headless", "--devices", "1")
    assert out.returncode == 2 and "no such database" in out.stderr
    assert _tree(tmp_path) == before


def test_a_db_that_does_not_exist_is_made_only_by_a_command_that_writes_or_create(
    tmp_path: Path,
) -> None:
    db = tmp_path / "x.db"
    out = _cli(tmp_path, "--db", str(db), "hosts", "list")  # a reading command: no new fleet
    assert out.returncode == 2 and "no such database" in out.stderr and not db.exists()
    out = _cli(tmp_path, "--db", str(db), "hosts", "add", "10.0.0.7")  # its folder exists
    assert out.returncode == 0 and db.exists()
    fresh = tmp_path / "new" / "site" / "fleet.db"
    out = _cli(tmp_path, "--db", str(fresh), "--create", "hosts", "list")
    assert out.returncode == 0 and fresh.exists(), out.stderr
    # the TUI is opened to look at a fleet: a --db that is not there is a typo, folder or not
    out = _cli(tmp_path, "--db", str(tmp_path / "flet.db"), timeout=120)
    assert out.returncode == 2 and "no such database" in out.stderr
    assert not (tmp_path / "flet.db").exists()


def test_the_default_database_is_made_on_first_use(tmp_path: Path) -> None:
    out = _cli(tmp_path, "hosts", "list")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "data" / "fleet-tui" / "fleet.db").is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["hosts", "list"],
        ["hosts", "forget", "x", "--yes"],
        ["hosts", "jump"],
        ["discover", "--no-save", "--timeout", "0.1"],
        ["poll"],
        ["snapshot", "out.db"],
        ["merge", "peer.db", "--dry-run"],
        ["conflicts"],
        ["device", "edit", "x", "--label", "y"],
        ["device", "forget", "x"],
        ["export", "devices"],
        ["export", "inventory", "--csv"],
        ["identify", "--all"],
        ["reboot", "--all", "--yes"],
        ["ops"],
        ["ops", "show", "x"],
        ["ops", "dismiss", "x"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_every_command_that_reads_the_db_refuses_one_that_is_not_there(
    tmp_path: Path,
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path)
    db = tmp_path / "typo.db"
    assert main(["--db", str(db), *argv]) == 2
    assert f"{db}: no such database" in capsys.readouterr().err
    assert _tree(tmp_path) == before


def test_export_out_and_snapshot_and_agent_never_make_a_folder(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as s:
        DeviceBook(s).upsert("100", hostname="pi-a")
    before = _tree(tmp_path)
    for argv in (
        ["export", "inventory", "--csv", "--out", str(tmp_path / "nonexistent" / "x.csv")],
        ["snapshot", str(tmp_path / "usb" / "me.db")],
        ["agent", "build", "--output", str(tmp_path / "nonexistent" / "agent.pyz")],
    ):
        out = _cli(tmp_path, "--db", str(db), *argv)
        assert out.returncode == 2, (argv, out.stderr)
        assert "no such folder" in out.stderr and len(out.stderr.splitlines()) == 1
    assert _tree(tmp_path) == before
    out = _cli(tmp_path, "--db", str(db), "export", "inventory", "--out", str(tmp_path))
    assert out.returncode == 2 and "is a directory" in out.stderr
    good = tmp_path / "inventory.csv"
    out = _cli(tmp_path, "--db", str(db), "export", "inventory", "--out", str(good))
    assert out.returncode == 0 and good.read_text().startswith("serial,hostname")
    assert sorted(_tree(tmp_path) - before) == ["inventory.csv"]  # no temporary left beside it


def test_a_folder_given_as_a_file_or_a_socket_in_no_folder_is_said(tmp_path: Path) -> None:
    out = _cli(tmp_path, "--db", str(tmp_path), "hosts", "list")
    assert out.returncode == 2 and f"{tmp_path}: is a directory" in out.stderr
    sock = tmp_path / "nonexistent" / "demo.sock"
    out = _cli(tmp_path, "demo", "--headless", "--devices", "1", "--socket", str(sock))
    assert out.returncode == 2 and out.stderr == (
        f"fleet-tui demo: --socket {sock}: no such folder {sock.parent}\n"
    )
