"""The README's exit codes, held for every command: 0 success, 1 partial, 2 failure, 64 usage
error, 130 interrupted.

Each documented code is run here through a real path of its own (real SQLite files, real
processes where the shell sees the code: argparse's errors, a terminal's answers, Ctrl-C).
The SSH paths to a lab of Pis are proven beside their commands: poll 0/1 (test_poll_cli),
identify/reboot/resume 0/1/2 (test_ops_cli), sync 1 (test_sync_cli), demo 2 (test_cli).
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleet_tui.cli import build_parser, main
from fleet_tui.core.net.hosts import HostBook
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog

ROOT = Path(__file__).resolve().parent.parent
CHECKED = {0, 1, 2, 64, 130}


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }


def _code(argv: list[str]) -> int:
    """main()'s exit code, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


def test_the_readme_documents_exactly_the_codes_checked_here() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("\nExit codes") :].split("\n\n")[0]
    assert {int(c) for c in re.findall(r"`(\d+)` ", paragraph)} == CHECKED


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand the parser knows, as the words that name it."""
    found = [path] if path else []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(build_parser())


def test_every_command_is_checked() -> None:
    names = {c[0] for c in COMMANDS}
    assert {"hosts", "poll", "export", "ops", "identify", "reboot", "demo", "sync"} <= names


# ---- 64: usage errors, argparse's own included ----------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unknown_option_is_a_usage_error_for_every_command(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _code(["--db", str(tmp_path / "x.db"), *command, "--no-such-option"]) == 64
    err = capsys.readouterr().err  # the option, or a required argument missing before it
    assert err.startswith("usage: fleet-tui") and ": error: " in err and "Traceback" not in err
    assert not (tmp_path / "x.db").exists()


def test_usage_errors_exit_64_in_the_shell(tmp_path: Path) -> None:
    for argv, says in (
        (["--no-such-option"], "unrecognized arguments"),
        (["no-such-command"], "invalid choice"),
        (["hosts"], "required"),  # an action is required
        (["poll", "--concurrency", "many"], "invalid int value"),
        (["poll", "--concurrency", "0"], "between 1 and 1024"),  # the command's own check
        (["hosts", "add", "pi@"], "hosts add:"),
        (["demo", "--devices", "0"], "--devices"),
        (["export", "nonsense"], "unknown kind"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "fleet_tui.cli", "--db", str(tmp_path / "x.db"), *argv],
            cwd=tmp_path,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 64, (argv, out.stderr)
        assert says in out.stderr and "Traceback" not in out.stderr, (argv, out.stderr)
    out = subprocess.run(
        [sys.executable, "-m", "fleet_tui.cli", "--help"],
        env=_env(tmp_path),
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0


# ---- 0: success -------------------------------------------------------------------------------


def test_success_is_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as s:
        DeviceBook(s).upsert("10000000aaaa0001", hostname="pi-a", address="10.0.0.7")
    peer = tmp_path / "peer.db"
    with Store.open(peer) as s:
        DeviceBook(s).upsert("10000000aaaa0002", hostname="pi-b")
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("10.0.1.1 top\n10.0.1.2\n")
    for argv in (
        ["hosts", "add", "10.0.0.9"],
        ["hosts", "import", str(hosts)],
        ["hosts", "list"],
        ["hosts", "jump", "ops@gw.example"],
        ["hosts", "forget", "10.0.0.9", "--yes"],
        ["device", "edit", "pi-a", "--label", "shelf 2"],
        ["export", "inventory", "--csv", "--out", str(tmp_path / "inv.csv")],
        ["export", "health"],
        ["export", "events"],
        ["export", "devices"],
        ["snapshot", str(tmp_path / "snap.db")],
        ["merge", str(peer), "--dry-run"],
        ["merge", str(peer)],
        ["conflicts"],
        ["ops"],
        ["device", "forget", "pi-b"],
        ["agent", "build", "--output", str(tmp_path / "agent.pyz")],
        ["demo", "faults"],
    ):
        assert _code(["--db", str(db), *argv]) == 0, (argv, capsys.readouterr().err)
    capsys.readouterr()
    assert _code(["--version"]) == 0


# ---- 1: partial failure -----------------------------------------------------------------------


def test_partial_failure_is_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fleet.db"
    Store.open(db).close()
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("10.0.1.1\n10.0.1.2:notaport\n")
    assert _code(["--db", str(db), "hosts", "import", str(hosts), "--skip-invalid"]) == 1
    # a peer whose copy of an event differs from ours: merged, and the corrupt row reported
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    with Store.open(theirs) as s:
        EventLog(s).record(None, "x", "original")
        snap = tmp_path / "snap.db"
        assert _code(["--db", str(theirs), "snapshot", str(snap)]) == 0
    assert _code(["--db", str(ours), "merge", str(snap)]) == 0
    c = sqlite3.connect(ours)
    c.execute("UPDATE events SET message = 'tampered' WHERE kind = 'x'")
    c.commit()
    c.close()
    again = tmp_path / "again.db"
    assert _code(["--db", str(theirs), "snapshot", str(again)]) == 0
    capsys.readouterr()
    assert _code(["--db", str(ours), "merge", str(again)]) == 1
    assert "CORRUPTION events" in capsys.readouterr().out


# ---- 2: failure -------------------------------------------------------------------------------


def test_failure_is_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as s:  # a device nothing answers for: port 1 of loopback refuses
        DeviceBook(s).upsert("10000000aaaa0001", hostname="pi-a", address="127.0.0.1", port=1)
    ssh = ["--connect-timeout", "2", "--no-ssh-agent", "-F", os.devnull]
    assert _code(["--db", str(db), "poll", "--timeout", "5", *ssh]) == 2  # all unreachable
    assert _code(["--db", str(db), "identify", "pi-a", "--timeout", "5", *ssh]) == 2  # all failed
    assert _code(["--db", str(db), "identify", "pi-nope"]) == 2  # names no device
    assert _code(["--db", str(tmp_path / "typo.db"), "hosts", "list"]) == 2  # no such database
    assert _code(["--db", str(db), "merge", str(tmp_path / "nope.db")]) == 2
    assert _code(["--db", str(db), "hosts", "import", str(tmp_path)]) == 2  # a folder
    assert _code(["--db", str(db), "device", "forget", "nope"]) == 2
    assert _code(["--db", str(db), "ops", "show", "nope"]) == 2
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv",
    [
        ["hosts", "add", "10.0.0.1"],
        ["hosts", "import", "hosts.txt"],
        ["hosts", "forget", "x", "--yes"],
        ["hosts", "jump", "ops@gw.example"],
        ["trust", "10.0.0.1", "--yes"],
        ["merge", "peer.db"],
        ["sync", "jump.example"],
        ["conflicts", "resolve", "r1/5/0", "--keep", "pa"],
        ["device", "edit", "x", "--label", "y"],
        ["device", "forget", "x"],
        ["identify", "--all"],
        ["reboot", "--all", "--yes"],
        ["ops", "resume", "x", "--yes"],
        ["ops", "dismiss", "x"],
        ["ops", "cancel", "x"],
    ],
    ids=" ".join,
)
def test_readonly_refuses_every_change_with_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    Store.open(db).close()
    before = db.read_bytes()
    assert _code(["--db", str(db), "--readonly", *argv]) == 2
    assert "--readonly" in capsys.readouterr().err
    assert db.read_bytes() == before


# ---- 2 and 130 at a terminal: declined, and Ctrl-C --------------------------------------------


def _on_a_terminal(
    tmp_path: Path, argv: list[str], prompt: str
) -> tuple[subprocess.Popen[bytes], int, bytearray]:
    """Start the CLI on a pseudo-terminal and wait (bounded) until it asks `prompt`."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet_tui.cli", *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + 60
    while prompt.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, f"no prompt {prompt!r}: {seen.decode()!r}"
        ready, _, _ = select.select([master], [], [], min(left, 1.0))
        if ready:
            seen += os.read(master, 4096)
    return proc, master, seen


