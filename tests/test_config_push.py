"""`fleet-tui config diff|push|rollback` against simulated Pis over real SSH with the real
agent: the file goes to /etc of each simulated Pi through its (fake) sudo."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from lab_support import cli, known_fleet, ssh_args, until

from fleet_tui.core.configs.book import ConfigBook, sha256
from fleet_tui.core.configs.desired import plan_push, push_params
from fleet_tui.core.fleet.pool_caller import PoolCaller
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.runner import OperationRunner
from fleet_tui.core.sim.lab import SimLab, SimPi
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog

TEMPLATE = "# ${config.name} v${config.version}\nhost=${device.hostname}\nvalid=yes\n"


async def _fleet(lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A database that knows the lab's Pis, and a config `app` for /etc/app/app.conf."""
    db = await known_fleet(lab, tmp_path, capsys)
    for pi in lab.pis:
        (pi.root / "etc/app").mkdir(parents=True, exist_ok=True)
        (pi.root / "etc/app/app.conf").write_text("original\n")
    await _add(capsys, db, tmp_path, TEMPLATE)
    return db


async def _add(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path, text: str, *extra: str
) -> None:
    tmpl = tmp_path / "app.conf.tmpl"
    tmpl.write_text(text)
    code, _, err = await cli(
        capsys,
        db,
        "config",
        "add",
        "app",
        "--path",
        "/etc/app/app.conf",
        "--template",
        str(tmpl),
        "--validate",
        "grep -q valid=yes %s",
        "--restart",
        "touch restarted",
        *extra,
    )
    assert code == 0, err


def _file(pi: SimPi) -> str:
    return (pi.root / "etc/app/app.conf").read_text()


async def _push(
    capsys: pytest.CaptureFixture[str], db: Path, lab: SimLab, tmp_path: Path, *argv: str
) -> tuple[int, list[dict], str]:
    return await cli(capsys, db, "config", *argv, "--yes", "--json", *ssh_args(lab, tmp_path))


async def _pushed_to_one(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, SimPi, str]:
    """The fleet, with `app` v1 pushed to its first Pi: (database, that Pi, its --to)."""
    db = await _fleet(lab, tmp_path, capsys)
    pi = lab.pis[0]
    to = f"host:{pi.hostname}"
    assert (await _push(capsys, db, lab, tmp_path, "push", "app", "--to", to))[0] == 0
    return db, pi, to


async def _diff(
    capsys: pytest.CaptureFixture[str], db: Path, lab: SimLab, tmp_path: Path, to: str
) -> tuple[int, list[dict], str]:
    return await cli(
        capsys, db, "config", "diff", "app", "--to", to, "--json", *ssh_args(lab, tmp_path)
    )


