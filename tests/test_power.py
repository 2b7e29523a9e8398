"""Power control against real SNMP agents and real simulated Pis on 127.0.0.1.

The lab's PoE switch and PDU are pysnmp command responders whose ports really power the Pis
(core/sim/power_lab.py): an outlet off takes a Pi's sshd away, on boots it with a new boot id.
The CLI runs in a thread (its own event loop) while the lab serves in ours.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lab_support import cli, ssh_args, until

from fleet_tui.cli import main
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.power import oids
from fleet_tui.core.sim.lab import LabOptions, PowerOptions, SimLab, SimPi
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog

COMMUNITY = "c0mmunity-Xq7-not-for-logs"
ENV = "LAB_SNMP_COMMUNITY"
ADMIN = oids.PETH_ADMIN_ENABLE


@pytest.fixture
async def plab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SimLab]:
    """Three Pis: the first two on PoE switch ports 1-2, the third on PDU outlet 1."""
    monkeypatch.setenv(ENV, COMMUNITY)
    config = tmp_path / "xdg-config"
    (config / "fleet-tui").mkdir(parents=True)
    (config / "fleet-tui/config.toml").write_text(
        "[power]\noff_wait_s = 15\ncycle_deadline_s = 15\ncycle_off_s = 0.5\n"
        "snmp_timeout_s = 0.5\nsnmp_retries = 0\nmax_devices = 2\n"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    power = PowerOptions(community=COMMUNITY, pdu_outlets=1, boot_s=0.5)
    lab = SimLab(3, workdir=tmp_path / "lab", advertise=False, options=LabOptions(power=power))
    await lab.start()
    try:
        yield lab
    finally:
        await lab.stop()


async def _fleet(lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A database that knows the lab's Pis and which outlet powers each."""
    db = tmp_path / "fleet.db"
    listing = tmp_path / "hosts.txt"
    listing.write_text("".join(f"127.0.0.1:{pi.port} {pi.hostname}\n" for pi in lab.pis))
    assert (await cli(capsys, db, "hosts", "import", str(listing)))[0] == 0
    assert (await cli(capsys, db, "poll", *ssh_args(lab, tmp_path)))[0] == 0
    assert lab.power is not None
    switch, pdu = lab.power.switch, lab.power.pdu
    assert pdu is not None
    for n, pi in enumerate(lab.pis[:2], start=1):
        code, _, err = await cli(
            capsys, db, "outlet", "add", f"sw-p{n}", "--kind", "poe", "--host", switch.address,
            "--port", str(n), "--community-env", ENV, "--device", pi.hostname,
        )  # fmt: skip
        assert code == 0, err
    code, _, err = await cli(
        capsys, db, "outlet", "add", "pdu-1", "--kind", "pdu", "--host", pdu.address,
        "--outlet", "1", "--community-env", ENV,
    )  # fmt: skip
    assert code == 0, err
    assert (await cli(capsys, db, "outlet", "link", "pdu-1", lab.pis[2].hostname))[0] == 0
    return db


def _up(pi: SimPi) -> bool:
    return pi.running and pi.server is not None


async def _ssh_refused(pi: SimPi) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", pi.port)
    except OSError:
        return True
    writer.close()
    return False