def _finish(proc: subprocess.Popen[bytes], master: int, seen: bytearray) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=60)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other side is gone
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
    return code, seen.decode(errors="replace")


def test_a_declined_confirmation_is_2_and_ctrl_c_is_130(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as s:
        DeviceBook(s).upsert("10000000aaaa0001", hostname="pi-a", address="127.0.0.1", port=1)
    assert main(["--db", str(db), "hosts", "add", "10.0.0.7"]) == 0
    forget = ["--db", str(db), "hosts", "forget", "10.0.0.7"]

    proc, master, seen = _on_a_terminal(tmp_path, forget, "[y/N]")
    os.write(master, b"n\n")
    code, said = _finish(proc, master, seen)
    assert code == 2 and "not confirmed, nothing changed" in said

    proc, master, seen = _on_a_terminal(tmp_path, ["--db", str(db), "reboot", "pi-a"], "Type")
    os.write(master, b"pi-b\n")  # not the word asked for
    code, said = _finish(proc, master, seen)
    assert code == 2 and "not confirmed; nothing was done" in said

    proc, master, seen = _on_a_terminal(tmp_path, forget, "[y/N]")
    proc.send_signal(signal.SIGINT)
    code, said = _finish(proc, master, seen)
    assert code == 130 and "Traceback" not in said
    with Store.open(db) as s:  # neither answer changed anything
        assert [h.id for h in HostBook(s).entries()] == ["10.0.0.7"]
