"""Agent parsers against recorded Pi outputs in tests/fixtures/pi/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_tui.hardware import facts, revision, sensors, vcgencmd
from fleet_tui.hardware.paths import Missing

FIX = Path(__file__).parent / "fixtures" / "pi"

BOARDS = {
    # dir: (model string, revision, type, memory_mb, processor, manufacturer, pcb, new_style, serial)
    # Every cpuinfo here is a recorded output from a real board (tests/fixtures/pi/SOURCES.md).
    "pi3bplus": (
        "Raspberry Pi 3 Model B Plus Rev 1.3",
        "a020d3",
        "3B+",
        1024,
        "BCM2837",
        "Sony UK",
        "1.3",
        True,
        "00000000e2cb201f",
    ),
    "pi4b": (
        "Raspberry Pi 4 Model B Rev 1.1",
        "c03111",
        "4B",
        4096,
        "BCM2711",
        "Sony UK",
        "1.1",
        True,
        "10000000266dd214",
    ),
    "pi5": (
        "Raspberry Pi 5 Model B Rev 1.0",
        "d04170",
        "5",
        8192,
        "BCM2712",
        "Sony UK",
        "1.0",
        True,
        "9d00ce41d137e638",
    ),
    # an early Zero 2 W: the firmware of late 2021 named it "Zero 2" (no "W") in the device tree
    "zero2w": (
        "Raspberry Pi Zero 2 Rev 1.0",
        "902120",
        "Zero 2 W",
        512,
        "BCM2837",
        "Sony UK",
        "1.0",
        True,
        "00000000037bd9b5",
    ),
    "cm4": (
        "Raspberry Pi Compute Module 4 Rev 1.0",
        "b03140",
        "CM4",
        2048,
        "BCM2711",
        "Sony UK",
        "1.0",
        True,
        "10000000e9e92548",
    ),
    "pi1b_oldstyle": (
        "Raspberry Pi Model B Rev 2",
        "000e",
        "B",
        512,
        "BCM2835",
        "Sony UK",
        "2.0",
        False,
        "00000000a2ba23d5",
    ),
}

# Further real cpuinfo captures: (file, Revision, Model or None, Serial, type, memory_mb, processor, pcb)
VARIANTS = [
    # Raspbian of 2015 (kernel 4.1): "Hardware : BCM2708" and no Model line at all
    ("pi1b_bcm2708_no_model.cpuinfo", "000e", None, "00000000cc62aac1", "B", 512, "BCM2835", "2.0"),
    # pasted from a terminal: the tabs came out as spaces
    (
        "pi4b_rev15_spaces.cpuinfo",
        "d03115",
        "Raspberry Pi 4 Model B Rev 1.5",
        "100000000fe69593",
        "4B",
        8192,
        "BCM2711",
        "1.5",
    ),
    (
        "cm4_rev11_spaces.cpuinfo",
        "d03141",
        "Raspberry Pi Compute Module 4 Rev 1.1",
        "10000000afbf721a",
        "CM4",
        8192,
        "BCM2711",
        "1.1",
    ),
]


def fixture(board: str, name: str) -> str:
    return (FIX / board / name).read_text()


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_cpuinfo_and_revision(board: str) -> None:
    model, rev, typ, mem, proc, manu, pcb, new, serial = BOARDS[board]
    info = facts.parse_cpuinfo(fixture(board, "cpuinfo"))
    assert info["Revision"] == rev
    assert info["Model"] == model
    assert info["Serial"] == serial
    d = revision.decode(info["Revision"])
    assert d is not None
    assert (
        d["type"],
        d["memory_mb"],
        d["processor"],
        d["manufacturer"],
        d["pcb_revision"],
        d["new_style"],
    ) == (
        typ,
        mem,
        proc,
        manu,
        pcb,
        new,
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
    assert vcgencmd.parse_throttled(fixture("cm4", "get_throttled")) == {
        "raw": "0x20000",
        "current": [],
        "sticky": ["freq_capped"],
    }
    assert vcgencmd.decode_throttled(0) == {"raw": "0x0", "current": [], "sticky": []}


def test_throttled_real_outputs() -> None:
    # Pi 3B+ Rev 1.3 at its soft temperature limit (raspberrypi/linux#2367)
    assert vcgencmd.parse_throttled(fixture("pi3bplus", "get_throttled")) == {
        "raw": "0x80008",
        "current": ["soft_temp_limit"],
        "sticky": ["soft_temp_limit"],
    }
    # Pi 5 Model B Rev 1.0 (raspinfo "Throttled flag")
    assert vcgencmd.parse_throttled(fixture("pi5", "get_throttled")) == {
        "raw": "0x0",
        "current": [],
        "sticky": [],
    }
    # Pi 3 on a weak supply, captured twice (raspberrypi/firmware#615)
    assert vcgencmd.parse_throttled(fixture("variants", "rpi3_get_throttled_0x50005")) == {
        "raw": "0x50005",
        "current": ["under_voltage", "throttled"],
        "sticky": ["under_voltage", "throttled"],
    }
    assert vcgencmd.parse_throttled(fixture("variants", "rpi3_get_throttled_0x50000")) == {
        "raw": "0x50000",
        "current": [],
        "sticky": ["under_voltage", "throttled"],
    }


def test_temp_and_volts_real_outputs() -> None:
    assert vcgencmd.parse_temp(fixture("variants", "rpi3_measure_temp")) == 39.2
    assert vcgencmd.parse_volts(fixture("variants", "rpi2_measure_volts")) == 1.3


@pytest.mark.parametrize("variant", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_cpuinfo_variants(variant: tuple) -> None:
    name, rev, model, serial, typ, mem, proc, pcb = variant
    info = facts.parse_cpuinfo(fixture("variants", name))
    assert info["Revision"] == rev
    assert info.get("Model") == model
    assert info["Serial"] == serial
    d = revision.decode(info["Revision"])
    assert d is not None
    assert (d["type"], d["memory_mb"], d["processor"], d["pcb_revision"]) == (typ, mem, proc, pcb)


def test_type_comes_from_the_revision_code_not_the_model_string() -> None:
    """An early Zero 2 W calls itself "Zero 2"; the revision code still says Zero 2 W."""
    info = facts.parse_cpuinfo(fixture("zero2w", "cpuinfo"))
    assert "Zero 2 W" not in info["Model"]
    d = revision.decode(info["Revision"])
    assert d is not None and d["type"] == "Zero 2 W"


def test_temp_and_volts_formats() -> None:
    assert vcgencmd.parse_temp("temp=48.3'C\n") == 48.3
    assert vcgencmd.parse_volts("volt=0.8563V\n") == 0.8563
    with pytest.raises(Missing):
        vcgencmd.parse_temp("VCHI initialization failed")
    with pytest.raises(Missing):
        vcgencmd.parse_throttled('error=1 error_msg="Command not registered"')


def test_pmic_pi5() -> None:
    """A real Pi 5 under load with an RTC battery fitted (jfikar/RPi5-power)."""
    p = vcgencmd.parse_pmic(fixture("pi5", "pmic_read_adc"))
    assert p["ext5v_v"] == pytest.approx(5.06788)
    assert len(p["rails"]) == 14  # 12 V+A rails, EXT5V (V only), BATT (V only)
    assert len([r for r in p["rails"].values() if r["w"] is not None]) == 12
    assert p["rails"]["EXT5V"] == {"v": 5.06788, "a": None, "w": None}
    assert p["rails"]["BATT"] == {"v": 3.011108, "a": None, "w": None}
    assert p["rails"]["VDD_CORE"]["v"] == pytest.approx(0.8974594)
    assert p["rails"]["VDD_CORE"]["a"] == pytest.approx(10.87674)
    assert p["rails"]["VDD_CORE"]["w"] == pytest.approx(0.8974594 * 10.87674, abs=1e-3)
    assert p["rails"]["3V7_WL_SW"] == {"v": 3.799996, "a": 0.0, "w": 0.0}
    expected = sum(
        r["v"] * r["a"] for r in p["rails"].values() if r["a"] is not None and r["v"] is not None
    )
    assert expected == pytest.approx(10.7999, abs=1e-3)  # the 12 rails, V*A summed independently
    assert p["total_w"] == pytest.approx(expected, abs=2e-3)
    assert "excludes 5V USB" in p["label"]
    with pytest.raises(Missing):
        vcgencmd.parse_pmic('error=1 error_msg="Command not registered"')


def test_pmic_single_rail_query() -> None:
    """``vcgencmd pmic_read_adc EXT5V_V`` prints one unindented line."""
    p = vcgencmd.parse_pmic("EXT5V_V volt(24)=5.13488000V\n")
    assert p["ext5v_v"] == pytest.approx(5.13488)
    assert p["total_w"] == 0.0


def test_simulator_pmic_layout_matches_the_real_capture() -> None:
    """The fake vcgencmd prints the same rail order, channel numbers and column as a real Pi 5."""
    from fleet_tui.core.sim.pi_models import MODELS
    from fleet_tui.core.sim.pi_tree import SimPiState, _pmic_text

    model = next(m for m in MODELS.values() if m.soc == "BCM2712")
    real = fixture("pi5", "pmic_read_adc").splitlines()
    sim = _pmic_text(model, SimPiState()).splitlines()
    assert [line.split("=")[0] for line in sim] == [line.split("=")[0] for line in real]
    sim_p = vcgencmd.parse_pmic("\n".join(sim))
    assert sorted(sim_p["rails"]) == sorted(vcgencmd.parse_pmic("\n".join(real))["rails"])


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
    assert (
        n["eth0"]["rx_bytes"] == 2345678
        and n["eth0"]["tx_bytes"] == 345678
        and n["eth0"]["rx_errs"] == 1
    )


def test_pi5_sysfs_fan_thermal_led(monkeypatch: pytest.MonkeyPatch) -> None:
    """A recorded Pi 5 sysfs subset: the fan is found by hwmon name, not by index."""
    from fleet_tui.hardware.actions import current_trigger
    from fleet_tui.hardware.paths import read_stripped

    monkeypatch.setenv("FLEET_AGENT_ROOT", str(FIX / "pi5" / "sysfs"))
    reading, source = sensors.fan()
    # rpm and pwm as reported for the official Active Cooler (raspberrypi/linux#7556)
    assert reading == {
        "kind": "cooling_fan",
        "rpm": 3314,
        "pwm": 75,
        "pwm_percent": 29.4,
        "mode": "auto",
    }
    assert source == "/sys/class/hwmon/hwmon3"
    assert sensors.thermal_zone_temp() == (53.8, "/sys/class/thermal/thermal_zone0/temp")
    assert facts.led_dir() == "/sys/class/leds/ACT"
    assert current_trigger(read_stripped("/sys/class/leds/ACT/trigger")) == "mmc0"


# --- the string parsers say what the regular expressions they replace said -------------------
# vcgencmd.py parses without `re` (its import costs a cold agent more than a reading); these
# are the expressions it used, and what each parser must still accept and refuse.

_TEMP = re.compile(r"temp=(-?[0-9.]+)'C")
_THROTTLED = re.compile(r"throttled=(0x[0-9a-fA-F]+)")
_VOLT = re.compile(r"volt=(-?[0-9.]+)V")
_PMIC = re.compile(r"^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=(-?[0-9.]+)[AV]\s*$")

TOKENS = [
    "temp=", "volt=", "throttled=", "0x", "'C", "V", "A", "_A", "_V", "-", ".", "5", "0", "47",
    "1e3", "ff", "G", " ", "  ", "\t", "\n", "current(", "volt(", "7", ")=", "VDD_CORE", "EXT5V",
    "x", "=", "(", ")",
]  # fmt: skip


def _by_regex(pattern: re.Pattern[str], text: str) -> object:
    m = pattern.search(text)
    if m is None:
        return "missing"
    try:
        return float(m.group(1)) if pattern is not _THROTTLED else int(m.group(1), 16)
    except ValueError:
        return "ValueError"


def _by_parser(fn: object, text: str) -> object:
    assert callable(fn)
    try:
        value = fn(text)
    except Missing:
        return "missing"
    except ValueError:
        return "ValueError"
    return int(value["raw"], 16) if isinstance(value, dict) else value


def _pmic_by_regex(text: str) -> object:
    volts: dict[str, float] = {}
    amps: dict[str, float] = {}
    try:
        for line in text.splitlines():
            m = _PMIC.match(line)
            if m:
                (amps if m.group(2) == "A" else volts)[m.group(1)] = float(m.group(3))
    except ValueError:
        return "ValueError"
    return (volts, amps) if volts or amps else "missing"


def _pmic_by_parser(text: str) -> object:
    try:
        rails = vcgencmd.parse_pmic(text)["rails"]
    except Missing:
        return "missing"
    except ValueError:
        return "ValueError"
    volts = {k: r["v"] for k, r in rails.items() if r["v"] is not None}
    amps = {k: r["a"] for k, r in rails.items() if r["a"] is not None}
    return volts, amps


def _same_as_the_regexes(text: str) -> None:
    assert _by_parser(vcgencmd.parse_temp, text) == _by_regex(_TEMP, text)
    assert _by_parser(vcgencmd.parse_volts, text) == _by_regex(_VOLT, text)
    assert _by_parser(vcgencmd.parse_throttled, text) == _by_regex(_THROTTLED, text)
    assert _pmic_by_parser(text) == _pmic_by_regex(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map("".join))
def test_string_parsers_match_the_regexes(text: str) -> None:
    _same_as_the_regexes(text)


@pytest.mark.parametrize(
    "name", sorted({p.name for p in FIX.glob("*/*") if p.is_file() and "cpuinfo" not in p.name})
)
def test_string_parsers_match_the_regexes_on_every_recording(name: str) -> None:
    for path in FIX.glob(f"*/{name}"):
        _same_as_the_regexes(path.read_text(errors="replace"))
