"""The installed command line: version, help, and the headless twin of the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet_tui.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_version_and_help(tmp_path: Path) -> None:
    version = _cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("fleet-tui ")
    help_ = _cli("--help", cwd=tmp_path)
    assert help_.returncode == 0
    for command in ("demo", "agent"):
        assert command in help_.stdout


def test_headless_demo_prints_one_json_object_per_simulated_device(tmp_path: Path) -> None:
    out = _cli("demo", "--headless", "--json", "--devices", "5", "--seconds", "30", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 5
    assert len({r["serial"] for r in rows}) == 5
    for row in rows:
        assert row["address"] == "127.0.0.1" and row["reachable"] is True
        assert row["model"].startswith("Raspberry Pi")
        assert isinstance(row["temperature_c"], float)
        assert set(row["throttled"]) >= {"raw", "current", "sticky"}
        assert row["last_seen"] > 0


def test_agent_build_writes_a_runnable_zipapp_named_by_hash(tmp_path: Path) -> None:
    out = _cli("agent", "build", "--output", str(tmp_path / "agent.pyz"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    digest = out.stdout.strip()
    assert len(digest) == 64
    facts = subprocess.run(
        [sys.executable, str(tmp_path / "agent.pyz"), "facts"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert facts.returncode == 0, facts.stderr
    assert json.loads(facts.stdout)["agent_hash"] == digest


def test_tui_interface_option_reaches_the_fleet_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fleet_tui import app as app_module
    from fleet_tui.cli import main

    seen: list[object] = []

    class NoRunApp(app_module.FleetApp):
        def run(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            seen.append(self.config.interfaces)

    monkeypatch.setattr(app_module, "FleetApp", NoRunApp)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert main(["--db", str(tmp_path / "f.db"), "--interface", "127.0.0.1"]) == 2  # no such db
    assert seen == []
    assert main(["--db", str(tmp_path / "f.db"), "--create", "--interface", "127.0.0.1"]) == 0
    assert seen == [["127.0.0.1"]]


def test_headless_demo_fails_when_a_simulated_device_was_not_reached(tmp_path: Path) -> None:
    # 0.1 s is far too short for anyone to be reached: the twin must say so and exit non-zero.
    out = _cli("demo", "--headless", "--json", "--devices", "3", "--seconds", "0.1", cwd=tmp_path)
    assert out.returncode == 2
    assert "not reached" in out.stderr
