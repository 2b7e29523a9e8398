"""Agent parsers against recorded Pi outputs in tests/fixtures/pi/."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware import facts, revision, sensors, vcgencmd
from hardware.paths import Missing

FIX = Path(__file__).parent / "fixtures" / "pi"

BOARDS = {
    # dir: (model string, revision, type, memory_mb, processor, manufacturer, pcb, new_style)
    "pi3bplus": ("Raspberry Pi 3 Model B Plus Rev 1.3", "a020d3", "3B+", 1024, "BCM2837", "Sony UK", "1.3", True),
    "pi4b": ("Raspberry Pi 4 Model B Rev 1.4", "c03114", "4B", 4096, "BCM2711", "Sony UK", "1.4", True),
    "pi5": ("Raspberry Pi 5 Model B Rev 1.0", "d04170", "5", 8192, "BCM2712", "Sony UK", "1.0", True),
    "zero2w": ("Raspberry Pi Zero 2 W Rev 1.0", "902120", "Zero 2 W", 512, "BCM2837", "Sony UK", "1.0", True),
    "cm4": ("Raspberry Pi Compute Module 4 Rev 1.0", "b03140", "CM4", 2048, "BCM2711", "Sony UK", "1.0", True),
    "pi1b_oldstyle": ("Raspberry Pi Model B Rev 2", "000e", "B", 512, "BCM2835", "Sony UK", "2.0", False),
}


def fixture(board: str, name: str) -> str:
    return (FIX / board / name).read_text()


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_cpuinfo_and_revision(board: str) -> None:
    model, rev, typ, mem, proc, manu, pcb, new = BOARDS[board]
    info = facts.parse_cpuinfo(fixture(board, "cpuinfo"))
    assert info["Revision"] == rev
    assert info["Model"] == model
    assert info["Serial"]
    d = revision.decode(info["Revision"])
    assert d is not None
    assert (d["type"], d["memory_mb"], d["processor"], d["manufacturer"], d["pcb_revision"], d["new_style"]) == (
        typ, mem, proc, manu, pcb, new,
    )


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_model_is_nul_terminated(board: str) -> None:
    raw = (FIX / board / "model").read_bytes()
    assert raw.endswith(b"\0")
    assert raw.rstrip(b"\0").decode() == BOARDS[board][0]


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_os_release(board: str) -> None:
    osr = facts.parse_os_release(fixture(board, "os-release"))
    assert osr["PRETTY_NAME"].endswith(")")
    assert "GNU/Linux" in osr["PRETTY_NAME"]


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_vcgencmd_outputs(board: str) -> None:
    t = vcgencmd.parse_temp(fixture(board, "measure_temp"))
    assert 20.0 < t < 90.0
    thr = vcgencmd.parse_throttled(fixture(board, "get_throttled"))
    assert thr["raw"].startswith("0x")
    v = vcgencmd.parse_volts(fixture(board, "measure_volts_core"))
    assert 0.5 < v < 1.5


def test_throttled_decoding() -> None:
    assert vcgencmd.parse_throttled("throttled=0x50005\n") == {
        "raw": "0x50005",
        "current": ["under_voltage", "throttled"],
        "sticky": ["under_voltage", "throttled"],
    }
    assert vcgencmd.parse_throttled(fixture("pi3bplus", "get_throttled"))["current"] == ["soft_temp_limit"]
    assert vcgencmd.parse_throttled(fixture("cm4", "get_throttled")) == {
        "raw": "0x20000", "current": [], "sticky": ["freq_capped"],
    }
    assert vcgencmd.decode_throttled(0) == {"raw": "0x0", "current": [], "sticky": []}


def test_temp_and_volts_formats() -> None:
    assert vcgencmd.parse_temp("temp=48.3'C\n") == 48.3
    assert vcgencmd.parse_volts("volt=0.8563V\n") == 0.8563
    with pytest.raises(Missing):
        vcgencmd.parse_temp("VCHI initialization failed")
    with pytest.raises(Missing):
        vcgencmd.parse_throttled('error=1 error_msg="Command not registered"')


def test_pmic_pi5() -> None:
    p = vcgencmd.parse_pmic(fixture("pi5", "pmic_read_adc"))
    assert p["ext5v_v"] == pytest.approx(5.12887)
    assert len([r for r in p["rails"].values() if r["w"] is not None]) == 12
    assert p["rails"]["VDD_CORE"]["v"] == pytest.approx(0.7228052)
    assert p["rails"]["VDD_CORE"]["w"] == pytest.approx(0.7228052 * 0.74213, abs=1e-3)
    expected = sum(r["v"] * r["a"] for r in p["rails"].values() if r["a"] is not None and r["v"] is not None)
    assert p["total_w"] == pytest.approx(expected, abs=2e-3)
    assert "excludes 5V USB" in p["label"]
    with pytest.raises(Missing):
        vcgencmd.parse_pmic('error=1 error_msg="Command not registered"')


def test_revision_new_style_bits_masked() -> None:
    # warranty bit (25) and overvoltage/OTP bits (29-31) must not change the decode
    base = revision.decode("c03114")
    flagged = revision.decode("%x" % (0xC03114 | (1 << 25) | (1 << 31)))
    assert base is not None and flagged is not None
    assert flagged["warranty_voided"] and flagged["overvoltage_disallowed"]
    for k in ("type", "memory_mb", "processor", "manufacturer", "pcb_revision"):
        assert base[k] == flagged[k]


def test_revision_old_style_table() -> None:
    d = revision.decode("0010")
    assert d is not None and (d["type"], d["pcb_revision"], d["memory_mb"]) == ("B+", "1.2", 512)
    d = revision.decode("1000002")  # old-style with the warranty bit
    assert d is not None and d["type"] == "B" and d["warranty_voided"]
    d = revision.decode("0005")
    assert d is not None and d["manufacturer"] == "Qisda"
    assert revision.decode("0001") is None
    assert revision.decode("zz") is None
    assert revision.decode("") is None
    assert revision.decode(None) is None


@pytest.mark.parametrize(
    "mac,expected",
    [
        ("b8:27:eb:12:34:56", True),
        ("DC:A6:32:00:00:01", True),
        ("e4:5f:01:aa:bb:cc", True),
        ("28:cd:c1:01:02:03", True),
        ("d8:3a:dd:01:02:03", True),
        ("2c:cf:67:01:02:03", True),
        ("88:a2:9e:01:02:03", True),
        ("00:11:22:33:44:55", False),
    ],
)
def test_pi_oui(mac: str, expected: bool) -> None:
    assert facts.is_pi_oui(mac) is expected


def test_meminfo_and_netdev() -> None:
    m = sensors.parse_meminfo("MemTotal:        3885316 kB\nMemAvailable:    3265460 kB\n")
    assert m["MemTotal"] == 3885316
    dev = (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n"
        "  eth0: 2345678   12345    1    2    0     0          0        12   345678    2345    0    0    0     0       0          0\n"
    )
    n = sensors.parse_net_dev(dev)
    assert list(n) == ["eth0"]
    assert n["eth0"]["rx_bytes"] == 2345678 and n["eth0"]["tx_bytes"] == 345678 and n["eth0"]["rx_errs"] == 1


def test_pi5_sysfs_fan_thermal_led(monkeypatch: pytest.MonkeyPatch) -> None:
    """A recorded Pi 5 sysfs subset: the fan is found by hwmon name, not by index."""
    from hardware.actions import current_trigger
    from hardware.paths import read_stripped

    monkeypatch.setenv("FLEET_AGENT_ROOT", str(FIX / "pi5" / "sysfs"))
    reading, source = sensors.fan()
    assert reading == {"kind": "cooling_fan", "rpm": 2507, "pwm": 75, "pwm_percent": 29.4, "mode": "auto"}
    assert source == "/sys/class/hwmon/hwmon2"
    assert sensors.thermal_zone_temp() == (53.8, "/sys/class/thermal/thermal_zone0/temp")
    assert facts.led_dir() == "/sys/class/leds/ACT"
    assert current_trigger(read_stripped("/sys/class/leds/ACT/trigger")) == "mmc0"
