"""One health -> metrics mapping (core/metrics.py) for samples, the status policy and the
device screen; the agent's pmic, fan and net typed in `Health`, malformed parts tolerated."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from fleet_tui.core.metrics import METRIC_NAMES, STORED_PERCENT_PLACES, metrics_of
from fleet_tui.core.models import DeviceState, Fan, Health, Net, Pmic, Throttled
from fleet_tui.core.policy import reading_of_state
from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree
from fleet_tui.core.store.sample_gate import sample_values
from fleet_tui.core.store.schema import SAMPLE_METRICS
from fleet_tui.screens.device.device_data import METRICS, point_of_health

try:
    from tests.test_agent_harness import Agent
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_harness import Agent  # type: ignore[no-redef]


def test_the_metrics_are_the_sample_columns_in_order() -> None:
    assert METRIC_NAMES == tuple(c.name for c in SAMPLE_METRICS)
    assert {name for name, _, _ in METRICS} <= set(METRIC_NAMES)


# ---- the real agent's readings --------------------------------------------------------------


@pytest.fixture(params=["5", "4b"])
def agent(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Agent]]:
    model = request.param
    build_pi_tree(
        tmp_path,
        MODELS[model],
        f"pi-{model}",
        "6a1b2c3d4e5f6071",
        SimPiState(temperature_c=71.5, throttled=0x50005, load=3.0),
    )
    a = Agent(tmp_path)
    try:
        a.recv()  # hello
        yield model, a
    finally:
        a.kill()


def test_what_the_agent_sends_under_pmic_fan_and_net_is_typed(agent: tuple[str, Agent]) -> None:
    model, a = agent
    a.call("health", req_id=1)  # net rates need a previous reading
    time.sleep(0.05)
    raw = a.call("health", req_id=2)["result"]
    health = Health.model_validate(raw)
    net = health.net
    assert isinstance(net, Net) and net.ifaces and net.rx_bps is not None
    assert all(i.rx_bytes is not None and i.tx_bytes is not None for i in net.ifaces.values())
    m = metrics_of(health)
    if model == "5":
        assert isinstance(health.pmic, Pmic) and health.pmic.rails
        assert health.pmic.total_w == raw["pmic"]["total_w"] > 0
        assert health.pmic.ext5v_v == pytest.approx(5.13)
        assert isinstance(health.fan, Fan) and health.fan.kind == "cooling_fan"
        assert health.fan.rpm == raw["fan"]["rpm"] and isinstance(health.fan.rpm, int)
        assert m.power_w == raw["pmic"]["total_w"] and m.fan_rpm == float(raw["fan"]["rpm"])
    else:  # no PMIC, no fan: the agent says null and why
        assert health.pmic is None and health.fan is None
        assert {"pmic", "fan"} <= set(health.missing)
        assert m.power_w is None and m.fan_rpm is None
    assert m.temperature_c == 71.5 and m.throttled == 0x50005
    # the live reading and its stored form map alike (the stored one to 0.01 %)
    stored = sample_values("s", health.model_dump(mode="json"))
    assert stored[2:] == metrics_of(health, STORED_PERCENT_PLACES).values()
    assert stored[2:] == metrics_of(raw, STORED_PERCENT_PLACES).values()
    # the device screen's live point carries the fan too
    point = point_of_health(health)
    assert point.values["fan_rpm"] == m.fan_rpm and point.values["power_w"] == m.power_w


# ---- untrusted output -----------------------------------------------------------------------

GARBAGE: list[Any] = ["x", 3, 2.5, True, [1, 2], [], {}, None, {"a": {"b": "c"}}, float("nan")]


@pytest.mark.parametrize("junk", GARBAGE, ids=repr)
def test_malformed_pmic_fan_and_net_never_fail_the_reading(junk: Any) -> None:
    h = Health.model_validate(
        {
            "time": 1.0,
            "temperature_c": 50.0,
            "pmic": junk,
            "fan": junk,
            "net": junk,
        }
    )
    assert h.temperature_c == 50.0
    for part in (h.pmic, h.fan, h.net):
        assert part is None or isinstance(part, Pmic | Fan | Net)
    m = metrics_of(h)
    assert m.temperature_c == 50.0 and m.power_w is None and m.fan_rpm is None
    h.model_dump_json()  # and it serialises


def test_malformed_values_inside_them_are_missing_values() -> None:
    h = Health.model_validate(
        {
            "time": 1.0,
            "pmic": {
                "rails": {"VDD_CORE": {"v": 0.8, "a": "lots", "w": None}, "BAD": "x", "L": [1]},
                "total_w": "4.2",
                "label": 7,
                "future_field": {"any": "thing"},
            },
            "fan": {"kind": ["cooling_fan"], "rpm": "fast", "pwm": True, "mode": 2},
            "net": {
                "ifaces": {"eth0": {"rx_bytes": "1", "tx_bytes": 10}, "wlan0": 5},
                "rx_bps": {},
            },
        }
    )
    assert h.pmic is not None and list(h.pmic.rails) == ["VDD_CORE"]
    assert h.pmic.rails["VDD_CORE"].v == 0.8 and h.pmic.rails["VDD_CORE"].a is None
    assert h.pmic.total_w is None and h.pmic.label is None
    assert (h.pmic.model_extra or {})["future_field"] == {"any": "thing"}  # newer agents
    assert h.fan is not None and (h.fan.kind, h.fan.rpm, h.fan.pwm, h.fan.mode) == (None,) * 4
    assert h.net is not None and list(h.net.ifaces) == ["eth0"] and h.net.rx_bps is None
    assert h.net.ifaces["eth0"].rx_bytes is None and h.net.ifaces["eth0"].tx_bytes == 10
    m = metrics_of(h)
    assert (m.power_w, m.fan_rpm) == (None, None)


def test_a_fan_without_a_tachometer_has_no_rpm_and_power_w_beats_the_pmic() -> None:
    poe = {"time": 1.0, "fan": {"kind": "poe_hat", "rpm": None, "pwm_percent": 40.0}}
    assert (
        metrics_of(poe).fan_rpm is None and metrics_of(Health.model_validate(poe)).fan_rpm is None
    )
    flat = {"time": 1.0, "fan_rpm": 1200, "power_w": 3.5, "pmic": {"total_w": 4.2}}
    assert metrics_of(flat).fan_rpm == 1200.0 and metrics_of(flat).power_w == 3.5
    assert metrics_of({"pmic": {"total_w": 4.2}}).power_w == 4.2


def test_the_policy_and_the_device_screen_see_what_samples_store() -> None:
    h = Health(
        time=1.0,
        temperature_c=61.0,
        throttled=Throttled(raw="0x50005", current=["under_voltage"], sticky=[]),
        load=[0.5, 0.4, 0.3],
        mem_total_mb=4096,
        mem_available_mb=3000,
        disk_total_mb=100,
        disk_free_mb=2,
        fan=Fan(rpm=3100),
    )
    reading = reading_of_state(
        DeviceState(key="k", endpoint="e", address="a", port=1, name="n", health=h)
    )
    assert reading.temperature_c == 61.0 and reading.disk_percent == 98.0
    assert reading.mem_percent == 100.0 * 1096 / 4096  # live: not rounded, as before
    point = point_of_health(h)
    assert point.throttled == 0x50005 and point.values["fan_rpm"] == 3100.0
    assert point.values["load1"] == 0.5 and point.values["mem_percent"] == reading.mem_percent
    stored = dict(zip(METRIC_NAMES, sample_values("s", h.model_dump(mode="json"))[2:], strict=True))
    assert stored["mem_percent"] == 26.76 and stored["fan_rpm"] == 3100.0


# ---- stored samples are what they were ------------------------------------------------------
# The mapping as core/store/sample_gate.py had it before it was shared, and `Health` before pmic, fan
# and net were typed: for any reading, the stored sample must come out the same.


def _old_num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _old_sample_values(serial: str, s: Mapping[str, Any]) -> tuple[object, ...]:
    throttled = s.get("throttled")
    raw = throttled.get("raw") if isinstance(throttled, dict) else throttled
    if isinstance(raw, str):
        try:
            raw = int(raw, 0)
        except ValueError:
            raw = None
    load = s.get("load")
    load1 = load[0] if isinstance(load, list | tuple) and load else None
    mem_pct = _old_num(s.get("mem_percent"))
    total, avail = _old_num(s.get("mem_total_mb")), _old_num(s.get("mem_available_mb"))
    if mem_pct is None and total and avail is not None:
        mem_pct = round(100.0 * (total - avail) / total, 2)
    disk_pct = _old_num(s.get("disk_percent"))
    dtotal, dfree = _old_num(s.get("disk_total_mb")), _old_num(s.get("disk_free_mb"))
    if disk_pct is None and dtotal and dfree is not None:
        disk_pct = round(100.0 * (dtotal - dfree) / dtotal, 2)
    pmic = s.get("pmic")
    power = _old_num(s.get("power_w"))
    if power is None and isinstance(pmic, dict):
        power = _old_num(pmic.get("total_w"))
    fan = s.get("fan")
    rpm = _old_num(fan.get("rpm")) if isinstance(fan, dict) else _old_num(s.get("fan_rpm"))
    t = _old_num(s.get("time"))
    return (
        serial,
        t if t is not None else time.time(),
        _old_num(s.get("temperature_c")),
        _old_num(s.get("cpu_percent")),
        int(raw) if isinstance(raw, int | float) else None,
        _old_num(load1),
        mem_pct,
        disk_pct,
        _old_num(s.get("core_volts")),
        power,
        rpm,
    )


class _OldHealth(BaseModel):
    model_config = ConfigDict(extra="allow")
    time: float
    uptime_s: float | None = None
    temperature_c: float | None = None
    throttled: Throttled | None = None
    core_volts: float | None = None
    load: list[float] | None = None
    cpu_percent: float | None = None
    mem_total_mb: float | None = None
    mem_available_mb: float | None = None
    disk_total_mb: float | None = None
    disk_free_mb: float | None = None
    sources: dict[str, str] = Field(default_factory=dict)
    missing: dict[str, str] = Field(default_factory=dict)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(["0x50005", "0x0", "12", "", "zz"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["rpm", "total_w", "raw", "x", "rails", "v", "ifaces", "rx_bps"]),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=8,
)
_KEYS = [
    "temperature_c",
    "cpu_percent",
    "throttled",
    "load",
    "mem_percent",
    "mem_total_mb",
    "mem_available_mb",
    "disk_percent",
    "disk_total_mb",
    "disk_free_mb",
    "core_volts",
    "power_w",
    "pmic",
    "fan",
    "fan_rpm",
    "net",
]
_readings = st.fixed_dictionaries(
    {"time": st.just(1_714_557_600.0)},
    optional={
        **{k: _values for k in _KEYS},
        "pmic": st.one_of(_values, st.fixed_dictionaries({"total_w": _scalars})),
        "fan": st.one_of(_values, st.fixed_dictionaries({"rpm": _scalars, "pwm": _scalars})),
        "throttled": st.one_of(
            _values, st.fixed_dictionaries({"raw": _scalars, "current": st.just([])})
        ),
        "mem_total_mb": st.one_of(_scalars, st.just(4096)),
        "mem_available_mb": st.one_of(_scalars, st.just(3000)),
    },
)


_number = st.one_of(st.none(), st.integers(0, 2**20), st.floats(0, 1e6))
_agent_readings = st.fixed_dictionaries(
    {"time": st.just(1_714_557_600.0)},
    optional={
        "temperature_c": _number,
        "cpu_percent": _number,
        "core_volts": _number,
        "load": st.one_of(st.none(), st.lists(st.floats(0, 8), max_size=3)),
        "throttled": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"raw": st.sampled_from(["0x50005", "0x0", "12", "", "zz", "0x80008"])}
            ),
        ),
        "mem_total_mb": _number,
        "mem_available_mb": _number,
        "disk_total_mb": _number,
        "disk_free_mb": _number,
        # what is untyped before and typed now, and anything a newer agent may add
        "pmic": st.one_of(
            _values, st.fixed_dictionaries({"total_w": _scalars}, optional={"rails": _values})
        ),
        "fan": st.one_of(
            _values,
            st.fixed_dictionaries({"rpm": _scalars}, optional={"pwm": _scalars, "kind": _scalars}),
        ),
        "net": st.one_of(
            _values, st.fixed_dictionaries({"rx_bps": _scalars}, optional={"ifaces": _values})
        ),
        "power_w": _scalars,
        "fan_rpm": _scalars,
        "mem_percent": _scalars,
    },
)


def _stored(x: object) -> object:
    """As SQLite keeps it: a NaN is bound as NULL (and a typed model's JSON dump says None)."""
    return None if isinstance(x, float) and math.isnan(x) else x


def _same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return all(_stored(x) == _stored(y) for x, y in zip(a, b, strict=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_readings)
def test_a_stored_sample_is_what_it_was_for_any_recorded_dict(reading: dict[str, Any]) -> None:
    # as imports and backfills record them (where the old code did not crash)
    try:
        old = _old_sample_values("s", reading)
    except (ValueError, OverflowError):
        old = None
    new = sample_values("s", reading)
    if old is not None:
        assert _same(new, old), (reading, new, old)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_agent_readings)
def test_a_stored_sample_is_what_it_was_for_any_agent_reading(reading: dict[str, Any]) -> None:
    # validated, then recorded as the poller records it (Health.model_dump)
    before = _OldHealth.model_validate(reading).model_dump(mode="json")
    now = Health.model_validate(reading).model_dump(mode="json")
    assert _same(sample_values("s", now), _old_sample_values("s", before)), (reading, now, before)
