"""The real `fleet-tui demo` in a real terminal (tmux) at 80×24 with NO_COLOR and no mouse:
the fleet shows up, `/` filters, `:help` lists keys, enter opens a device, esc goes back, q
quits. Skipped when tmux is not installed. Its own tmux server socket; every wait is bounded."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

ROOT = Path(__file__).resolve().parent.parent
SGR = re.compile(r"\x1b\[([0-9;]*)m")
GREYS = {0, 7, 8, 15, 16, 231, *range(232, 256)}


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return out.stdout

    def screen(self, colours: bool = False) -> str:
        return self.run("capture-pane", "-p", *(["-e"] if colours else []), "-t", "t")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def wait(self, check: Callable[[str], bool], seconds: float = 20.0) -> str:
        deadline = time.monotonic() + seconds
        text = self.screen()
        while time.monotonic() < deadline:
            if check(text):
                return text
            time.sleep(0.2)
            text = self.screen()
        raise AssertionError(f"timed out; the screen was:\n{text}")

    def alive(self) -> bool:
        return (
            subprocess.run(
                ["tmux", "-L", self.socket, "has-session", "-t", "t"],
                capture_output=True,
                timeout=10,
            ).returncode
            == 0
        )


def _start_demo(t: Tmux, tmp_path: Path, *extra: str) -> None:
    env = {
        "NO_COLOR": "1",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    command = " ".join(
        [
            *(f"{k}={v}" for k, v in env.items()),
            sys.executable,
            "-m",
            "fleet_tui.cli",
            "--db",
            str(tmp_path / "demo.db"),
            "demo",
            "--devices",
            "3",
            *extra,
        ]
    )
    t.run(
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "24",
        "-s",
        "t",
        "-c",
        str(ROOT),
        command,
    )


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"fleet-tui-test-{os.getpid()}")
    _start_demo(t, tmp_path)
    try:
        yield t
    finally:
        t.run("kill-server")  # only our own server, on our own socket


def test_real_app_in_tmux_at_80x24_no_color_keyboard_only(tmux: Tmux) -> None:
    screen = tmux.wait(lambda s: "3/3 shown" in s and s.count("°C") >= 3, 40.0)
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert "Status" in lines[1] and "Seen" in lines[1]  # the important columns fit in 80
    assert "/ Filter" in lines[-1] and "q Quit" in lines[-1]  # the footer names the keys
    # NO_COLOR: greys only, the status is a word
    for match in SGR.finditer(tmux.screen(colours=True)):
        codes = [int(c) for c in match.group(1).split(";") if c]
        for i, code in enumerate(codes):
            if code in (38, 48) and codes[i + 1 : i + 2] == [5]:
                assert codes[i + 2] in GREYS, match.group(0)
            if code in (38, 48) and codes[i + 1 : i + 2] == [2]:
                assert len(set(codes[i + 2 : i + 5])) == 1, match.group(0)
    assert re.search(r"\b(ok|warn|critical)\b", screen)
    tmux.keys("/")
    tmux.wait(lambda s: "!invert" in s)  # the filter line is open
    tmux.keys("-l", "pi-5")
    tmux.keys("Enter")
    tmux.wait(lambda s: "1/3 shown" in s and "pi-5-002" in s and "pi-4b-001" not in s)
    tmux.keys("Escape")
    tmux.wait(lambda s: "3/3 shown" in s)
    tmux.keys(":")
    tmux.wait(lambda s: "tab completes" in s)
    tmux.keys("-l", "help")
    tmux.keys("Enter")
    tmux.wait(lambda s: "Keys — Fleet" in s and "fleet.filter" in s)
    tmux.keys("Escape")
    tmux.wait(lambda s: "Keys — Fleet" not in s)
    tmux.keys("Enter")  # open the device under the cursor
    tmux.wait(lambda s: "serial" in s and "Temp" in s and "1 Events" in s)
    tmux.keys("Escape")
    tmux.wait(lambda s: "3/3 shown" in s)
    tmux.keys("q")
    deadline = time.monotonic() + 15
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not tmux.alive(), "q did not quit the app"


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def test_sigterm_quits_the_demo_and_stops_the_lab(tmux: Tmux) -> None:
    tmux.wait(lambda s: "3/3 shown" in s and s.count("°C") >= 3, 40.0)
    pane = int(tmux.run("display-message", "-p", "-t", "t", "#{pane_pid}").strip())
    app = next((p for p in [pane, *_descendants(pane)] if b"fleet_tui.cli" in _cmdline(p)), None)
    assert app is not None, "the app process was not found"
    agents = {p for p in _descendants(app) if b"agent-" in _cmdline(p)}
    assert agents, "the simulated Pis should be running their agents"
    home = Path(os.readlink(f"/proc/{next(iter(agents))}/cwd"))  # <lab>/pis/<host>/home
    lab_dir = home.parents[2]
    assert lab_dir.is_dir()
    os.kill(app, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while (_alive(app) or any(map(_alive, agents))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(app), "SIGTERM did not end the app"
    assert not any(map(_alive, agents)), "agents were left running"
    assert not lab_dir.exists(), "the simulated lab's files were left behind"


def test_a_closed_terminal_quits_the_demo_and_stops_the_lab(tmp_path: Path) -> None:
    """A dropped SSH session: the terminal is gone (SIGHUP, and nothing can be written to it
    any more). The app must not hang trying to restore it; the lab and its agents go too."""
    tmux = Tmux(f"fleet-tui-test-hup-{os.getpid()}")
    try:
        _start_demo(tmux, tmp_path)
        tmux.wait(lambda s: "3/3 shown" in s and s.count("°C") >= 3, 40.0)
        app = _app_pid(tmux)
        agents = {p for p in _descendants(app) if b"agent-" in _cmdline(p)}
        assert agents, "the simulated Pis should be running their agents"
        lab_dir = Path(os.readlink(f"/proc/{next(iter(agents))}/cwd")).parents[2]
        tmux.run("kill-server")  # closes the pty: the app gets SIGHUP and a dead terminal
        deadline = time.monotonic() + 25
        while (_alive(app) or any(map(_alive, agents))) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftover = [p for p in (app, *agents) if _alive(p)]
        for pid in leftover:  # never leave a demo behind on the machine, even when failing
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        assert not leftover, "a closed terminal left the app or agents running"
        assert not lab_dir.exists(), "the simulated lab's files were left behind"
    finally:
        tmux.run("kill-server")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _app_pid(tmux: Tmux) -> int:
    pane = int(tmux.run("display-message", "-p", "-t", "t", "#{pane_pid}").strip())
    app = next((p for p in [pane, *_descendants(pane)] if b"fleet_tui.cli" in _cmdline(p)), None)
    assert app is not None, "the app process was not found"
    return app


def test_a_reboot_killed_with_the_app_is_interrupted_when_it_starts_again(
    tmp_path: Path,
) -> None:
    """The laptop's battery dies in the middle of a reboot wave: the next start says so."""
    tmux = Tmux(f"fleet-tui-test-kill-{os.getpid()}")
    try:
        _start_demo(tmux, tmp_path)
        tmux.wait(lambda s: "3/3 shown" in s and s.count("°C") >= 3, 60.0)
        tmux.keys(":")
        tmux.wait(lambda s: "tab completes" in s)
        tmux.keys("-l", "fault all:slow-link=30")  # every Pi answers half a minute late
        tmux.keys("Enter")
        tmux.wait(lambda s: "Demo fault applied" in s, 30.0)
        tmux.keys("a")
        tmux.keys("R")
        tmux.wait(lambda s: "Type reboot 3" in s)
        tmux.keys("-l", "reboot 3")
        tmux.keys("Enter")
        # its progress line (the dialog, titled alike, is gone): the reboots are in flight
        tmux.wait(lambda s: "Type reboot" not in s and "Reboot 3 devices  " in s and "━" in s)
        app = _app_pid(tmux)
        group = os.getpgid(app)
        os.killpg(group, signal.SIGKILL)  # nothing gets to clean up
        deadline = time.monotonic() + 15
        while _alive(app) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(app)
        tmux.run("kill-server")

        listed = subprocess.run(
            [
                sys.executable,
                "-m",
                "fleet_tui.cli",
                "--db",
                str(tmp_path / "demo.db"),
                "ops",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")},
        )
        (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
        assert row["status"] == "interrupted" and row["progress"]["unknown"] == 3

        tmux = Tmux(f"fleet-tui-test-again-{os.getpid()}")
        _start_demo(tmux, tmp_path)
        tmux.wait(lambda s: "Operation interrupted" in s, 60.0)
        tmux.keys(":")
        tmux.wait(lambda s: "tab completes" in s)
        tmux.keys("-l", "ops")
        tmux.keys("Enter")
        screen = tmux.wait(lambda s: "Reboot 3 devices" in s and "interrupted" in s)
        assert "3 unknown" in screen
        again = _app_pid(tmux)
    finally:
        tmux.run("kill-server")
    deadline = time.monotonic() + 25  # the second app quits with its terminal, too
    while _alive(again) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(again), "the restarted demo outlived its terminal"