async def test_push_then_the_same_push_is_a_no_op(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(lab, tmp_path, capsys)
    one, two = lab.pis[0], lab.pis[1]
    code, rows, err = await _push(
        capsys, db, lab, tmp_path, "push", "app", "--to", f"host:{one.hostname},{two.hostname}"
    )
    assert code == 0, err
    assert rows[-1]["status"] == "done" and rows[-1]["progress"]["ok"] == 2
    assert _file(one) == f"# app v1\nhost={one.hostname}\nvalid=yes\n"
    assert _file(lab.pis[2]) == "original\n"  # not chosen
    assert (one.home / "restarted").exists()
    backups = list((one.root / "var/backups/fleet-tui/configs/app").iterdir())
    assert [b.read_text() for b in backups] == ["original\n"]
    (one.home / "restarted").unlink()

    code, rows, _ = await _push(
        capsys, db, lab, tmp_path, "push", "app", "--to", f"host:{one.hostname}"
    )
    steps = [r["step"] for r in rows if r.get("step", {}).get("status") == "ok"]
    assert code == 0 and steps[0]["message"].startswith("unchanged")
    assert not (one.home / "restarted").exists()  # nothing restarted
    assert len(list((one.root / "var/backups/fleet-tui/configs/app").iterdir())) == 1
    with Store.open(db) as store:
        pushes = ConfigBook(store).pushes("app", one.serial)
        assert [p.status for p in pushes] == ["written", "unchanged"]
        kinds = [e.kind for e in EventLog(store).recent(one.serial)]
        assert "config_push_done" in kinds and "config_push" in kinds


async def test_a_failing_validation_changes_nothing(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(lab, tmp_path, capsys)
    await _add(capsys, db, tmp_path, "host=${device.hostname}\nvalid=no\n")
    pi = lab.pis[0]
    code, rows, _ = await _push(
        capsys, db, lab, tmp_path, "push", "app", "--to", f"host:{pi.hostname}"
    )
    assert code == 2 and rows[-1]["status"] == "failed"
    failed = [r["step"] for r in rows if r.get("step", {}).get("status") == "failed"][0]
    assert "validation failed" in failed["message"]
    assert _file(pi) == "original\n" and not (pi.home / "restarted").exists()
    assert not (pi.root / "var/backups").exists()
    assert [p.name for p in (pi.root / "etc/app").iterdir()] == ["app.conf"]


async def test_drift_is_seen_after_a_hand_edit_and_rollback_restores_the_previous_version(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, pi, to = await _pushed_to_one(lab, tmp_path, capsys)
    code, rows, _ = await _diff(capsys, db, lab, tmp_path, to)
    assert code == 0 and rows[0]["state"] == "in-sync" and rows[0]["drift"] is False

    (pi.root / "etc/app/app.conf").write_text("hand edited\n")  # someone on the Pi, by hand
    code, rows, _ = await _diff(capsys, db, lab, tmp_path, to)
    assert rows[0]["state"] == "drift" and rows[0]["pushed_version"] == 1

    await _add(capsys, db, tmp_path, TEMPLATE.replace("valid=yes", "valid=yes\nextra=2"))
    assert (await _push(capsys, db, lab, tmp_path, "push", "app", "--to", to))[0] == 0
    assert "extra=2" in _file(pi) and "v2" in _file(pi)
    code, rows, err = await _push(capsys, db, lab, tmp_path, "rollback", "app", "--to", to)
    assert code == 0, err
    assert _file(pi) == f"# app v1\nhost={pi.hostname}\nvalid=yes\n"
    code, rows, err = await _push(
        capsys, db, lab, tmp_path, "rollback", "app", "--version", "2", "--to", to
    )
    assert code == 0 and "extra=2" in _file(pi)


async def test_diff_shows_unified_diffs_literally(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, pi, to = await _pushed_to_one(lab, tmp_path, capsys)
    (pi.root / "etc/app/app.conf").write_text("\x1b[2Jedited\n")
    code = await _text(capsys, db, "config", "diff", "app", "--to", to, *ssh_args(lab, tmp_path))
    text = capsys.readouterr().out
    assert code == 0 and ": drift, pushed v1" in text
    assert "+\\x1b[2Jedited" in text and "\x1b" not in text
    assert "-host=" in text and "a push would change" in text


async def _text(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> int:
    import asyncio

    from fleet_tui.cli import main

    capsys.readouterr()
    return await asyncio.to_thread(main, ["--db", str(db), *argv])


async def test_a_missing_variable_is_refused_before_anything_is_sent(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(lab, tmp_path, capsys)
    await _add(capsys, db, tmp_path, "site=${site.name}\nvalid=yes\n")
    code, rows, err = await _push(capsys, db, lab, tmp_path, "push", "app", "--to", "*")
    assert code == 64 and "${site.name} (line 1)" in err and "nothing was sent" in err
    assert rows == [] and all(_file(pi) == "original\n" for pi in lab.pis)
    with Store.open(db) as store:
        assert [op for op in store.rows("operations")] == []


async def test_sudo_refused_is_a_clear_reason_and_nothing_is_written(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(lab, tmp_path, capsys)
    pi = lab.pis[0]
    (pi.root / "sim/sudo_denied").write_text("1")
    code, rows, _ = await _push(
        capsys, db, lab, tmp_path, "push", "app", "--to", f"host:{pi.hostname}"
    )
    failed = [r["step"] for r in rows if r.get("step", {}).get("status") == "failed"][0]
    assert code == 2 and "sudo -n install: not permitted" in failed["message"]
    assert [p.name for p in (pi.root / "etc/app").iterdir()] == ["app.conf"]
    assert _file(pi) == "original\n"


async def test_readonly_refuses(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(lab, tmp_path, capsys)
    code, _, err = await cli(
        capsys, db, "--readonly", "config", "push", "app", "--to", "*", "--yes"
    )
    assert code == 2 and "--readonly" in err
    assert all(_file(pi) == "original\n" for pi in lab.pis)


class _CutAfterWrite:
    """A laptop whose link to the Pi dies right after the agent swapped the file in (as if
    the new config cut the network): it never gets to confirm."""

    def __init__(self, inner: PoolCaller, lab: SimLab) -> None:
        self.inner = inner
        self.lab = lab

    async def call(
        self,
        serial: str,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> object:
        answer = await self.inner.call(serial, method, params, timeout)
        if method == "config_write":
            pi = next(p for p in self.lab.pis if p.serial == serial)
            await self.lab.inject(pi, "ssh-down")
        return answer


async def test_a_pi_never_confirmed_puts_the_old_file_back_by_itself(
    lab: SimLab,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    store: Store,
    pool: ConnectionPool,
) -> None:
    db = await _fleet(lab, tmp_path, capsys)
    assert db == store.path
    pi = lab.pis[0]
    config = ConfigBook(store).get("app")
    device = DeviceBook(store).get(pi.serial)
    assert device is not None
    planned = plan_push(store, config, ConfigBook(store).version("app"), [device])
    params = {**push_params(config, planned, "push"), "confirm_s": 2}
    runner = OperationRunner(
        store, _CutAfterWrite(PoolCaller(pool, known_targets(store)), lab), who="t"
    )
    op = await runner.run("config_push", [DeviceTarget(pi.serial, pi.hostname)], params)
    step = OperationJournal(store).steps(op.id)[0]
    assert step.status.value == "failed" and "puts the old file back" in step.message
    assert _file(pi).startswith("# app v1")  # swapped in: the Pi cannot be reached to confirm
    assert await until(lambda: _file(pi) == "original\n", 15.0)  # the watchdog, on the Pi alone
    assert (pi.home / "restarted").exists()  # and it restarted with the old file

    await lab.clear(pi, "ssh-down")
    code, rows, _ = await _diff(capsys, db, lab, tmp_path, f"host:{pi.hostname}")
    assert code == 0 and "no confirmation within 2 s" in rows[0]["rolled_back"]["reason"]
    assert rows[0]["state"] == "never-pushed"  # the failed push is not what the Pi has
    rolled = _rolled_back_events(db, pi)
    assert len(rolled) == 1 and "(its watchdog)" in rolled[0]
    code, rows, _ = await _diff(capsys, db, lab, tmp_path, f"host:{pi.hostname}")
    again = _rolled_back_events(db, pi)  # told once: acknowledged on the Pi
    assert len(again) == 1 and rows[0]["rolled_back"]["acked"] is True


def _rolled_back_events(db: Path, pi: SimPi) -> list[str]:
    """The `config_rolled_back` events of `pi`: rollbacks it did by itself, as recorded."""
    with Store.open(db) as store:
        events = EventLog(store).recent(pi.serial)
    return [e.message for e in events if e.kind == "config_rolled_back"]


def _backups(pi: SimPi) -> list[str]:
    folder = pi.root / "var/backups/fleet-tui/configs/app"
    return sorted(b.read_text() for b in folder.iterdir())


async def test_three_backups_are_kept_and_rollback_to_a_pruned_one_sends_its_text(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, pi, to = await _pushed_to_one(lab, tmp_path, capsys)  # v1 over "original"
    for n in range(2, 6):
        await _add(capsys, db, tmp_path, TEMPLATE + f"n={n}\n")
        assert (await _push(capsys, db, lab, tmp_path, "push", "app", "--to", to))[0] == 0
    assert "n=5" in _file(pi)
    kept = _backups(pi)  # the files before v3, v4, v5; "original" and v1 are gone
    assert len(kept) == 3 and [("n=2" in b, "n=3" in b, "n=4" in b) for b in kept] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]
    code, _, err = await _push(
        capsys, db, lab, tmp_path, "rollback", "app", "--version", "1", "--to", to
    )
    assert code == 0, err
    assert _file(pi) == f"# app v1\nhost={pi.hostname}\nvalid=yes\n"  # its backup was pruned

    await _add(capsys, db, tmp_path, TEMPLATE + "n=6\n", "--keep", "1")
    assert (await _push(capsys, db, lab, tmp_path, "push", "app", "--to", to))[0] == 0
    assert _backups(pi) == [f"# app v1\nhost={pi.hostname}\nvalid=yes\n"]
    code, _, err = await cli(capsys, db, "config", "add", "app", "--path", "/etc/app/app.conf",
                             "--template", str(tmp_path / "app.conf.tmpl"), "--keep", "0")  # fmt: skip
    assert code == 64 and "--keep 0: backups kept per Pi, 1-100" in err


async def test_a_write_whose_watchdog_was_killed_is_put_back_and_recorded(
    lab: SimLab,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    store: Store,
    pool: ConnectionPool,
) -> None:
    db = await _fleet(lab, tmp_path, capsys)
    pi = lab.pis[0]
    caller = PoolCaller(pool, known_targets(store))
    text = "valid=yes\ncuts the network\n"
    body = {"path": "/etc/app/app.conf", "content": text, "sha256": sha256(text),
            "label": "app", "version": "v1", "confirm_s": 1}  # fmt: skip
    wrote = await caller.call(pi.serial, "config_write", body)
    assert isinstance(wrote, dict) and wrote["changed"]
    state = pi.root / "run/fleet-agent"
    assert await until(lambda: any(p.read_text() for p in state.glob("config-*-watchdog.pid")), 10)
    (pid_file,) = state.glob("config-*-watchdog.pid")
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)  # logind, the OOM killer
    await asyncio.sleep(1.0 + 2.5)  # past the deadline and its grace
    assert _file(pi) == text  # nobody put it back

    code, rows, _ = await _diff(capsys, db, lab, tmp_path, f"host:{pi.hostname}")
    assert code == 0 and _file(pi) == "original\n"
    assert rows[0]["rolled_back"]["by"] == "agent"
    (event,) = _rolled_back_events(db, pi)
    assert "watchdog was not running" in event and "/etc/app/app.conf" in event


async def test_a_file_only_root_reads_is_diffed_by_hash_and_an_identical_push_is_a_no_op(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, pi, to = await _pushed_to_one(lab, tmp_path, capsys)
    (pi.root / "sim/root_only").write_text("/etc/app/app.conf\n")  # mode 0600 root:root
    code, rows, _ = await _diff(capsys, db, lab, tmp_path, to)
    assert code == 0 and rows[0]["state"] == "in-sync" and rows[0]["current_readable"] is False
    (pi.home / "restarted").unlink()
    code, rows, _ = await _push(capsys, db, lab, tmp_path, "push", "app", "--to", to)
    steps = [r["step"] for r in rows if r.get("step", {}).get("status") == "ok"]
    assert code == 0 and steps[0]["message"].startswith("unchanged")
    assert not (pi.home / "restarted").exists() and len(_backups(pi)) == 1

    (pi.root / "etc/app/app.conf").write_text("hand edited, root only\n")
    code = await _text(capsys, db, "config", "diff", "app", "--to", to, *ssh_args(lab, tmp_path))
    out = capsys.readouterr().out
    assert code == 0 and ": drift, pushed v1" in out and "readable only by root" in out
    assert "content not readable without root; hashes differ" in out
    assert "hand edited" not in out
    assert (await _push(capsys, db, lab, tmp_path, "push", "app", "--to", to))[0] == 0
    assert _file(pi).startswith("# app v1") and (pi.home / "restarted").exists()
