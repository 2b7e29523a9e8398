"""Power, beyond the basics of tests/test_power.py: `power … FILTER` with the fleet filter,
relay channels driven through a controller Pi's real agent, `demo --power`'s outlet rows, and
one table of expected draw for the budget check and the rack screen's estimate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lab_support import cli, ssh_args, until
from test_power import _fleet, _ssh_refused, _up, plab
from test_tui_support import fleet_states

from fleet_tui.core.fleet.stored_filter import select
from fleet_tui.core.power.draw import TABLE, expected_draw
from fleet_tui.core.sim.lab import LabOptions, PowerOptions, SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.demo import DEMO_COMMUNITY_ENV
from fleet_tui.demo.racks import RackedLab
from fleet_tui.screens.fleet.fleet_model import FleetRow
from fleet_tui.screens.racks.rack_model import power_of

_ = plab  # the fixture, used by name


async def test_power_takes_the_fleet_filter_and_a_plain_name_stays_exact(
    plab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _fleet(plab, tmp_path, capsys)
    ssh = ssh_args(plab, tmp_path)
    p0, p1, p2 = plab.pis
    with Store.open(db) as store:
        store.set_row("racks", "r1", name="R1")
        store.set_row("placements", "a", serial=p0.serial, rack_id="r1", unit=1)
        store.set_row("placements", "b", serial=p1.serial, rack_id="r1", unit=2)
    code, rows, err = await cli(capsys, db, "power", "status", "rack:R1", "--json", *ssh)
    assert code == 0, err
    assert sorted(r["outlet"] for r in rows) == ["sw-p1", "sw-p2"]
    code, _, err = await cli(capsys, db, "power", "off", "rack:R1", "--hard", "--i-mean-it", *ssh)
    assert code == 0, err
    assert not p0.powered and not p1.powered and p2.powered
    code, _, err = await cli(capsys, db, "power", "off", "rack:R9", "--yes", *ssh)
    assert code == 2 and "no device has that name or matches that filter" in err
    assert p2.powered


def test_a_plain_name_means_that_device_not_every_name_it_starts(tmp_path: Path) -> None:
    with Store.open(tmp_path / "f.db") as store:
        book = DeviceBook(store)
        for serial, name in (("100a", "pi-1"), ("100b", "pi-10"), ("100c", "pi-11")):
            book.upsert(serial, hostname=name, tags=["lab"] if name != "pi-11" else [])
        exact = select(store, ["pi-1"])
        assert [d.hostname for d in exact.devices] == ["pi-1"] and not exact.by_filter
        regex = select(store, ["pi-1."])  # not a name: the filter's regex
        assert sorted(d.hostname or "" for d in regex.devices) == ["pi-10", "pi-11"]
        tagged = select(store, ["tag:lab", "!host:pi-10"])
        assert [d.hostname for d in tagged.devices] == ["pi-1"] and tagged.by_filter
        bad = select(store, ["status:sideways"])
        assert bad.usage and not bad.devices


@pytest.fixture
async def relay_lab(tmp_path: Path) -> AsyncIterator[SimLab]:
    """Two Pis: the first drives a relay HAT whose channel on GPIO 17 powers the second."""
    power = PowerOptions(boot_s=0.5, relays=((0, 17, 1),))
    lab = SimLab(2, workdir=tmp_path / "lab", advertise=False, options=LabOptions(power=power))
    await lab.start()
    try:
        yield lab
    finally:
        await lab.stop()


async def test_a_relay_channel_through_the_controller_pis_agent_powers_a_pi_off_and_on(
    relay_lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    controller, pi = relay_lab.pis
    db = tmp_path / "fleet.db"
    listing = tmp_path / "hosts.txt"
    listing.write_text("".join(f"127.0.0.1:{p.port} {p.hostname}\n" for p in relay_lab.pis))
    ssh = ssh_args(relay_lab, tmp_path)
    assert (await cli(capsys, db, "hosts", "import", str(listing)))[0] == 0
    assert (await cli(capsys, db, "poll", *ssh))[0] == 0
    code, _, err = await cli(
        capsys, db, "outlet", "add", "relay-1", "--kind", "relay", "--controller",
        controller.hostname, "--pin", "17", "--device", pi.hostname,
    )  # fmt: skip
    assert code == 0, err
    gpio = controller.root / "sim/gpio/17"
    before = pi.state.boot_time
    code, rows, err = await cli(capsys, db, "power", "status", pi.hostname, "--json", *ssh)
    assert code == 0 and rows[0]["state"] == "on", (rows, err)
    code, _, err = await cli(capsys, db, "power", "off", pi.hostname, "--yes", *ssh)
    assert code == 0, err
    assert gpio.read_text().strip() == "lo"  # set by the agent's `relay`, through pinctrl
    assert await until(lambda: not pi.powered, 5) and await _ssh_refused(pi)
    code, rows, _ = await cli(capsys, db, "power", "status", pi.hostname, "--json", *ssh)
    assert rows[0]["state"] == "off"
    code, _, err = await cli(capsys, db, "power", "on", pi.hostname, *ssh)
    assert code == 0, err
    assert gpio.read_text().strip() == "hi"
    assert await until(lambda: _up(pi), 20) and pi.state.boot_time > before
    # the controller itself is never cut: it drives the relay
    code, rows, _ = await cli(
        capsys, db, "power", "off", controller.hostname, "--yes", "--json", *ssh
    )
    refused = [r["step"]["message"] for r in rows if r.get("step", {}).get("status") == "refused"]
    assert code != 0 and "(interlock relay-controller)" in refused[0]
    assert controller.powered


async def test_demo_power_links_each_demo_pi_to_its_port_of_demo_sw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEMO_COMMUNITY_ENV, "demo-secret-123")
    db = tmp_path / "demo.db"
    options = LabOptions(power=PowerOptions(community="demo-secret-123", boot_s=0.5))
    lab = RackedLab(2, db=db, options=options)
    await lab.start()
    try:
        code, rows, err = await cli(capsys, db, "power", "status", "--json")
        assert code == 0, err
        by_outlet = {r["outlet"]: r for r in rows}
        assert sorted(by_outlet) == ["demo-sw-p1", "demo-sw-p2"]
        for n, pi in enumerate(lab.pis, start=1):
            row = by_outlet[f"demo-sw-p{n}"]
            assert row["serial"] == pi.serial and row["state"] == "on" and row["power_measured"]
        with Store.open(db) as store:
            items = {r["id"]: r["label"] for r in store.rows("rack_items")}
            assert {items[o["item_id"]] for o in store.rows("outlets")} == {"demo-sw"}
        assert b"demo-secret-123" not in db.read_bytes()
    finally:
        await lab.stop()


def test_the_rack_screen_estimate_and_the_budget_read_one_table() -> None:
    state = fleet_states()[0]
    assert state.health is not None and state.facts is not None
    for prefix, idle, peak in TABLE:
        for cpu, want in ((0.0, idle), (100.0, peak)):
            facts = state.facts.model_copy(update={"model": f"{prefix} Rev 1.0"})
            health = state.health.model_copy(update={"cpu_percent": cpu})
            s = state.model_copy(update={"facts": facts, "health": health})
            row = FleetRow(s.key, s)
            shown = power_of(row)
            assert shown.estimated and shown.watts == pytest.approx(want), prefix
            assert shown.text.endswith(" est.")
        assert expected_draw(f"{prefix} Rev 1.0").max_w == peak
