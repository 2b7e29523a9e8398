"""A lab whose demo was killed (SIGKILL, closed terminal) is swept up by the next lab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fleet_tui.core.sim.janitor import sweep_stale_labs
from fleet_tui.core.sim.scratch import OWNER_FILE


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return int(proc.stdout)


def test_abandoned_labs_are_removed_with_their_processes_and_others_are_kept(
    tmp_path: Path,
) -> None:
    abandoned, alive, foreign = (tmp_path / f"fleet-lab-{n}" for n in ("dead", "live", "noowner"))
    for d in (abandoned, alive, foreign):
        (d / "pis/pi-4b-001/home").mkdir(parents=True)
    (abandoned / OWNER_FILE).write_text(f"{_dead_pid()}\n")
    (alive / OWNER_FILE).write_text(f"{os.getpid()}\n")
    home = abandoned / "pis/pi-4b-001/home"
    helper = subprocess.Popen(  # an agent helper that outlived its demo
        [sys.executable, "-c", "import time; time.sleep(60)"],
        cwd=home,
        env={**os.environ, "FLEET_AGENT_ROOT": str(abandoned / "pis/pi-4b-001/root")},
    )
    try:
        assert sweep_stale_labs(tmp_path) == [abandoned]
        assert helper.wait(10) == -9  # killed by the sweep
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait(10)
    assert not abandoned.exists() and alive.exists() and foreign.exists()