async def test_off_cuts_the_pi_and_a_staggered_on_brings_every_pi_back_with_a_new_boot_id(
    plab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(plab, tmp_path, capsys)
    ssh = ssh_args(plab, tmp_path)
    boots = [pi.state.boot_time for pi in plab.pis]
    # graceful: shutdown over SSH, wait until it stops answering, then the outlet
    code, rows, err = await cli(
        capsys, db, "power", "off", plab.pis[0].hostname, "--yes", "--json", *ssh
    )
    assert code == 0, err
    step = next(r["step"] for r in rows if r.get("step", {}).get("status") == "ok")
    assert "shut down over SSH" in step["message"] and "sw-p1 off" in step["message"]
    assert "poweroff" in (plab.pis[0].root / "sim/requests").read_text()
    assert not plab.power.switch.ports[1].on and not plab.pis[0].powered  # type: ignore[union-attr]
    assert await _ssh_refused(plab.pis[0])
    # hard, for the other two: no shutdown, needs --i-mean-it without a terminal
    others = [pi.hostname for pi in plab.pis[1:]]
    code, _, err = await cli(capsys, db, "power", "off", *others, "--hard", "--yes", *ssh)
    assert code == 64 and "--i-mean-it" in err and plab.pis[1].powered
    code, _, err = await cli(capsys, db, "power", "off", *others, "--hard", "--i-mean-it", *ssh)
    assert code == 0, err
    assert not any(pi.powered for pi in plab.pis)
    assert all([await _ssh_refused(pi) for pi in plab.pis])
    code, rows, _ = await cli(capsys, db, "power", "status", "--json", *ssh)
    assert code == 0 and {r["outlet"]: r["state"] for r in rows} == dict.fromkeys(
        ("pdu-1", "sw-p1", "sw-p2"), "off"
    )

    code, rows, err = await cli(
        capsys, db, "power", "on", "--all", "--stagger", "1", "--json", *ssh
    )
    assert code == 0, err
    assert rows[-1]["event"] == "finished" and rows[-1]["progress"]["ok"] == 3
    sets = sorted(
        s.time
        for device in plab.power.devices  # type: ignore[union-attr]
        for s in device.responder.sets
        if s.value == 1  # true(1) / immediateOn(1)
    )
    assert len(sets) == 3
    gaps = [b - a for a, b in zip(sets, sets[1:], strict=False)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # as the agents saw them
    assert await until(lambda: all(_up(pi) for pi in plab.pis), 20)
    assert all(pi.state.boot_time > before for pi, before in zip(plab.pis, boots, strict=True))
    code, rows, _ = await cli(capsys, db, "power", "status", "--json", *ssh)
    states = {r["outlet"]: (r["state"], r["power_measured"]) for r in rows}
    assert states == {"pdu-1": ("on", False), "sw-p1": ("on", True), "sw-p2": ("on", True)}


async def test_every_interlock_refuses_and_names_its_rule(
    plab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(plab, tmp_path, capsys)
    ssh = ssh_args(plab, tmp_path)
    p0, p1, p2 = plab.pis

    async def refused(*argv: str) -> str:
        code, rows, err = await cli(capsys, db, "power", *argv, "--yes", "--json", *ssh)
        assert code != 0, (argv, rows)
        steps = [r["step"]["message"] for r in rows if r.get("step", {}).get("status") == "refused"]
        return err + " ".join(steps)

    with Store.open(db) as store:
        store.set_row("site_jumps", "*", jump=f"127.0.0.1:{p0.port}")
    assert "(interlock jump-host)" in await refused("off", p0.hostname)
    with Store.open(db) as store:
        store.delete_row("site_jumps", "*")
    code, _, _ = await cli(
        capsys, db, "outlet", "add", "relay-1", "--kind", "relay", "--controller", p1.hostname,
        "--pin", "17",
    )  # fmt: skip
    assert code == 0
    assert "(interlock relay-controller)" in await refused("cycle", p1.hostname)
    with Store.open(db) as store:
        store.delete_row("outlets", "relay-1")
        op = OperationJournal(store).create(
            "deploy_wave", "Deploy", [DeviceTarget(p2.serial, p2.hostname)], {}, "test"
        )
    assert "(interlock deployment)" in await refused("off", p2.hostname)
    with Store.open(db) as store:
        store.set_row("operations", op.id, status="done")
        for _ in range(3):
            EventLog(store).record(p2.serial, "outlet_off", "power cycle: outlet pdu-1 off")
    assert "(interlock cycle-rate)" in await refused("cycle", p2.hostname)
    with Store.open(db) as store:
        store.set_row("racks", "r1", name="R1", power_budget_w=10.0)
        store.set_row("placements", "a", serial=p0.serial, rack_id="r1", unit=1)
        store.set_row("placements", "b", serial=p1.serial, rack_id="r1", unit=2)
    assert "(interlock whole-rack)" in await refused("off", p0.hostname, p1.hostname)
    assert "(interlock max-devices)" in await refused("cycle", "--all")  # 3 > max_devices 2
    # two Pis in a rack with a budget of 1 W: whatever their model, over it
    with Store.open(db) as store:
        store.set_row("racks", "r1", power_budget_w=1.0)
    err = await refused("on", p0.hostname)
    assert "(interlock rack-budget)" in err and "estimate" in err
    code, _, err = await cli(capsys, db, "--readonly", "power", "off", p0.hostname, "--yes", *ssh)
    assert code == 2 and "--readonly" in err
    assert all(pi.powered for pi in plab.pis)  # nothing was cut by any of it
    assert all(not d.responder.sets for d in plab.power.devices)  # type: ignore[union-attr]


async def test_the_ladder_cycles_the_outlet_of_a_pi_whose_sshd_hangs(
    plab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(plab, tmp_path, capsys)
    ssh = ssh_args(plab, tmp_path)
    p0, p1 = plab.pis[0], plab.pis[1]
    # a healthy Pi: rung 1 (an SSH reboot) is enough
    before = p1.state.boot_time
    code, _, err = await cli(capsys, db, "power", "cycle", p1.hostname, "--yes", *ssh)
    assert code == 0, err
    assert p1.state.boot_time > before and not plab.power.switch.responder.sets  # type: ignore[union-attr]
    # a hung sshd: rung 1 cannot even ask, rung 2 cuts and restores the outlet
    await plab.inject(p0, "ssh-hang")
    before = p0.state.boot_time
    code, rows, err = await cli(capsys, db, "power", "cycle", p0.hostname, "--yes", "--json", *ssh)
    assert code == 0, err
    assert "outlet cycled" in rows[-2]["step"]["message"]
    assert "ssh-hang" not in p0.faults and p0.state.boot_time > before and _up(p0)
    sets = [s.value for s in plab.power.switch.responder.sets]  # type: ignore[union-attr]
    assert sets == [oids.FALSE, oids.TRUE]
    with Store.open(db) as store:
        steps = [
            e.message
            for e in reversed(EventLog(store).recent(p0.serial))
            if e.kind == "power_cycle_step"
        ]
    assert steps[0].startswith("rung 1 (SSH reboot): skipped")
    assert any(s.startswith("rung 2 (outlet cycle): outlet off") for s in steps)
    assert steps[-1].startswith("rung 2 (outlet cycle): back after")


async def test_an_snmp_timeout_mid_operation_is_read_back_correctly_the_next_time(
    plab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(plab, tmp_path, capsys)
    ssh = ssh_args(plab, tmp_path)
    names = [pi.hostname for pi in plab.pis[:2]]
    code, _, err = await cli(capsys, db, "power", "off", *names, "--hard", "--i-mean-it", *ssh)
    assert code == 0, err
    switch = plab.power.switch  # type: ignore[union-attr]
    port = switch.port

    async def outage() -> None:  # the switch stops answering after the first port is on
        await until(lambda: any(s.value == oids.TRUE for s in switch.responder.sets), 20)
        await asyncio.sleep(0.4)  # its read-back answered; the next set is 1 s away
        await switch.responder.stop()

    task = asyncio.get_running_loop().create_task(outage())
    code, rows, _ = await cli(capsys, db, "power", "on", *names, "--stagger", "1", "--json", *ssh)
    await task
    assert code == 1 and rows[-1]["status"] == "partial"
    failed = [r["step"] for r in rows if r.get("step", {}).get("status") == "failed"]
    assert len(failed) == 1 and "no SNMP answer" in failed[0]["message"]
    _, rows, _ = await cli(capsys, db, "outlet", "list", "--json")
    kept = {r["name"]: r["state"] for r in rows}  # a failed switch: not known any more
    assert kept["sw-p1"] == "on" and kept["sw-p2"] == "unknown"
    await switch.responder.start(port)  # back, its ports as they were
    code, rows, _ = await cli(capsys, db, "power", "status", "--json", *ssh)
    states = {r["outlet"]: r["state"] for r in rows}
    assert states["sw-p1"] == "on" and states["sw-p2"] == "off"
    _, rows, _ = await cli(capsys, db, "outlet", "list", "--json")
    assert {r["name"]: r["state"] for r in rows}["sw-p2"] == "off"  # as read

    # an operation whose process died: the next start reads every outlet back and records it
    with Store.open(db) as store:
        journal = OperationJournal(store)
        targets = [DeviceTarget(pi.serial, pi.hostname) for pi in plab.pis[:2]]
        op = journal.create("power_on", "Power on 2 devices", targets, {}, "test")
        store.set_row("operations", op.id, pid=2**22 + 7, pid_start="gone")
    code, _, err = await cli(capsys, db, "power", "on", names[1], *ssh)
    assert code == 0, err
    assert "outlet sw-p2 reads off" in err and "outlet sw-p1 reads on" in err
    with Store.open(db) as store:
        states_read = [e.message for e in EventLog(store).recent() if e.kind == "outlet_state"]
        assert any(op.id in m and "sw-p2 reads off" in m for m in states_read)


async def test_the_community_never_reaches_the_database_logs_output_or_an_export(
    plab: SimLab,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    db = await _fleet(plab, tmp_path, capsys)
    ssh = ssh_args(plab, tmp_path)
    for argv in (
        ("outlet", "list"),
        ("outlet", "list", "--json"),
        ("power", "status"),
        ("power", "status", "--json"),
        ("power", "cycle", plab.pis[2].hostname, "--yes", "--json"),
        ("ops", "--json"),
    ):
        extra = ssh if argv[0] == "power" else []
        code = await asyncio.to_thread(main, ["--db", str(db), *argv, *extra])
        out, err = capsys.readouterr()
        assert code == 0 and out, argv
        assert COMMUNITY not in out + err
    csv = tmp_path / "events.csv"
    assert (await cli(capsys, db, "export", "events", "--csv", "--out", str(csv)))[0] == 0
    assert "outlet_added" in csv.read_text()
    secret = COMMUNITY.encode()
    for path in [db, *db.parent.glob(db.name + "-*"), csv]:
        assert secret not in path.read_bytes(), path
    assert COMMUNITY not in caplog.text
    # the wrong community gets no answer at all, as from a real agent: a timeout, said plainly
    monkeypatch.setenv(ENV, "wrong")
    code, rows, _ = await cli(capsys, db, "power", "status", plab.pis[0].hostname, "--json", *ssh)
    assert code == 0 and rows[0]["state"] == "unknown"
    assert "no SNMP answer" in rows[0]["error"] and "wrong community" in rows[0]["error"]


async def test_outlet_add_refuses_bad_input_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    assert (await cli(capsys, db, "--create", "outlet", "list"))[0] == 0
    for argv, words in (
        (("--kind", "poe", "--host", "10.0.0.2"), "needs --port"),
        (("--kind", "pdu", "--host", "10.0.0.2"), "needs --outlet"),
        (("--kind", "poe", "--port", "3"), "needs --host"),
        (
            ("--kind", "poe", "--host", "10.0.0.2", "--port", "3", "--community-env", "pub lic"),
            "not an environment variable",
        ),
        (("--kind", "relay", "--pin", "99", "--controller", "x"), "--pin must be"),
        (
            ("--kind", "pdu", "--host", "10.0.0.2", "--outlet", "1", "--vendor", "acme"),
            "unknown PDU vendor",
        ),
    ):
        code, _, err = await cli(capsys, db, "outlet", "add", "o1", *argv)
        assert code == 64 and words in err, (argv, err)
    code, _, err = await cli(
        capsys,
        db,
        "--readonly",
        "outlet",
        "add",
        "o1",
        "--kind",
        "poe",
        "--host",
        "h",
        "--port",
        "1",
    )
    assert code == 2 and "--readonly" in err
    code, _, _ = await cli(capsys, db, "outlet", "list", "--json")
    assert code == 0 and capsys.readouterr().out == ""
    with Store.open(db) as store:
        assert store.rows("outlets") == []


async def test_outlet_states_learned_by_power_commands_are_kept_and_shown(
    plab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`power off` keeps the outlet's new state with its time: `outlet list --json`, `export
    power --csv` and :power show it; `power status` keeps what the agents say, even a change
    made at the PDU itself."""
    import csv

    from test_tui_layout import screen_lines
    from test_tui_support import command_line, make_app, wait_for

    from fleet_tui.screens.common.context import fleet_context
    from fleet_tui.screens.common.format import when
    from fleet_tui.screens.thermal.power import PowerScreen

    db = await _fleet(plab, tmp_path, capsys)
    ssh = ssh_args(plab, tmp_path)
    code, rows, _ = await cli(capsys, db, "outlet", "list", "--json")
    assert code == 0 and {r["name"]: r["state"] for r in rows} == dict.fromkeys(
        ("pdu-1", "sw-p1", "sw-p2")
    )
    before = time.time()
    code, _, err = await cli(capsys, db, "power", "off", plab.pis[0].hostname, "--yes", *ssh)
    assert code == 0, err
    code, rows, _ = await cli(capsys, db, "outlet", "list", "--json")
    sw1 = next(r for r in rows if r["name"] == "sw-p1")
    assert sw1["state"] == "off" and before <= sw1["state_at"] <= time.time()
    out = tmp_path / "power.csv"
    assert (await cli(capsys, db, "export", "power", "--csv", "--out", str(out)))[0] == 0
    power = {r["hostname"]: r for r in csv.DictReader(out.open())}
    assert power[plab.pis[0].hostname]["outlet_state"] == "sw-p1 off"
    assert power[plab.pis[0].hostname]["outlet_state_at"].startswith(
        time.strftime("%Y-%m-%dT%H:", time.localtime(sw1["state_at"]))
    )
    assert power[plab.pis[1].hostname]["outlet_state"] == "sw-p2 not recorded"
    assert await asyncio.to_thread(main, ["--db", str(db), "outlet", "list"]) == 0
    listing = capsys.readouterr().out
    assert "off at " in next(line for line in listing.splitlines() if "sw-p1" in line)

    app = make_app(db)
    async with app.run_test(size=(160, 40)) as pilot:
        await command_line(pilot, "power")
        assert await wait_for(pilot, lambda: isinstance(app.screen, PowerScreen))
        at = when(sw1["state_at"], fleet_context(app).options.now())
        assert await wait_for(
            pilot, lambda: f"poe sw-p1 off at {at}" in "\n".join(screen_lines(app))
        )
        assert "poe sw-p2 state not recorded" in "\n".join(screen_lines(app))

    # someone switches the PDU outlet off at the PDU: `power status` reads and keeps it
    pdu = plab.power.pdu  # type: ignore[union-attr]
    assert pdu is not None
    pdu.ports[1].on = False
    code, status, _ = await cli(capsys, db, "power", "status", "--json", *ssh)
    assert code == 0
    code, rows, _ = await cli(capsys, db, "outlet", "list", "--json")
    assert {r["name"]: r["state"] for r in rows} == {r["outlet"]: r["state"] for r in status}
    assert {r["name"]: r["state"] for r in rows} == {"pdu-1": "off", "sw-p1": "off", "sw-p2": "on"}
    # --readonly reads, and writes nothing
    pdu.ports[1].on = True
    code, status, _ = await cli(capsys, db, "--readonly", "power", "status", "--json", *ssh)
    assert code == 0 and {r["outlet"]: r["state"] for r in status}["pdu-1"] == "on"
    code, rows, _ = await cli(capsys, db, "outlet", "list", "--json")
    assert {r["name"]: r["state"] for r in rows}["pdu-1"] == "off"
