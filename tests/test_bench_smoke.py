"""Every benchmark still runs to its table (tiny sizes, no timing asserted: `make bench` is
where the numbers are read). A bench that rots is found here, not on the day it is needed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMALL = {
    "bench_agent.py": [],
    "bench_demo.py": [],
    "bench_lab.py": ["--sizes", "2"],
    "bench_discovery.py": ["--devices", "5", "--repeat", "1", "--timeout", "2"],
    "bench_connect.py": ["--devices", "5", "--rounds", "1"],
    "bench_tui.py": ["--devices", "20", "--samples", "2000", "--repeat", "1", "--no-tmux"],
    "bench_merge.py": ["--rows", "2000", "--trials", "1", "--year-pis", "1", "--year-days", "40"],
    "bench_racks.py": ["--racks", "2", "--devices", "20", "--repeat", "1"],
    "bench_poll.py": ["--devices", "3", "--repeat", "1", "--samples", "2", "--no-ansible"],
    "bench_deploy.py": ["--pis", "2", "--size-mb", "1", "--fleet", "4", "--batch", "2"],
    "bench_thermal.py": ["--devices", "40", "--racks", "2", "--samples", "400", "--repeat", "1"],
}


def test_every_bench_is_listed() -> None:
    assert sorted(p.name for p in (ROOT / "bench").glob("bench_*.py")) == sorted(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bench_runs_to_its_table(name: str) -> None:
    if name == "bench_connect.py" and not os.access("/usr/bin/ssh", os.X_OK):
        pytest.skip("its baseline is OpenSSH's ssh (.ci/run installs it)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *SMALL[name]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) >= 3, done.stdout  # a header, a rule and at least one row
    # a row that measured nothing is a rotten bench too (a refused command still "runs"):
    # every "found N/M" of the discovery bench found them all
    for found, total in re.findall(r": (\d+)/(\d+)\b", done.stdout):
        assert found == total, done.stdout


def test_bench_poll_skips_ansible_with_the_reason_when_it_cannot_install() -> None:
    """No package index reachable (here: pip told to use none): the Ansible part says why it
    was skipped, the rest of the tables are printed, and the bench still succeeds."""
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS="", PIP_NO_CACHE_DIR="1")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_poll.py"), *SMALL["bench_poll.py"][:-1]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ansible: skipped (pip could not install ansible-core: " in done.stdout
    assert "fleet-tui poll" in done.stdout and "naive asyncssh loop" in done.stdout
