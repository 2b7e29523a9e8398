"""Connect to 100 simulated Pis cold, then run warm health rounds; baseline: OpenSSH `ssh`.

    python bench/bench_connect.py [--devices 100] [--rounds 5] [--strict]

The lab runs in a child process (its SSH servers and agents are the "Pis"); this process is
the laptop. Measured in the same run:
- cold: connect, pin, upload the agent, start it, first facts — every device, concurrently;
- warm: one health reading from every device over the pool's open sessions (median round);
- baseline: the same health round by plain OpenSSH, one `ssh` process per device run in
  parallel by `xargs -P` (the agent is already uploaded; `agent.pyz health` prints one JSON).
Targets (issue 4): cold < 5 s, warm < 0.5 s and at least 5x faster than the baseline.
`--strict` exits 1 when a target is missed (the default only reports).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet_tui.core.agent.bundle import build_agent  # noqa: E402
from fleet_tui.core.agent.client import REMOTE_DIR  # noqa: E402
from fleet_tui.core.net.pool import ConnectionPool, Link, Timeouts  # noqa: E402
from fleet_tui.core.net.routes import Target  # noqa: E402
from fleet_tui.core.ops.fanout import Operation  # noqa: E402
from fleet_tui.core.sim.lab import LOOPBACK, SimLab  # noqa: E402
from fleet_tui.core.store.database import Store  # noqa: E402

COLD_TARGET_S = 5.0
WARM_TARGET_S = 0.5
SPEEDUP_TARGET = 5.0
SSH = "/usr/bin/ssh"


# ---- the lab, in a child process --------------------------------------------------------------


async def serve_lab(count: int, advertise: bool) -> None:
    """Child mode: start the lab, print how to reach it, run until stdin closes."""
    lab = SimLab(count, advertise=advertise)
    started = time.perf_counter()
    await lab.start()
    info = {
        "ports": [pi.port for pi in lab.pis],
        "serials": [pi.serial for pi in lab.pis],
        "key": str(lab.client_key_path),
        "start_s": time.perf_counter() - started,
    }
    print(json.dumps(info), flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    finally:
        await lab.stop()


class LabProcess:
    def __init__(self, count: int, advertise: bool = False) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-lab",
                str(count),
                *(["--advertise"] if advertise else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            raise SystemExit("the simulated lab did not start")
        self.info = json.loads(line)
        self.ports: list[int] = self.info["ports"]
        self.key = Path(self.info["key"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# ---- measurements -----------------------------------------------------------------------------


async def cold_and_warm(
    lab: LabProcess, rounds: int, db: Path, concurrency: int = 32
) -> tuple[float, list[float], int, ConnectionPool]:
    from fleet_tui.core.net.ssh import ConnectOptions

    options = ConnectOptions(
        username="pi",
        client_keys=[lab.key],
        use_ssh_agent=False,
        use_ssh_config=False,
        connect_timeout=20.0,
    )
    store = Store.open(db)
    pool = ConnectionPool(
        store, options, handshakes=64, timeouts=Timeouts(tcp=5, handshake=20, agent=30, call=10)
    )
    targets = [Target(LOOPBACK, port) for port in lab.ports]
    started = time.perf_counter()
    links: list[Link] = []
    async for result in Operation(targets, pool.link, concurrency=concurrency, timeout=60):
        if result.ok and result.value is not None:
            links.append(result.value)
    cold = time.perf_counter() - started
    warm: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        await asyncio.gather(*(link.session.health() for link in links))
        warm.append(time.perf_counter() - started)
    return cold, warm, len(links), pool


def ssh_round(lab: LabProcess, parallel: int) -> tuple[float, int]:
    """One health round by plain OpenSSH: `xargs -P` runs one `ssh` per device."""
    remote = f"python3 {REMOTE_DIR}/{build_agent().filename} health"
    script = (
        f"{SSH} -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        f"-o LogLevel=ERROR -i {lab.key} -p \"$0\" pi@{LOOPBACK} '{remote}'"
    )
    ports = "\n".join(map(str, lab.ports)) + "\n"
    started = time.perf_counter()
    done = subprocess.run(
        ["xargs", "-P", str(parallel), "-n", "1", "sh", "-c", script],
        input=ports,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    answered = sum(
        1 for line in done.stdout.splitlines() if line.startswith("{") and "temperature_c" in line
    )
    return elapsed, answered


# ---- report -----------------------------------------------------------------------------------


def busy_fraction(seconds: float = 1.0) -> float:
    """How busy the machine is before we start (other work skews every number here)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("measurement", "time", "vs baseline", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)


async def main(args: argparse.Namespace) -> int:
    if not (os.access(SSH, os.X_OK) and shutil.which("xargs")):
        print(f"bench_connect: needs {SSH} and xargs for the baseline", file=sys.stderr)
        return 2
    background = busy_fraction()
    lab = LabProcess(args.devices)
    tmp = Path(tempfile.mkdtemp(prefix="bench-connect-"))
    pool: ConnectionPool | None = None
    try:
        print(
            f"lab: {args.devices} simulated Pis started in {lab.info['start_s']:.2f} s (child process); "
            f"{os.cpu_count()} CPUs, {background:.0%} busy with other work before the run"
        )
        cold, warm, reached, pool = await cold_and_warm(
            lab, args.rounds, tmp / "fleet.db", args.concurrency
        )
        loop = asyncio.get_running_loop()
        baselines = {}
        for parallel in sorted({32, args.devices}):
            baselines[parallel] = await loop.run_in_executor(None, ssh_round, lab, parallel)
    finally:
        if pool is not None:
            await pool.close()
            pool.store.close()
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    warm_s = statistics.median(warm)
    best_p, (base_s, base_ok) = min(baselines.items(), key=lambda kv: kv[1][0])
    speedup = base_s / warm_s if warm_s else float("inf")
    rows = [
        (
            f"baseline: ssh via xargs -P {p} ({ok}/{args.devices} answered)",
            f"{s:.3f} s",
            "1.00x (baseline)" if p == best_p else f"{base_s / s:.2f}x",
            "",
        )
        for p, (s, ok) in sorted(baselines.items())
    ]
    rows += [
        (
            f"cold: connect + agent + facts ({reached}/{args.devices}, {args.concurrency} at once)",
            f"{cold:.3f} s",
            f"{base_s / cold:.2f}x",
            f"< {COLD_TARGET_S:g} s",
        ),
        (
            f"warm health round, pool (median of {len(warm)})",
            f"{warm_s:.3f} s",
            f"{speedup:.1f}x faster",
            f"< {WARM_TARGET_S:g} s, >= {SPEEDUP_TARGET:g}x",
        ),
    ]
    print(table(rows))
    print(f"warm rounds: {', '.join(f'{w:.3f}' for w in warm)} s")
    missed = []
    if reached < args.devices or base_ok < args.devices:
        missed.append("not every device answered")
    if cold >= COLD_TARGET_S:
        missed.append(f"cold {cold:.2f} s >= {COLD_TARGET_S:g} s")
    if warm_s >= WARM_TARGET_S:
        missed.append(f"warm {warm_s:.3f} s >= {WARM_TARGET_S:g} s")
    if speedup < SPEEDUP_TARGET:
        missed.append(f"speed-up {speedup:.1f}x < {SPEEDUP_TARGET:g}x")
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--concurrency", type=int, default=32, help="cold: devices at once (poll's default)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--serve-lab", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--advertise", action="store_true", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.serve_lab:
        asyncio.run(serve_lab(ns.serve_lab, ns.advertise))
        sys.exit(0)
    sys.exit(asyncio.run(main(ns)))
