"""The agent's JSON-lines protocol, run for real in a subprocess against a fake Pi tree."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree, step, write_dynamic

try:
    from tests.test_agent_harness import Agent, agent_env, build_zipapp
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_harness import Agent, agent_env, build_zipapp  # type: ignore[no-redef]

HEALTH_KEYS = {
    "time",
    "uptime_s",
    "temperature_c",
    "throttled",
    "core_volts",
    "load",
    "cpu_percent",
    "mem_total_mb",
    "mem_available_mb",
    "disk_total_mb",
    "disk_free_mb",
    "pmic",
    "fan",
    "net",
    "sources",
    "missing",
}
FACT_KEYS = {
    "hostname",
    "model",
    "revision",
    "revision_info",
    "serial",
    "os_name",
    "kernel",
    "arch",
    "macs",
    "boot_time",
    "hat",
    "python",
    "agent_version",
    "agent_hash",
    "capabilities",
}
CAPS = {"vcgencmd", "pmic", "fan", "led", "sudo", "gpio"}


@pytest.fixture
def pi5(tmp_path: Path) -> Path:
    build_pi_tree(
        tmp_path,
        MODELS["5"],
        "rack1-u01",
        "6a1b2c3d4e5f6071",
        SimPiState(temperature_c=48.3, throttled=0x50005),
    )
    return tmp_path


@pytest.fixture
def agent(pi5: Path) -> Iterator[Agent]:
    a = Agent(pi5)
    yield a
    a.kill()


def check_nulls_explained(obj: dict) -> None:
    for k, v in obj.items():
        if k in ("sources", "missing"):
            continue
        if v is None:
            assert k in obj["missing"], k
        else:
            assert k in obj["sources"], k


def test_hello_facts_health(agent: Agent) -> None:
    hello = agent.recv()["hello"]
    assert hello["protocol"] == 1 and hello["agent_version"] == "0.1.0"
    assert hello["agent_hash"] == "dev"
    assert hello["python"] == ".".join(str(x) for x in sys.version_info[:3])
    assert set(hello["capabilities"]) == CAPS
    assert (
        hello["capabilities"]["vcgencmd"]
        and hello["capabilities"]["pmic"]
        and hello["capabilities"]["fan"]
    )
    f = agent.call("facts", req_id=7)
    assert f["id"] == 7
    facts = f["result"]
    assert FACT_KEYS <= set(facts)
    assert facts["model"] == "Raspberry Pi 5 Model B Rev 1.0"
    assert facts["revision"] == "d04170" and facts["revision_info"]["type"] == "5"
    assert facts["serial"] == "6a1b2c3d4e5f6071"
    assert facts["hostname"] == "rack1-u01"
    assert facts["os_name"] == "Debian GNU/Linux 12 (bookworm)"
    assert facts["macs"] and all(m["pi_oui"] for m in facts["macs"])
    check_nulls_explained(facts)
    h = agent.call("health", req_id=8)["result"]
    assert HEALTH_KEYS <= set(h)
    assert h["temperature_c"] == 48.3
    assert h["throttled"] == {
        "raw": "0x50005",
        "current": ["under_voltage", "throttled"],
        "sticky": ["under_voltage", "throttled"],
    }
    assert h["pmic"]["ext5v_v"] == pytest.approx(5.13) and h["pmic"]["total_w"] > 0
    assert h["fan"]["kind"] == "cooling_fan"
    assert len(h["load"]) == 3
    check_nulls_explained(h)


def test_malformed_and_unknown_keep_serving(agent: Agent) -> None:
    agent.recv()
    agent.send_raw(b"this is not json\n")
    err = agent.recv()
    assert err["id"] is None and err["error"]["code"] == "bad_request"
    agent.send_raw(b"[1,2,3]\n")
    assert agent.recv()["error"]["code"] == "bad_request"
    agent.send({"id": 3, "method": 5})
    r = agent.recv()
    assert r["id"] == 3 and r["error"]["code"] == "bad_request"
    r = agent.call("no_such_method", req_id=4)
    assert r["error"]["code"] == "unknown_method"
    assert agent.call("ping", req_id=5)["result"]["pong"] is True


def test_too_large_line(agent: Agent) -> None:
    agent.recv()
    agent.send_raw(b'{"id": 1, "method": "ping", "params": {"x": "' + b"a" * (1 << 20) + b'"}}\n')
    r = agent.recv()
    assert r["error"]["code"] == "too_large"
    assert agent.call("ping", req_id=2)["result"]["pong"] is True


def test_watch_and_cancel(agent: Agent, pi5: Path) -> None:
    agent.recv()
    r = agent.call("watch", {"interval": 0.1}, req_id=9)
    assert r["error"]["code"] == "bad_request"
    agent.send({"id": 10, "method": "watch", "params": {"interval": 0.5}})
    first = agent.recv()
    assert first["id"] == 10 and first["event"]["temperature_c"] == 48.3
    st = SimPiState(temperature_c=77.0)
    write_dynamic(pi5, st)
    seen = None
    deadline = time.time() + 10
    while time.time() < deadline:
        ev = agent.recv()
        if ev["event"]["temperature_c"] == 77.0:
            seen = ev
            break
    assert seen is not None
    agent.send({"id": 11, "method": "cancel", "params": {"target": 10}})
    while True:
        msg = agent.recv()
        if msg.get("id") == 11:
            assert msg["result"] == {"cancelled": True}
            break
        assert msg["id"] == 10 and "event" in msg
    # no events after the cancel reply
    assert agent.call("ping", req_id=12)["id"] == 12
    time.sleep(1.2)
    assert agent.lines.empty()
    assert agent.call("cancel", {"target": 10}, req_id=13)["result"] == {"cancelled": False}


def test_exits_when_stdin_closes(agent: Agent) -> None:
    agent.recv()
    agent.send({"id": 1, "method": "watch", "params": {"interval": 0.5}})
    agent.recv()
    t0 = time.time()
    assert agent.close() == 0
    assert time.time() - t0 < 5


def test_one_shot_commands_from_zipapp(pi5: Path, tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path / "agent-test.pyz")
    digest = hashlib.sha256(pyz.read_bytes()).hexdigest()
    for cmd in ("facts", "health"):
        out = subprocess.run(
            [sys.executable, str(pyz), cmd], capture_output=True, env=agent_env(pi5), timeout=30
        )
        assert out.returncode == 0, out.stderr
        obj = json.loads(out.stdout)
        if cmd == "facts":
            assert obj["agent_hash"] == digest and obj["model"].startswith("Raspberry Pi 5")
        else:
            assert (
                obj["temperature_c"] == 48.3
                and obj["cpu_percent"] is not None
                or "cpu_percent" in obj["missing"]
            )
    a = Agent(pi5, pyz=pyz)
    try:
        assert a.recv()["hello"]["agent_hash"] == digest
    finally:
        a.kill()


@pytest.mark.parametrize("key", sorted(MODELS))
def test_every_model_end_to_end(key: str, tmp_path: Path) -> None:
    m = MODELS[key]
    st = SimPiState(temperature_c=45.0, load=1.0)
    build_pi_tree(tmp_path, m, "pi-" + key.replace("+", "p"), f"10000000deadbe{len(key):02x}", st)
    step(st, m, 5.0)
    write_dynamic(tmp_path, st, m)
    a = Agent(tmp_path)
    try:
        hello = a.recv()["hello"]
        assert hello["capabilities"]["pmic"] is m.has_pmic
        assert hello["capabilities"]["fan"] is m.has_fan
        facts = a.call("facts")["result"]
        assert facts["model"] == m.model_string and facts["revision"] == m.revision
        assert facts["revision_info"]["memory_mb"] == m.ram_mb
        h = a.call("health", req_id=2)["result"]
        assert h["temperature_c"] == pytest.approx(st.temperature_c, abs=0.01)
        if not m.has_pmic:
            assert h["pmic"] is None and "pmic" in h["missing"]
        if not m.has_fan:
            assert h["fan"] is None and "fan" in h["missing"]
    finally:
        a.kill()


def test_missing_sources_never_raise(tmp_path: Path) -> None:
    """An empty root: every reading is null with a reason, nothing crashes."""
    env = agent_env(tmp_path)
    for cmd in ("facts", "health"):
        out = subprocess.run(
            [sys.executable, "-m", "fleet_tui.hardware.agent", cmd],
            capture_output=True,
            env=env,
            timeout=30,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        assert out.returncode == 0, out.stderr
        obj = json.loads(out.stdout)
        check_nulls_explained(obj)


def test_health_fields_selection(agent: Agent) -> None:
    agent.recv()
    h = agent.call("health", {"fields": ["temperature_c", "throttled"]}, req_id=1)["result"]
    assert set(h) == {"time", "temperature_c", "throttled", "sources", "missing"}
    assert agent.call("health", {"fields": ["nope"]}, req_id=2)["error"]["code"] == "bad_request"
    assert (
        agent.call("health", {"fields": "temperature_c"}, req_id=3)["error"]["code"]
        == "bad_request"
    )
    agent.send(
        {"id": 4, "method": "watch", "params": {"interval": 0.5, "fields": ["temperature_c"]}}
    )
    ev = agent.recv()
    assert ev["id"] == 4 and set(ev["event"]) == {"time", "temperature_c", "sources", "missing"}
    assert agent.call("cancel", {"target": 4}, req_id=5)["result"] == {"cancelled": True}


def test_poe_hat_fan_on_pi4(tmp_path: Path) -> None:
    st = SimPiState(temperature_c=55.0, poe_hat=True)
    build_pi_tree(tmp_path, MODELS["4b"], "poe-pi", "10000000a3f2b1c9", st)
    st.fan_pwm = 150
    write_dynamic(tmp_path, st, MODELS["4b"])
    a = Agent(tmp_path)
    try:
        assert a.recv()["hello"]["capabilities"]["fan"] is True
        facts = a.call("facts")["result"]
        assert (
            facts["hat"]["product"] == "Raspberry Pi PoE+ HAT"
            and facts["hat"]["vendor"] == "Raspberry Pi Ltd"
        )
        fan = a.call("health", req_id=2)["result"]["fan"]
        assert fan["kind"] == "poe_hat" and fan["pwm"] == 150 and fan["rpm"] is None
    finally:
        a.kill()


def test_vcgencmd_failure_is_a_reason_not_a_crash(agent: Agent, pi5: Path) -> None:
    from fleet_tui.core.sim.pi_tree import apply_fault

    agent.recv()
    st = SimPiState(temperature_c=48.3)
    apply_fault(pi5, st, MODELS["5"], "vcgencmd_fail")
    h = agent.call("health", req_id=1)["result"]
    assert h["temperature_c"] == 48.3  # thermal zone still works
    assert h["throttled"] is None and "VCHI" in h["missing"]["throttled"]
    assert h["pmic"] is None and "pmic" in h["missing"]
    apply_fault(pi5, st, MODELS["5"], "disk_full")
    assert (
        agent.call("health", {"fields": ["disk_free_mb"]}, req_id=2)["result"]["disk_free_mb"] == 0
    )


def test_footprint_per_health_sample(agent: Agent) -> None:
    """Issue 3 targets: < 20 MB RSS and < 10 ms agent CPU per health sample (sim tree)."""
    agent.recv()
    before = agent.call("stats", req_id=1)["result"]
    n = 20
    for i in range(n):
        agent.call("health", req_id=100 + i)
    after = agent.call("stats", req_id=2)["result"]
    per_sample_ms = (after["cpu_self_s"] - before["cpu_self_s"]) * 1000 / n
    assert after["rss_kb"] is not None and after["rss_kb"] < 20 * 1024
    assert per_sample_ms < 10, per_sample_ms  # measured ~1.6 ms here
    assert after["bytes_out"] > before["bytes_out"] and after["lines_out"] >= n + 1


def test_action_methods_are_listed_for_the_lazy_import() -> None:
    """The agent imports hardware/actions.py on the first action request only, by the names in
    agent.ACTION_METHODS: they must be the actions module's methods, all of them."""
    from fleet_tui.hardware import actions, agent

    assert set(agent.ACTION_METHODS) == set(actions.methods())
