"""`fleet-tui identify|reboot|ops` against the simulated fleet (real SSH on 127.0.0.1), including
a CLI process killed in the middle of a reboot wave."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from lab_support import cli, known_fleet, ssh_args

from fleet_tui.cli import main
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.model import OpStatus, StepStatus
from fleet_tui.core.sim.lab import SimLab, SimPi
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog


def _requests(pi: SimPi) -> list[str]:
    path = pi.root / "sim/requests"
    return path.read_text().split() if path.exists() else []


_known_fleet = known_fleet  # a database that knows the lab's Pis (lab_support.py)


async def test_identify_streams_progress_as_json_lines_and_logs_every_device(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _known_fleet(lab, tmp_path, capsys)
    names = [pi.hostname for pi in lab.pis[:2]]
    code, rows, _ = await cli(capsys, db, "identify", *names, "--json", *ssh_args(lab, tmp_path))
    assert code == 0
    assert rows[0]["event"] == "started" and rows[-1]["event"] == "finished"
    assert rows[-1]["status"] == "done" and rows[-1]["progress"]["ok"] == 2
    ok = {r["step"]["hostname"] for r in rows if r.get("step", {}).get("status") == "ok"}
    assert ok == set(names)
    with Store.open(db) as store:
        assert "identify_done" in [e.kind for e in EventLog(store).recent(lab.pis[0].serial)]
        assert "identify" not in [e.kind for e in EventLog(store).recent(lab.pis[2].serial)]


async def test_reboot_asks_for_yes_without_a_terminal_and_sends_nothing(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _known_fleet(lab, tmp_path, capsys)
    code, _, err = await cli(capsys, db, "reboot", lab.pis[0].hostname, *ssh_args(lab, tmp_path))
    assert code == 64 and "--yes" in err
    assert _requests(lab.pis[0]) == []


async def test_unknown_or_ambiguous_devices_are_refused_before_anything_runs(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _known_fleet(lab, tmp_path, capsys)
    code, _, err = await cli(
        capsys, db, "reboot", lab.pis[0].hostname, "no-such-pi", "--yes", *ssh_args(lab, tmp_path)
    )
    assert code == 2 and "'no-such-pi': no such device" in err  # nothing to make exact
    assert _requests(lab.pis[0]) == []
    code, _, err = await cli(capsys, db, "identify", "127.0.0.1", *ssh_args(lab, tmp_path))
    assert code == 64 and "names 3 devices" in err


async def test_reboot_all_then_the_cooldown_refuses_a_second_one_unless_forced(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _known_fleet(lab, tmp_path, capsys)
    ssh = ssh_args(lab, tmp_path)
    code, rows, _ = await cli(capsys, db, "reboot", "--all", "--yes", "--json", *ssh)
    assert code == 0 and rows[-1]["progress"]["ok"] == 3
    assert all(_requests(pi) == ["reboot"] for pi in lab.pis)
    code, rows, _ = await cli(capsys, db, "reboot", lab.pis[0].serial, "--yes", "--json", *ssh)
    assert code == 2 and rows[-1]["progress"]["refused"] == 1
    assert _requests(lab.pis[0]) == ["reboot"]
    forced = ["--db", str(db), "reboot", lab.pis[0].serial, "--yes", "--force", *ssh]
    code = await asyncio.to_thread(main, forced)
    assert code == 0 and _requests(lab.pis[0]) == ["reboot", "reboot"]
    header, row = capsys.readouterr().out.splitlines()  # for people: a header over the steps
    assert header.split() == ["DEVICE", "STATUS", "MESSAGE"]
    assert row.split()[:2] == [lab.pis[0].hostname, "ok"]
    code, rows, _ = await cli(capsys, db, "ops", "list", "--json")
    assert [r["status"] for r in rows] == ["done", "failed", "done"]  # newest first
    code = await asyncio.to_thread(main, ["--db", str(db), "ops"])
    assert code == 0 and "Reboot 3 devices" in capsys.readouterr().out


async def test_a_killed_cli_leaves_the_operation_interrupted_and_resume_finishes_it(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _known_fleet(lab, tmp_path, capsys)
    await lab.apply("all:slow-link=1.5")  # each reboot answers after ~1.5 s
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleet_tui.cli",
        "--db",
        str(db),
        "reboot",
        "--all",
        "--yes",
        "--concurrency",
        "1",
        *ssh_args(lab, tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    op_id = None
    with Store.open(db) as watcher:
        journal = OperationJournal(watcher)
        for _ in range(400):  # until one device is done and the next one is in flight
            ops = journal.operations()
            if ops:
                op_id = ops[0].id
                p = journal.progress(op_id)
                if p.ok >= 1 and p.running == 1:
                    break
            await asyncio.sleep(0.05)
    assert op_id is not None
    proc.send_signal(signal.SIGKILL)  # no chance to clean up: the laptop's battery died
    await proc.wait()

    code, rows, _ = await cli(capsys, db, "ops", "list", "--json")
    assert code == 0 and rows[0]["id"] == op_id and rows[0]["status"] == "interrupted"
    code = await asyncio.to_thread(main, ["--db", str(db), "ops", "show", op_id[-4:]])
    assert code == 0 and f"fleet-tui ops resume {op_id}" in capsys.readouterr().out
    code, (detail,), _ = await cli(capsys, db, "ops", "show", op_id, "--json")
    statuses = [s["status"] for s in detail["steps"]]
    assert statuses.count("ok") == 1 and statuses.count("interrupted") == 1
    assert statuses.count("pending") == 1

    await lab.clear("all", "slow-link")
    code, rows, _ = await cli(
        capsys, db, "ops", "resume", op_id, "--yes", "--json", *ssh_args(lab, tmp_path)
    )
    assert code == 1  # partial: the unknown step stays unknown, nothing ran twice
    assert rows[-1]["progress"]["ok"] == 2 and rows[-1]["progress"]["unknown"] == 1
    with Store.open(db) as store:
        journal = OperationJournal(store)
        op = journal.get(op_id)
        assert op.status is OpStatus.PARTIAL and op.attempt == 2
        by_serial = {s.serial: s.status for s in journal.steps(op_id)}
    for pi in lab.pis:  # every Pi got at most one reboot
        assert _requests(pi).count("reboot") <= 1
        if by_serial[pi.serial] is StepStatus.OK:
            assert _requests(pi) == ["reboot"]


async def test_dismiss_and_cancel_say_what_they_did(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _known_fleet(lab, tmp_path, capsys)
    with Store.open(db) as store:
        journal = OperationJournal(store)
        op = journal.create("identify", "Identify 1 device", [DeviceTarget(lab.pis[0].serial, "x")])
        store.set_row("operations", op.id, pid=2**22 + 11, pid_start="gone")
    code, _, err = await cli(capsys, db, "ops", "cancel", op.id)
    assert code == 64 and "is interrupted, not running" in err
    code, _, _ = await cli(capsys, db, "ops", "dismiss", op.id)
    assert code == 0
    code, (row,), _ = await cli(capsys, db, "ops", "show", op.id, "--json")
    assert row["status"] == "abandoned"
    code, _, err = await cli(capsys, db, "--readonly", "ops", "dismiss", op.id)
    assert code == 2 and "read" in err  # refused, like every modifying command


async def test_strings_from_a_merged_journal_are_shown_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A peer's database is untrusted: its operations print with escapes, never as ANSI."""
    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        journal = OperationJournal(store)
        op = journal.create(
            "identify",
            "Identify \x1b[2J1 device",
            [DeviceTarget("s\x1b[31m1", "[bold red]pi[/]\x07")],
            who="mallory\x1b]0;pwned\x07",
        )
        journal.set_step(op.id, "s\x1b[31m1", StepStatus.FAILED, "boom \x1b[5m")
    for argv in (["ops"], ["ops", "show", op.id]):
        code = await asyncio.to_thread(main, ["--db", str(db), *argv])
        out = capsys.readouterr().out
        assert code == 0 and "\x1b" not in out and "\x07" not in out
        assert "\\x1b" in out
