"""The agent's cold start (issue 15): one process answering hello, facts and health.

Behaviour, never timing (`make bench` has the numbers, bench/bench_poll.py): the real agent,
bundled as it is uploaded and started with the client's own command line, against simulated Pi
trees. It imports only what a reading needs, runs each vcgencmd command at most once per
request and none for what the kernel has, keeps the firmware's since-boot throttle record, and
falls back to the kernel's files, then to a reason, where vcgencmd cannot answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fleet_tui.core.agent.bundle import build_agent, write_agent
from fleet_tui.core.agent.client import AGENT_FLAGS, BOOTSTRAP, start_command
from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, apply_fault, build_pi_tree

# its module-wide fixture is built once: one worker runs the whole file (make test)
pytestmark = pytest.mark.xdist_group("coldstart")

PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
FACTS_HEALTH = [{"id": 1, "method": "facts"}, {"id": 2, "method": "health"}]
# What a reading never needs: each costs a cold start more than the agent's own work.
HEAVY = {"subprocess", "threading", "typing", "json", "re", "shutil", "hashlib", "site", "runpy"}
HEAVY |= {"zipfile", "signal", "selectors", "enum", "hardware.actions", "hardware.discover"}


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agent as it is uploaded: the real bundle, under its real name."""
    dest = tmp_path_factory.mktemp("agent") / build_agent().filename
    write_agent(dest)
    return dest


def make_pi(tmp: Path, key: str, **state: Any) -> tuple[Path, SimPiState]:
    root = tmp / "root"
    st = SimPiState(**state)
    build_pi_tree(root, MODELS[key], "pi-" + key.replace("+", "p"), "10000000c0ffee01", st)
    (tmp / "home").mkdir(exist_ok=True)
    return root, st


