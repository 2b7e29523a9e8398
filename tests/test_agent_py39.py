"""The agent runs under Python 3.9 (Raspberry Pi OS bullseye's python3), stdlib only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree

try:
    from tests.test_agent_harness import REPO, Agent, agent_env, build_zipapp
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_harness import REPO, Agent, agent_env, build_zipapp  # type: ignore[no-redef]

PYENV_39 = "/root/.pyenv/versions/3.9.18/bin/python3.9"


def _works(exe: str) -> bool:
    try:
        out = subprocess.run(
            [exe, "-S", "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == "(3, 9)"


def find_python39() -> str | None:
    """A working python3.9: pyenv's install first (its shim on PATH may not be active)."""
    cands = [PYENV_39]
    for base in (Path.home() / ".pyenv/versions", Path("/root/.pyenv/versions")):
        if base.is_dir():
            cands += [str(p) for p in sorted(base.glob("3.9*/bin/python3.9"))]
    which = shutil.which("python3.9")
    if which:
        cands.append(which)
    for cand in cands:
        if os.access(cand, os.X_OK) and _works(cand):
            return cand
    return None


PY39 = find_python39()
pytestmark = pytest.mark.skipif(
    PY39 is None,
    reason=f"python3.9 not found (not on PATH, not at {PYENV_39}); Debian bookworm has no python3.9 "
    "package, so this machine image must provide it (pyenv)",
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "pi"
    build_pi_tree(
        root,
        MODELS["3b+"],
        "bullseye-pi",
        "00000000c2b8e4a1",
        SimPiState(temperature_c=61.0, throttled=0x80008),
    )
    return root


def test_every_module_imports_without_site_packages() -> None:
    """``-S``: no site-packages, so a non-stdlib import at module level would fail here."""
    mods = sorted(
        "hardware." + p.stem for p in (REPO / "hardware").glob("*.py") if p.stem != "__init__"
    )
    code = f"import sys; import {', '.join(mods)}; print(sys.version_info[:2])"
    out = subprocess.run(
        [PY39, "-S", "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(3, 9)"


def test_zipapp_under_python39(tree: Path, tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path / "agent.pyz")
    for cmd in ("facts", "health"):
        out = subprocess.run(
            [PY39, "-S", str(pyz), cmd], capture_output=True, env=agent_env(tree), timeout=60
        )
        assert out.returncode == 0, out.stderr
        obj = json.loads(out.stdout)
        if cmd == "facts":
            assert obj["python"].startswith("3.9.") and obj["revision_info"]["type"] == "3B+"
        else:
            assert obj["temperature_c"] == 61.0
            assert obj["throttled"]["current"] == ["soft_temp_limit"]
    a = Agent(tree, python=PY39, pyz=pyz)
    try:
        hello = a.recv()["hello"]
        assert hello["python"].startswith("3.9.")
        a.send_raw(b"not json\n")
        assert a.recv()["error"]["code"] == "bad_request"
        assert a.call("health", req_id=2)["result"]["load"] is not None
        a.send({"id": 3, "method": "watch", "params": {"interval": 0.5}})
        assert "event" in a.recv()
        assert a.call("cancel", {"target": 3}, req_id=4)["result"] == {"cancelled": True}
        assert a.call("identify", {"seconds": 0}, req_id=5)["result"]["restored_trigger"] == "mmc0"
        # sudo: unknown until an action needs it, then remembered (state file written by 3.9)
        assert hello["capabilities"]["sudo"] is None
        assert a.call("reboot", req_id=6)["result"]["requested"] is True
        assert a.call("facts", req_id=7)["result"]["sudo"]["reboot"]["ok"] is True
        assert a.close() == 0
    finally:
        a.kill()


def test_started_as_the_client_starts_it_under_python39(tree: Path, tmp_path: Path) -> None:
    """`python3 -S -E -c BOOTSTRAP agent.pyz serve` on bullseye's python3: the real bundle
    (its 3.11 bytecode is ignored, the sources compile), the C JSON codec, the kernel files."""
    from fleet_tui.core.agent.bundle import build_agent, write_agent
    from fleet_tui.core.agent.client import AGENT_FLAGS, BOOTSTRAP

    assert PY39 is not None
    pyz = tmp_path / build_agent().filename
    write_agent(pyz)
    requests = b'{"id":1,"method":"facts"}\n{"id":2,"method":"health"}\n'
    out = subprocess.run(
        [PY39, *AGENT_FLAGS.split(), "-c", BOOTSTRAP, str(pyz), "serve"],
        input=requests,
        capture_output=True,
        env=agent_env(tree),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    hello, facts, health = (json.loads(line) for line in out.stdout.splitlines())
    assert hello["hello"]["python"].startswith("3.9.")
    assert facts["result"]["revision_info"]["type"] == "3B+"
    assert health["result"]["throttled"]["current"] == ["soft_temp_limit"]
    codec = subprocess.run(
        [PY39, "-S", "-E", "-c", "import sys; sys.path[0] = sys.argv[1]; "
         "from hardware import protocol; print(protocol.CODEC)", str(pyz)],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert codec.stdout.strip() == "_json", codec.stderr
