"""Agent actions against a fake Pi tree: identify, reboot, shutdown, fan, relay, avahi."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree, read_fan_controls

try:
    from tests.test_agent_harness import Agent
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_harness import Agent  # type: ignore[no-redef]

from fleet_tui.hardware.actions import avahi_service_xml, current_trigger, parse_level


@pytest.fixture
def pi5(tmp_path: Path) -> Path:
    build_pi_tree(
        tmp_path, MODELS["5"], "rack1-u01", "6a1b2c3d4e5f6071", SimPiState(temperature_c=50.0)
    )
    return tmp_path


@pytest.fixture
def agent(pi5: Path) -> Iterator[Agent]:
    a = Agent(pi5)
    a.recv()  # hello
    yield a
    a.kill()


def wait_for(pred, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_trigger_parsing() -> None:
    assert current_trigger("none timer [mmc0] heartbeat") == "mmc0"
    assert current_trigger("timer") == "timer"
    assert current_trigger("none [timer] mmc0\n") == "timer"


def test_level_parsing() -> None:
    assert parse_level("pinctrl", "17: op dh pd | hi // GPIO17 = output") is True
    assert parse_level("pinctrl", "17: op dl pd | lo // GPIO17 = output") is False
    assert parse_level("raspi-gpio", "GPIO 17: level=1 fsel=1 func=OUTPUT") is True
    assert parse_level("pinctrl", "garbage") is None


def test_identify_blinks_then_restores(agent: Agent, pi5: Path) -> None:
    trig = pi5 / "sys/class/leds/ACT/trigger"
    r = agent.call("identify", {"seconds": 1}, req_id=1)["result"]
    assert r["led"] == "ACT" and r["restore_trigger"] == "mmc0"
    assert current_trigger(trig.read_text()) == "timer"
    assert (pi5 / "sys/class/leds/ACT/delay_on").read_text() == "150"
    # a second identify while blinking keeps the trigger found first
    r2 = agent.call("identify", {"seconds": 1.5}, req_id=2)["result"]
    assert r2["restore_trigger"] == "mmc0"
    assert wait_for(lambda: current_trigger(trig.read_text()) == "mmc0", 10)
    assert not (pi5 / "run/fleet-agent/identify.json").exists()


def test_identify_restores_after_agent_exit(pi5: Path) -> None:
    a = Agent(pi5)
    a.recv()
    a.call("identify", {"seconds": 1})
    assert a.close() == 0
    trig = pi5 / "sys/class/leds/ACT/trigger"
    assert current_trigger(trig.read_text()) == "timer"
    assert wait_for(lambda: current_trigger(trig.read_text()) == "mmc0", 10)


def test_identify_stop_now(agent: Agent, pi5: Path) -> None:
    agent.call("identify", {"seconds": 60}, req_id=1)
    r = agent.call("identify", {"seconds": 0}, req_id=2)["result"]
    assert r["restored_trigger"] == "mmc0"
    assert current_trigger((pi5 / "sys/class/leds/ACT/trigger").read_text()) == "mmc0"


def test_reboot_and_shutdown_go_through_sudo(agent: Agent, pi5: Path) -> None:
    assert agent.call("reboot", req_id=1)["result"]["requested"] is True
    assert agent.call("shutdown", req_id=2)["result"]["requested"] is True
    assert (pi5 / "sim/requests").read_text().split("\n")[:2] == ["reboot ", "poweroff "]


def test_sudo_refused_is_not_permitted(agent: Agent, pi5: Path) -> None:
    (pi5 / "sim/sudo_denied").write_text("1")
    err = agent.call("reboot", req_id=1)["error"]
    assert err["code"] == "not_permitted"
    assert "sudo -n reboot" in err["message"] and "sudoers" in err["message"]
    assert not (pi5 / "sim/requests").exists()


def test_fan_manual_and_auto(agent: Agent, pi5: Path) -> None:
    d = pi5 / "sys/class/hwmon/hwmon3"
    r = agent.call("fan", {"mode": "manual", "pwm": 200}, req_id=1)["result"]
    assert (
        r["fan"]["kind"] == "cooling_fan"
        and r["fan"]["pwm"] == 200
        and r["fan"]["mode"] == "manual"
    )
    assert (d / "pwm1_enable").read_text() == "1"
    st = SimPiState()
    read_fan_controls(pi5, st)
    assert st.fan_mode == "manual" and st.fan_pwm == 200
    r = agent.call("fan", {"mode": "manual", "percent": 50}, req_id=2)["result"]
    assert r["fan"]["pwm"] == 128
    assert agent.call("fan", {"mode": "auto"}, req_id=3)["result"]["fan"]["mode"] == "auto"
    assert (
        agent.call("fan", {"mode": "manual", "pwm": 999}, req_id=4)["error"]["code"]
        == "bad_request"
    )
    assert agent.call("fan", {"mode": "sideways"}, req_id=5)["error"]["code"] == "bad_request"


def test_fan_unavailable_without_fan(tmp_path: Path) -> None:
    build_pi_tree(tmp_path, MODELS["4b"], "pi4", "10000000a3f2b1c9", SimPiState())
    a = Agent(tmp_path)
    try:
        a.recv()
        assert a.call("fan", {"mode": "auto"})["error"]["code"] == "unavailable"
    finally:
        a.kill()


def test_relay_on_off_pulse(agent: Agent, pi5: Path) -> None:
    r = agent.call("relay", {"pin": 17, "action": "on"}, req_id=1)["result"]
    assert r == {"pin": 17, "method": "pinctrl", "level": "hi", "state": "on"}
    assert (pi5 / "sim/gpio/17").read_text().strip() == "hi"
    r = agent.call("relay", {"pin": 17, "action": "off", "active_high": False}, req_id=2)["result"]
    assert r["level"] == "hi" and r["state"] == "off"
    r = agent.call("relay", {"pin": 18, "action": "pulse", "seconds": 0.5}, req_id=3)["result"]
    assert r["state"] == "on" and "pulse_until" in r
    assert wait_for(lambda: (pi5 / "sim/gpio/18").read_text().strip() == "lo", 10)
    assert agent.call("relay", {"pin": 18, "action": "get"}, req_id=4)["result"]["state"] == "off"
    assert (
        agent.call("relay", {"pin": 99, "action": "on"}, req_id=5)["error"]["code"] == "bad_request"
    )


def test_relay_state_outlives_agent(pi5: Path) -> None:
    a = Agent(pi5)
    a.recv()
    a.call("relay", {"pin": 22, "action": "on"})
    assert a.close() == 0
    b = Agent(pi5)
    try:
        b.recv()
        assert b.call("relay", {"pin": 22, "action": "get"})["result"]["state"] == "on"
    finally:
        b.kill()


def test_avahi_install_remove(agent: Agent, pi5: Path) -> None:
    f = pi5 / "etc/avahi/services/pifleet.service"
    r = agent.call("avahi", {"action": "install"}, req_id=1)["result"]
    assert r["installed"] and f.exists()
    text = f.read_text()
    assert "<type>_pifleet._tcp</type>" in text
    assert "<txt-record>model=Raspberry Pi 5 Model B Rev 1.0</txt-record>" in text
    assert "<txt-record>serial=6a1b2c3d4e5f6071</txt-record>" in text
    assert agent.call("avahi", {"action": "remove"}, req_id=2)["result"]["removed"] is True
    assert not f.exists()
    assert agent.call("avahi", {"action": "remove"}, req_id=3)["result"]["removed"] is False


def test_avahi_xml_escapes() -> None:
    xml = avahi_service_xml("A <b> & c", None, 2222)
    assert "model=A &lt;b&gt; &amp; c" in xml and "<port>2222</port>" in xml