class Cold:
    """One cold agent process, started as the client starts it, with every vcgencmd run
    counted by a wrapper first on PATH (it runs the tree's own vcgencmd)."""

    def __init__(self, root: Path, pyz: Path, python: str = PYTHON) -> None:
        self.root = root
        self.pyz = pyz
        self.python = python
        self.log = root.parent / "vcgencmd.log"
        wrap = root.parent / "wrap"
        wrap.mkdir(exist_ok=True)
        (wrap / "vcgencmd").write_text(
            f'#!/bin/sh\necho "$*" >> {self.log}\nexec {root / "bin" / "vcgencmd"} "$@"\n'
        )
        (wrap / "vcgencmd").chmod(0o755)
        self.env = {
            "HOME": str(root.parent / "home"),
            "PATH": f"{wrap}:{root / 'bin'}:/usr/bin:/bin",
            "FLEET_AGENT_ROOT": str(root),
            "LANG": "C.UTF-8",
        }

    def argv(self, *x: str) -> list[str]:
        return [self.python, *x, *AGENT_FLAGS.split(), "-c", BOOTSTRAP, str(self.pyz), "serve"]

    def run(
        self, requests: list[dict[str, Any]], *x: str, env: dict[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """The replies (hello first) and stderr of one process fed `requests`, then EOF."""
        self.log.unlink(missing_ok=True)
        done = subprocess.run(
            self.argv(*x),
            input="".join(json.dumps(r) + "\n" for r in requests).encode(),
            capture_output=True,
            env=self.env if env is None else env,
            cwd=self.env["HOME"],
            timeout=60,
        )
        assert done.returncode == 0, done.stderr.decode()
        return [json.loads(line) for line in done.stdout.splitlines()], done.stderr.decode()

    def runs(self) -> Counter[str]:
        return Counter(self.log.read_text().splitlines() if self.log.exists() else [])


def by_id(replies: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r["result"] for r in replies if "id" in r and "result" in r}


def test_the_client_starts_the_agent_with_the_cheap_flags() -> None:
    line = start_command(".cache/fleet-tui/agent-x.pyz", 10)
    assert line.endswith(f"exec python3 {AGENT_FLAGS} -c '{BOOTSTRAP}' \"$f\" serve")
    assert AGENT_FLAGS == "-S -E"


def test_a_cold_reading_imports_only_what_it_needs(pyz: Path, tmp_path: Path) -> None:
    root, _ = make_pi(tmp_path, "4b")
    replies, stderr = Cold(root, pyz).run(FACTS_HEALTH, "-X", "importtime")
    imported = {line.split("|")[-1].strip() for line in stderr.splitlines() if line.count("|") == 2}
    assert "hardware.sensors" in imported and "hardware.facts" in imported  # it did parse
    assert imported & HEAVY == set()
    assert "hello" in replies[0]
    answers = by_id(replies)
    assert answers[1]["model"] == MODELS["4b"].model_string
    assert answers[2]["temperature_c"] is not None


def test_hello_carries_the_hash_of_the_file_it_runs_from(pyz: Path, tmp_path: Path) -> None:
    root, _ = make_pi(tmp_path, "5")
    replies, _ = Cold(root, pyz).run([])
    assert replies[0]["hello"]["agent_hash"] == hashlib.sha256(pyz.read_bytes()).hexdigest()
    assert replies[0]["hello"]["agent_hash"].startswith(pyz.name[len("agent-") : -len(".pyz")])


@pytest.mark.parametrize("key", sorted(MODELS))
def test_vcgencmd_runs_once_per_command_a_reading_needs(
    key: str, pyz: Path, tmp_path: Path
) -> None:
    root, _ = make_pi(tmp_path, key)
    cold = Cold(root, pyz)
    cold.run([{"id": 1, "method": "facts"}])
    assert cold.runs() == Counter(), "hello and facts run no vcgencmd"

    replies, _ = cold.run([*FACTS_HEALTH, {"id": 3, "method": "health"}])
    runs = cold.runs()
    firmware_only = {"get_throttled": 2, "measure_volts core": 1}  # volts: at most every 30 s
    if MODELS[key].has_pmic:
        firmware_only["pmic_read_adc"] = 2
    assert runs == Counter(firmware_only)  # measure_temp never: the thermal zone has it
    health = by_id(replies)[2]
    assert health["sources"]["temperature_c"].endswith("thermal_zone0/temp")
    assert health["sources"]["throttled"] == "vcgencmd get_throttled"
    assert health["sources"]["core_volts"] == "vcgencmd measure_volts core"
    assert by_id(replies)[3]["core_volts"] == health["core_volts"]


@pytest.mark.parametrize("key", ["4b", "5"])
def test_core_volts_from_the_kernel_where_it_has_them(key: str, pyz: Path, tmp_path: Path) -> None:
    """Kernels whose raspberrypi-hwmon reports voltages: the firmware's own GET_VOLTAGE, so the
    same value as `vcgencmd measure_volts core`, without running it."""
    root, _ = make_pi(tmp_path, key, rpi_hwmon="volts")
    cold = Cold(root, pyz)
    replies, _ = cold.run(FACTS_HEALTH)
    health = by_id(replies)[2]
    assert "measure_volts core" not in cold.runs()
    assert health["sources"]["core_volts"].endswith("/in0_input")
    firmware = subprocess.run(
        [str(root / "bin" / "vcgencmd"), "measure_volts", "core"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    assert health["core_volts"] == pytest.approx(float(firmware.split("=")[1].rstrip("V\n")))


def test_the_since_boot_record_comes_from_the_firmware(pyz: Path, tmp_path: Path) -> None:
    """Under-voltage an hour ago and none now: the kernel's files say 0 (its own 2 s poll
    cleared its copy), vcgencmd still says "since boot". The reading keeps the latter."""
    root, _ = make_pi(tmp_path, "4b", throttled=0x10000)
    kernel = root / "sys/devices/platform/soc/soc:firmware"
    assert (kernel / "get_throttled").read_text() == "0\n"
    assert (kernel / "raspberrypi-hwmon/hwmon/hwmon1/in0_lcrit_alarm").read_text() == "0\n"
    replies, _ = Cold(root, pyz).run(FACTS_HEALTH)
    throttled = by_id(replies)[2]["throttled"]
    assert throttled == {"raw": "0x10000", "current": [], "sticky": ["under_voltage"]}


def test_without_vcgencmd_the_kernel_says_what_it_knows(pyz: Path, tmp_path: Path) -> None:
    root, st = make_pi(tmp_path, "4b")
    apply_fault(root, st, MODELS["4b"], "under_voltage")
    apply_fault(root, st, MODELS["4b"], "vcgencmd_fail")  # as a user without /dev/vcio access
    cold = Cold(root, pyz)
    health = by_id(cold.run(FACTS_HEALTH)[0])[2]
    assert health["throttled"] == {"raw": "0x1", "current": ["under_voltage"], "sticky": []}
    source = health["sources"]["throttled"]
    assert "in0_lcrit_alarm" in source and "under-voltage now only" in source
    assert "VCHI initialization failed" in source  # why the kernel's copy was used
    assert health["core_volts"] is None and "VCHI" in health["missing"]["core_volts"]

    # no vcgencmd installed at all (a Debian or Ubuntu kernel image): the same reading
    env = dict(cold.env, PATH="/usr/bin:/bin")
    health = by_id(cold.run(FACTS_HEALTH, env=env)[0])[2]
    assert health["throttled"]["current"] == ["under_voltage"]
    assert "vcgencmd not found on PATH" in health["sources"]["throttled"]


def test_an_older_kernel_get_throttled_file_then_a_reason(pyz: Path, tmp_path: Path) -> None:
    """A kernel with the firmware's get_throttled file but no rpi_volt hwmon: that file. A kernel
    with neither: no reading, and every reason tried (as before the kernel files were read)."""
    root, st = make_pi(tmp_path, "3b+", throttled=0x80008)  # at its soft temperature limit
    apply_fault(root, st, MODELS["3b+"], "vcgencmd_fail")
    (root / "sys/class/hwmon/hwmon1").unlink()  # the get_throttled file stays
    health = by_id(Cold(root, pyz).run(FACTS_HEALTH)[0])[2]
    assert health["throttled"] == {
        "raw": "0x80008",
        "current": ["soft_temp_limit"],
        "sticky": ["soft_temp_limit"],
    }
    assert (
        "get_throttled (kernel: its sticky bits cover its last poll)"
        in (health["sources"]["throttled"])
    )

    old = tmp_path / "old"
    old.mkdir()
    root, st = make_pi(old, "3b+", rpi_hwmon=None)
    apply_fault(root, st, MODELS["3b+"], "vcgencmd_fail")
    health = by_id(Cold(root, pyz).run(FACTS_HEALTH)[0])[2]
    assert health["throttled"] is None
    assert health["missing"]["throttled"] == (
        "vcgencmd get_throttled exited 1: VCHI initialization failed; "
        "no rpi_volt hwmon and no firmware get_throttled file"
    )


@pytest.mark.parametrize("key", sorted(MODELS))
def test_nothing_lost_against_a_plain_zipapp_start(key: str, pyz: Path, tmp_path: Path) -> None:
    """The flags and the bootstrap change nothing in what the agent says: the same facts and
    health as `python3 agent.pyz serve` gives on the same Pi, every field with a value or a
    reason, and a value wherever the tree has a source."""
    root, st = make_pi(tmp_path, key, temperature_c=51.5, throttled=0x50005, load=1.5)
    cold = Cold(root, pyz)
    ours = cold.run(FACTS_HEALTH)[0]
    done = subprocess.run(
        [PYTHON, str(pyz), "serve"],
        input=b"".join(json.dumps(r).encode() + b"\n" for r in FACTS_HEALTH),
        capture_output=True,
        env=cold.env,
        cwd=cold.env["HOME"],
        timeout=60,
    )
    plain = [json.loads(line) for line in done.stdout.splitlines()]
    assert ours[0] == plain[0]  # hello
    for a, b in zip(by_id(ours).values(), by_id(plain).values(), strict=True):
        for volatile in ("time", "net"):  # the clock, and rates since the previous sample
            a.pop(volatile, None), b.pop(volatile, None)
            a["sources"].pop(volatile, None), b["sources"].pop(volatile, None)
        assert a == b
    facts, health = by_id(ours)[1], by_id(ours)[2]
    m = MODELS[key]
    # a first sample has no percentage; these trees have no ambient probe wired
    expect_missing = {"cpu_percent", "ambient"}
    if not m.has_pmic:
        expect_missing.add("pmic")
    if not m.has_fan:
        expect_missing.add("fan")
    assert {k for k, v in health.items() if v is None} == expect_missing
    assert set(health["missing"]) == expect_missing
    assert health["temperature_c"] == 51.5 and health["throttled"]["raw"] == "0x50005"
    assert health["core_volts"] == m.core_volts and health["load"][0] == 1.5
    assert {k for k, v in facts.items() if v is None} == {"hat", "sudo"}
    assert facts["revision_info"]["type"] == m.key.upper().replace("ZERO2W", "Zero 2 W")


def test_psutil_and_gpiozero_are_still_found_after_minus_s(pyz: Path) -> None:
    """-S keeps site-packages off sys.path at start; the agent's site_packages() (run before
    it imports psutil or gpiozero) puts them back, venvs and user sites included."""
    code = (
        "import sys; sys.path[0] = sys.argv[1]\n"
        "try:\n    import psutil\nexcept ImportError:\n    print('hidden')\n"
        "from hardware.paths import site_packages\n"
        "site_packages(); site_packages()\n"
        "import psutil; print('found', psutil.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, *AGENT_FLAGS.split(), "-c", code, str(pyz)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["hidden", "found psutil"]
