"""Controlling a deployment through the CLI against simulated Pis: `--pause-after-canary`
then `deploy resume`, `deploy pause` and `deploy abort` of a running one from another
process's command, a pre-flight refusal counted apart from failures (the journal says
"skipped"), and a deployment whose release content is gone ending `failed` with the reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from deploy_support import current, give_ports, make_release
from lab_support import cli, known_fleet, ssh_args

from fleet_tui.cli import main
from fleet_tui.core.deploy.content import ContentStore
from fleet_tui.core.deploy.releases import ReleaseBook
from fleet_tui.core.deploy.steps import DeploymentBook, DeploymentRecord, DeployStatus
from fleet_tui.core.ops.journal import OperationJournal
from fleet_tui.core.ops.model import StepStatus
from fleet_tui.core.sim.lab import SimLab
from fleet_tui.core.store.database import Store


def _latest(db: Path) -> DeploymentRecord | None:
    with Store.open(db, readonly=True) as store:
        found = DeploymentBook(store).all()
    return found[0] if found else None


async def _while_running(db: Path, seconds: float = 30.0) -> str:
    """The id of the deployment once it runs (bounded poll)."""
    for _ in range(int(seconds / 0.1)):
        d = _latest(db)
        if d is not None and d.status is DeployStatus.RUNNING:
            return str(d.id)
        await asyncio.sleep(0.1)
    raise AssertionError("the deployment never ran")


async def _setup(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str], **kw: object
) -> tuple[Path, list[str]]:
    db = await known_fleet(lab, tmp_path, capsys)
    give_ports(lab.pis)
    code, _, err = await cli(
        capsys, db, "release", "add", str(make_release(tmp_path / "rel", "1.0", **kw))
    )  # type: ignore[arg-type]
    assert code == 0, err
    return db, ssh_args(lab, tmp_path)


async def test_pause_after_canary_then_resume(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, ssh = await _setup(lab, tmp_path, capsys)
    wave = ["--to", "*", "--canary", "1", "--batch", "1", "--yes", *ssh]
    code, _, err = await cli(capsys, db, "deploy", "web@1.0", "--pause-after-canary", *wave)
    assert code == 1, err
    d = _latest(db)
    assert d is not None and d.status is DeployStatus.PAUSED
    assert "paused after the canary" in d.message
    canary = d.plan.waves[0][0]
    assert [current(pi) for pi in lab.pis if pi.serial == canary] == ["1.0"]
    assert all(current(pi) is None for pi in lab.pis if pi.serial != canary)
    code, _, err = await cli(capsys, db, "deploy", "resume", d.id, "--yes", *ssh)
    assert code == 0, err
    assert all(current(pi) == "1.0" for pi in lab.pis)


@pytest.mark.parametrize(
    ("verb", "status", "exit_code"), [("pause", "paused", 1), ("abort", "aborted", 2)]
)
async def test_pause_and_abort_a_running_deployment(
    lab: SimLab,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    verb: str,
    status: str,
    exit_code: int,
) -> None:
    db, ssh = await _setup(lab, tmp_path, capsys, post="sleep 2")  # each device takes 2 s+
    argv = [
        "--db",
        str(db),
        "deploy",
        "web@1.0",
        "--to",
        "*",
        "--canary",
        "1",
        "--batch",
        "1",
        "--yes",
        *ssh,
    ]
    running = asyncio.create_task(asyncio.to_thread(main, argv))
    dep_id = await _while_running(db)
    code = await asyncio.to_thread(main, ["--db", str(db), "deploy", verb, dep_id])
    assert code == 0
    assert await asyncio.wait_for(running, 120.0) == exit_code
    capsys.readouterr()
    d = _latest(db)
    assert d is not None and d.status.value == status
    left = [pi for pi in lab.pis if current(pi) is None]
    assert left, "a wave after the pause or abort ran"
    code, rows, _ = await cli(capsys, db, "deploy", "status", dep_id, "--json")
    assert rows[0]["counts"]["pending"] >= 1


async def test_preflight_refusal_is_counted_apart_and_journalled_as_skipped(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, ssh = await _setup(lab, tmp_path, capsys)
    await lab.apply(f"{lab.pis[0].hostname}:under-voltage")
    code, _, err = await cli(
        capsys,
        db,
        "deploy",
        "web@1.0",
        "--to",
        "*",
        "--canary",
        "0",
        "--batch",
        "100%",
        "--yes",
        *ssh,
    )
    assert code == 1, err
    d = _latest(db)
    assert d is not None and d.status is DeployStatus.PARTIAL
    code, out_rows, _ = await cli(capsys, db, "deploy", "status", d.id, "--json")
    counts = out_rows[0]["counts"]
    assert counts["refused"] == 1 and counts["failed"] == 0 and counts["done"] == len(lab.pis) - 1
    await asyncio.to_thread(main, ["--db", str(db), "deploy", "status", d.id])
    assert "1 refused by pre-flight" in capsys.readouterr().out
    with Store.open(db, readonly=True) as store:
        journal = OperationJournal(store)
        (op,) = journal.operations()
        refused = [s for s in journal.steps(op.id) if s.status is StepStatus.REFUSED]
    assert len(refused) == 1 and refused[0].message.startswith("skipped: under-voltage")


async def test_a_deployment_whose_content_is_gone_ends_failed(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, ssh = await _setup(lab, tmp_path, capsys)
    wave = ["--to", "*", "--canary", "1", "--batch", "1", "--yes", *ssh]
    code, _, _ = await cli(capsys, db, "deploy", "web@1.0", "--pause-after-canary", *wave)
    d = _latest(db)
    assert d is not None
    with Store.open(db) as store:
        release = ReleaseBook(store).get("web@1.0")
    ContentStore.beside(db).list_path(release.sha256).unlink()
    code, _, err = await cli(capsys, db, "deploy", "resume", d.id, "--yes", *ssh)
    assert code != 0 and "is not here" in err and "release fetch" in err
    done = _latest(db)
    assert done is not None and done.status is DeployStatus.FAILED
    assert "could not start" in done.message


async def test_rollback_without_a_version_sends_each_pi_to_its_own_previous(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, ssh = await _setup(lab, tmp_path, capsys)
    for version in ("2.0", "3.0"):
        code, _, err = await cli(
            capsys, db, "release", "add", str(make_release(tmp_path / "rel", version))
        )
        assert code == 0, err
    fast = ["--canary", "0", "--batch", "100%", "--yes", *ssh]
    first = lab.pis[0]
    for version, to in (("1.0", "*"), ("2.0", "*"), ("3.0", first.hostname)):
        code, _, err = await cli(capsys, db, "deploy", f"web@{version}", "--to", to, *fast)
        assert code == 0, err
    assert [current(pi) for pi in lab.pis] == ["3.0"] + ["2.0"] * (len(lab.pis) - 1)
    # the newest release before 3.0 would be 2.0 for all; each Pi goes back one step instead
    code, _, err = await cli(capsys, db, "rollback", "web", "--to", "*", *fast)
    assert code == 0, err
    assert [current(pi) for pi in lab.pis] == ["2.0"] + ["1.0"] * (len(lab.pis) - 1)
    with Store.open(db, readonly=True) as store:
        rollbacks = [d for d in DeploymentBook(store).all() if d.kind == "rollback"]
    assert sorted(d.release_id for d in rollbacks) == ["web@1.0", "web@2.0"]
