"""The HOST:KIND[=VALUE] language of faults, target names, and simulated workloads."""

from __future__ import annotations

import random

import pytest

from fleet_tui.core.sim.faults import KINDS, FaultError, make_fault, parse_clear, parse_spec
from fleet_tui.core.sim.lab import hostname_for, target_indices
from fleet_tui.core.sim.workload import PROFILE_CYCLE, make_workload


def test_specs_parse_to_canonical_kinds_and_values() -> None:
    spec = parse_spec("pi-4b-001:overheat")
    assert (spec.target, spec.fault.kind, spec.fault.value, spec.clears) == (
        "pi-4b-001",
        "overheat",
        "",
        False,
    )
    assert str(parse_spec("3:Under_Voltage")) == "3:under-voltage"
    assert parse_spec("all:slow-link=250ms").fault.seconds == 0.25
    assert parse_spec("2:slow-link=1.5s").fault.seconds == 1.5
    assert parse_spec("2:slow-link").fault.seconds == 0.3
    assert parse_spec("1:agent-crash=persist").fault.sticky
    assert not parse_spec("1:agent-crash").fault.sticky
    up = parse_spec("pi-5-002:ssh-up")
    assert up.clears and up.fault.kind == "ssh-down"
    assert parse_clear("pi-5-002") == ("pi-5-002", None)
    assert parse_clear("pi-5-002:slow_link") == ("pi-5-002", "slow-link")
    # clock-skew: signed seconds (negative: behind), units for convenience, normalised
    assert str(parse_spec("1:clock-skew=-259200")) == "1:clock-skew=-259200"
    assert parse_spec("2:clock_skew=-3d").fault.value == "-259200"
    assert parse_spec("2:clock-skew=90m").fault.value == "5400"
    assert parse_spec("2:clock-skew=+1.5h").fault.value == "5400"
    assert parse_clear("2:clock-skew") == ("2", "clock-skew")


@pytest.mark.parametrize(
    "text",
    [
        "overheat",
        ":overheat",
        "pi-4b-001:",
        "pi-4b-001:gremlins",
        "1:overheat=3",
        "1:slow-link=fast",
        "1:slow-link=0",
        "1:slow-link=31s",
        "1:agent-crash=twice",
        "1:clock-skew",
        "1:clock-skew=yesterday",
        "1:clock-skew=3w",
        "1:clock-skew=-4000d",
    ],
)
def test_bad_specs_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(FaultError) as refused:
        parse_spec(text)
    assert str(refused.value)


def test_every_kind_has_help_and_the_issue_kinds_are_all_there() -> None:
    wanted = {
        "overheat",
        "under-voltage",
        "ssh-down",
        "host-key-change",
        "slow-link",
        "disk-full",
        "agent-crash",
        "device-gone",
    }
    assert wanted <= set(KINDS)
    assert all(kind.help for kind in KINDS.values())
    assert make_fault("disk_full").kind == "disk-full"


def test_targets_name_pis_by_hostname_number_or_all() -> None:
    names = [hostname_for(i) for i in range(6)]
    assert names[:5] == ["pi-4b-001", "pi-5-002", "pi-3bp-003", "pi-zero2w-004", "pi-cm4-005"]
    assert target_indices("pi-3bp-003", names) == [2]
    assert target_indices("6", names) == [5]
    assert target_indices("all", names) == list(range(6))
    for bad in ("0", "7", "pi-9-999", ""):
        with pytest.raises(FaultError):
            target_indices(bad, names)


def test_workloads_cycle_through_profiles_and_bursts_come_and_go() -> None:
    rng = random.Random(3)
    loads = [make_workload(i, 4, rng) for i in range(len(PROFILE_CYCLE))]
    assert [w.profile for w in loads] == list(PROFILE_CYCLE)
    bursty = next(w for w in loads if w.profile == "bursty")
    levels = {bursty.runnable(t) for t in range(0, int(bursty.period_s), 5)}
    assert min(levels) < 1.0 and max(levels) >= 4.0
    busy = next(w for w in loads if w.profile == "busy")
    load = 0.0
    for t in range(600):  # the 1-minute load average converges on the runnable tasks
        load = busy.advance(load, float(t), 1.0, rng)
    assert abs(load - busy.base) < 0.5


def test_demo_faults_lists_every_kind_with_its_value(capsys: pytest.CaptureFixture[str]) -> None:
    from fleet_tui import cli

    assert cli.main(["demo", "faults"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines()}
    assert {"clock-skew=SECONDS", "slow-link[=SECONDS]", "agent-crash[=persist]"} <= listed
    assert {"overheat", "sudo-denied", "ssh-up"} <= listed
    assert "negative: behind" in out
