"""The installed command line: version, help, and the headless twin of the demo."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (built,) = out.glob("fleet_tui-*.whl")
    return built


def test_wheel_carries_the_agent_styles_and_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "hardware/agent.py" in names
    assert "assets/app.tcss" in names
    source_assets = {
        f"assets/{p.relative_to(ROOT / 'assets').as_posix()}"
        for p in (ROOT / "assets").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert source_assets <= names, source_assets - names


def test_installed_wheel_runs_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    # Install our wheel alone into a target dir; dependencies come from the test venv.
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fleet_tui, hardware, assets; print(fleet_tui.__file__, hardware.__file__, assets.__file__)",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert all(path.startswith(str(target)) for path in where.stdout.split())
    out = _cli(
        "demo", "--headless", "--json", "--devices", "2", "--seconds", "30", cwd=elsewhere, env=env
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 2


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
    assert main(["--db", str(tmp_path / "f.db"), "--interface", "127.0.0.1"]) == 0
    assert seen == [["127.0.0.1"]]


def test_headless_demo_fails_when_a_simulated_device_was_not_reached(tmp_path: Path) -> None:
    # 0.1 s is far too short for anyone to be reached: the twin must say so and exit non-zero.
    out = _cli("demo", "--headless", "--json", "--devices", "3", "--seconds", "0.1", cwd=tmp_path)
    assert out.returncode == 2
    assert "not reached" in out.stderr
