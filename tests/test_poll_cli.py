"""`fleet-tui poll` and `fleet-tui trust` against the simulated fleet (real SSH on 127.0.0.1)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from lab_support import cli, ssh_args

from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.hosts import HostBook
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog


def _dead_port() -> int:
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_poll_streams_one_row_per_device_and_tells_partial_failure(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    dead = _dead_port()
    listing = tmp_path / "hosts.txt"
    listing.write_text(
        "".join(f"{LOOPBACK}:{pi.port} {pi.hostname}\n" for pi in lab.pis)
        + f"{LOOPBACK}:{dead} spare\n"
    )
    assert (await cli(capsys, db, "hosts", "import", str(listing)))[0] == 0
    code, rows, _ = await cli(
        capsys, db, "poll", "--json", "--concurrency", "2", *ssh_args(lab, tmp_path)
    )
    assert code == 1  # partial: one device unreachable
    by_port = {int(r["host"].rsplit(":", 1)[1]): r for r in rows}
    assert set(by_port) == {pi.port for pi in lab.pis} | {dead}
    for pi in lab.pis:
        row = by_port[pi.port]
        assert row["reachable"] and row["serial"] == pi.serial and row["hostname"] == pi.hostname
        assert isinstance(row["temperature_c"], float) and row["route"] == f"{LOOPBACK}:{pi.port}"
    assert by_port[dead]["reachable"] is False and "unreachable" in by_port[dead]["error"]
    with Store.open(db) as store:
        assert {d.serial for d in DeviceBook(store).all()} == {pi.serial for pi in lab.pis}
        learned = {e.port: e.serial for e in HostBook(store).entries()}
        assert learned[lab.pis[0].port] == lab.pis[0].serial and learned[dead] is None
        assert SampleLog(store).recent(lab.pis[0].serial, 0)
    code, rows, _ = await cli(
        capsys,
        db,
        "poll",
        "--json",
        "--host",
        f"{LOOPBACK}:{lab.pis[1].port}",
        *ssh_args(lab, tmp_path),
    )
    assert code == 0 and len(rows) == 1
    code, rows, _ = await cli(
        capsys, db, "poll", "--json", "--host", f"{LOOPBACK}:{dead}", *ssh_args(lab, tmp_path)
    )
    assert code == 2 and rows[0]["reachable"] is False
    assert (await cli(capsys, db, "poll", "--concurrency", "0"))[0] == 64
    assert (await cli(capsys, tmp_path / "empty.db", "poll"))[0] == 2


async def test_changed_key_refused_then_explicitly_repinned(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    pi = lab.pis[0]
    host = f"{LOOPBACK}:{pi.port}"
    ssh = ssh_args(lab, tmp_path)
    code, _, err = await cli(capsys, db, "trust", host, *ssh)
    assert code == 64 and "--yes" in err  # first use by hand also asks
    code, rows, _ = await cli(capsys, db, "trust", host, "--yes", "--json", *ssh)
    assert code == 0 and rows[0]["action"] == "pinned" and rows[0]["serial"] == pi.serial
    code, rows, _ = await cli(capsys, db, "trust", host, "--json", *ssh)
    assert code == 0 and rows[0]["action"] == "none"

    await lab.change_host_key(pi)  # the card was re-imaged
    code, rows, _ = await cli(capsys, db, "poll", "--json", "--host", host, *ssh)
    assert code == 2 and "changed" in rows[0]["error"] and "--repin" in rows[0]["error"]
    code, _, err = await cli(capsys, db, "trust", host, *ssh)
    assert code == 2 and "nothing changed" in err
    code, _, err = await cli(capsys, db, "trust", host, "--repin", *ssh)
    assert code == 64 and "--yes" in err
    with Store.open(db) as store:
        assert [h.reason for h in HostKeys(store).history(host)][-1] == "serial learned"
    code, rows, err = await cli(capsys, db, "trust", host, "--repin", "--yes", "--json", *ssh)
    assert code == 0, err
    assert (
        rows[-1]["action"] == "repinned"
        and rows[-1]["serial"] == pi.serial
        and rows[-1]["verified"]
    )
    with Store.open(db) as store:
        kinds = [e.kind for e in EventLog(store).recent(pi.serial)]
        assert "host_key_repinned" in kinds and "host_key_refused" not in kinds[:1]
    code, rows, _ = await cli(capsys, db, "poll", "--json", "--host", host, *ssh)
    assert code == 0 and rows[0]["serial"] == pi.serial
