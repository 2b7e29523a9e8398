"""The artifact users get, proven: sdist and wheel built from a clean copy of the checkout,
the wheel installed into a fresh venv outside it, and the program run from another directory.

An editable install (what `make test` uses) reads the checkout, so it hides a module or an
asset that the wheel leaves out; this test does not. It also holds the wheel to its layout:
installed, everything lives under `fleet_tui` and nothing generic (`core`, `screens`…) lands
in site-packages beside other distributions' packages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

# its module-wide fixture is built once: one worker runs the whole file (make test)
pytestmark = pytest.mark.xdist_group("wheel")

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "hardware", "screens", "assets")  # fleet_tui/<layer> links to ./<layer>
NOT_SHIPPED = (".md",)  # developer notes beside the code (hardware/README.md)


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    out = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert out.returncode == 0, f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}"
    return out


def _checkout_files() -> list[str]:
    """What a clean clone of this working tree holds: tracked and untracked-but-not-ignored."""
    out = _run(["git", "ls-files", "-z", "-co", "--exclude-standard"], ROOT, timeout=60)
    return sorted({f for f in out.stdout.split("\0") if f and os.path.lexists(ROOT / f)})


def _copy_checkout(dest: Path) -> None:
    for name in _checkout_files():
        src, dst = ROOT / name, dest / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)


def _shipped_sources() -> set[str]:
    """Every file of the program in the checkout, as the wheel must name it."""
    names = set()
    for name in _checkout_files():
        top = name.split("/")[0]
        path = ROOT / name
        if path.is_symlink() or name.endswith(NOT_SHIPPED):
            continue
        if top == "fleet_tui":
            names.add(name)
        elif top in LAYERS:
            names.add(f"fleet_tui/{name}")
    return names


# Calls a hook of the backend pyproject.toml declares, in the current directory, as a
# build frontend (pip, `python -m build`) does: `-c CODE HOOK OUT_DIR`; prints what it returns.
HOOK = """
import importlib, sys, tomllib
with open("pyproject.toml", "rb") as f:
    system = tomllib.load(f)["build-system"]
sys.path[:0] = system.get("backend-path", [])
backend = importlib.import_module(system["build-backend"])
print(getattr(backend, sys.argv[1])(sys.argv[2]))
"""
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel built from that sdist), as `python -m build` makes them."""
    work = tmp_path_factory.mktemp("artifact")
    src, dist = work / "src", work / "dist"
    _copy_checkout(src)
    dist.mkdir()
    _run([sys.executable, "-c", HOOK, "build_sdist", str(dist)], src)
    (sdist,) = dist.glob("fleet_tui-*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(work / "unpacked", filter="data")
    (unpacked,) = (work / "unpacked").iterdir()
    before = _tree(unpacked)
    _run([*PIP_WHEEL, "-w", str(dist), str(unpacked)], work)  # the sdist carries its backend
    assert _tree(unpacked) == before, "building the wheel wrote into the unpacked sdist"
    (wheel,) = dist.glob("fleet_tui-*.whl")
    return sdist, wheel


def test_building_leaves_the_checkout_as_git_left_it(tmp_path: Path) -> None:
    """`pip install .` builds in the checkout itself (pip's in-tree builds), and so does
    `make venv`'s editable install: neither may leave build/ or *.egg-info/ behind."""
    src, dist = tmp_path / "src", tmp_path / "dist"
    _copy_checkout(src)
    before = _tree(src)
    _run([*PIP_WHEEL, "-w", str(dist), str(src)], tmp_path)  # what `pip install .` runs
    for hook in ("build_sdist", "build_editable"):  # `python -m build`, `pip install -e .`
        _run([sys.executable, "-c", HOOK, hook, str(dist)], src)
    assert sorted(_tree(src) - before) == [], "left in the checkout"
    assert len(list(dist.glob("fleet_tui-*.whl"))) == 2 and list(dist.glob("*.tar.gz"))


def test_the_wheel_carries_every_module_and_asset_of_the_checkout(
    artifacts: tuple[Path, Path],
) -> None:
    _, wheel = artifacts
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_shipped_sources() - names)
    assert not missing, "left out of the wheel:\n" + "\n".join(missing)
    assert "fleet_tui/hardware/agent.py" in names and "fleet_tui/assets/app.tcss" in names


def test_the_wheel_installs_nothing_beside_fleet_tui(artifacts: tuple[Path, Path]) -> None:
    _, wheel = artifacts
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"fleet_tui"}, tops


def test_every_asset_the_code_names_is_in_the_wheel(artifacts: tuple[Path, Path]) -> None:
    """`asset("x.tcss")` calls, read from the source: each named file must ship."""
    _, wheel = artifacts
    names = set(zipfile.ZipFile(wheel).namelist())
    named = {
        m
        for top in ("fleet_tui", *LAYERS)
        for path in (ROOT / top).rglob("*.py")
        for m in re.findall(r"""\basset\(\s*["']([^"']+)["']""", path.read_text())
    }
    named |= set(re.findall(r'"([a-z_]+\.tcss)"', (ROOT / "fleet_tui" / "app.py").read_text()))
    assert named, "no asset names found: the pattern no longer matches the code"
    missing = sorted(n for n in named if f"fleet_tui/assets/{n}" not in names)
    assert not missing, missing


def test_the_installed_wheel_runs_from_outside_the_checkout(
    artifacts: tuple[Path, Path], tmp_path: Path
) -> None:
    _, wheel = artifacts
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    py = venv / "bin" / "python"
    _run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        tmp_path,
        timeout=600,
    )
    site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path
        ).stdout.strip()
    )
    generic = sorted(n for n in ("core", "hardware", "screens", "assets") if (site / n).exists())
    assert not generic, f"generic top-level names in site-packages: {generic}"
    assert (site / "fleet_tui" / "core").is_dir() and not (site / "fleet_tui" / "core").is_symlink()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "LANG": "C.UTF-8",
    }
    (tmp_path / "run").mkdir(mode=0o700)
    exe = str(venv / "bin" / "fleet-tui")

    version = _run([exe, "--version"], elsewhere, env).stdout
    assert version.startswith("fleet-tui ") and "unknown" not in version
    assert "demo" in _run([exe, "--help"], elsewhere, env).stdout

    agent = elsewhere / "agent.pyz"
    built = _run([exe, "agent", "build", "--output", str(agent)], elsewhere, env).stdout
    digest = re.search(r"\b[0-9a-f]{64}\b", built)
    assert digest is not None, built
    names = zipfile.ZipFile(agent).namelist()
    assert "__main__.py" in names and "hardware/agent.py" in names
    hello = _run([sys.executable, "-S", str(agent), "version"], elsewhere, env, timeout=60)
    assert json.loads(hello.stdout)["agent_version"]

    demo = _run(
        [exe, "demo", "--headless", "--json", "--devices", "3", "--seconds", "20"],
        elsewhere,
        env,
        timeout=120,
    )
    devices = [json.loads(line) for line in demo.stdout.splitlines() if line.strip()]
    assert len(devices) == 3 and all(d["reachable"] for d in devices), demo.stdout
    assert sorted(os.listdir(elsewhere)) == ["agent.pyz"], "the demo wrote into the cwd"
