"""`--by outlet`: no batch holds two devices fed by one power source (a PoE switch's PSE
group, a PDU), read from the `outlets` table like `--by rack` reads placements."""

from __future__ import annotations

from pathlib import Path

from deploy_support import make_release

from fleet_tui.core.deploy.releases import ReleaseBook
from fleet_tui.core.deploy.rollout import Rollout
from fleet_tui.core.deploy.start import make_options, prepare
from fleet_tui.core.deploy.targets import power_sources
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook


class NoCalls:
    async def call(self, serial: str, method: str, params: object = None, timeout: float = 0):  # noqa: ASYNC109
        raise AssertionError("planning calls no device")


def _seed(store: Store) -> None:
    devices = DeviceBook(store)
    for i in range(6):
        devices.upsert(f"S{i}", hostname=f"pi-{i}")
    # S0-S2 on one PoE switch (group 1), S3 on its group 2, S4-S5 on one PDU
    for i, (kind, host, group) in enumerate(
        [
            ("poe", "10.0.0.2", 1),
            ("poe", "10.0.0.2", 1),
            ("poe", "10.0.0.2", None),
            ("poe", "10.0.0.2", 2),
            ("pdu", "10.0.0.9", None),
            ("pdu", "10.0.0.9", None),
        ]
    ):
        store.set_row("outlets", f"o{i}", kind=kind, host=host, pse_group=group, serial=f"S{i}")


def test_by_outlet_never_puts_two_devices_of_one_power_source_in_a_batch(tmp_path: Path) -> None:
    with Store.open(tmp_path / "fleet.db") as store:
        _seed(store)
        source = power_sources(store)
        assert source["S0"] == source["S2"] != source["S3"]  # no group = group 1
        assert source["S4"] == source["S5"]
        ReleaseBook(store).add(make_release(tmp_path, "1.0"))
        ready = prepare(store, "web@1.0", "*")
        rollout = Rollout(store, NoCalls(), who="t")
        spread = rollout.create(
            ready.release,
            ready.chosen,
            make_options("deploy", "*", canary=1, batch="3", by="outlet"),
        )
        for wave in spread.plan.waves:
            sources = [source[s] for s in wave]
            assert len(sources) == len(set(sources)), wave
        assert sorted(s for w in spread.plan.waves for s in w) == [f"S{i}" for i in range(6)]
        # without --by outlet the same batches do share a switch
        plain = rollout.create(
            ready.release, ready.chosen, make_options("deploy", "*", canary=1, batch="3")
        )
        assert any(len({source[s] for s in w}) < len(w) for w in plain.plan.waves), plain.plan.waves
