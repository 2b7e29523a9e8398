"""Issue 3: the agent's footprint on a Pi — RSS, CPU time and bytes on the wire per health sample.

Measured over real SSH against simulated Pis (a Pi 4B and a Pi 5, whose health reads the most
sources). Baselines in the same run: a bare `python3 -S` interpreter's RSS, and the agent's
cost for `ping` (protocol only, no sensors). CPU of child processes (the simulator's
`vcgencmd` is a shell script; a real Pi's is a small binary) is shown apart from the agent's own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from fleet_tui.core.agent.client import AgentSession
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.ssh import Endpoint, connect
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store

SAMPLES = 100
TARGET_RSS_MB = 20.0
TARGET_CPU_MS = 10.0


def bare_python_rss_kb() -> int:
    probe = "print(open('/proc/self/status').read())"
    out = subprocess.run(["python3", "-S", "-c", probe], capture_output=True, text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1])


async def per_call(session: AgentSession, method: str) -> dict[str, float]:
    before: dict[str, Any] = await session.call("stats")
    request_bytes = 0
    for _ in range(SAMPLES):
        request_bytes += len(json.dumps({"id": 1, "method": method, "params": {}})) + 1
        await session.call(method)
    after: dict[str, Any] = await session.call("stats")
    stats_line = after["bytes_out"] - before["bytes_out"]  # includes one stats reply; take it off
    reply_bytes = stats_line - len(json.dumps({"id": 0, "result": before})) - 1
    return {
        "cpu_self_ms": (after["cpu_self_s"] - before["cpu_self_s"]) * 1000 / SAMPLES,
        "cpu_children_ms": (after["cpu_children_s"] - before["cpu_children_s"]) * 1000 / SAMPLES,
        "bytes_per_call": (reply_bytes + request_bytes) / SAMPLES,
        "rss_mb": (after["rss_kb"] or 0) / 1024,
    }


async def measure(tmp: str) -> list[tuple[str, dict[str, float], dict[str, float]]]:
    lab = SimLab(2, advertise=False)  # index 0 is a Pi 4B, index 1 a Pi 5
    await lab.start()
    rows = []
    try:
        with Store.open(f"{tmp}/bench.db") as store:
            for pi in lab.pis:
                conn = await connect(
                    Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options()
                )
                try:
                    session = await AgentSession.start(conn)
                    for _ in range(5):  # warm up: imports and first-sample caches
                        await session.health()
                    ping = await per_call(session, "ping")
                    health = await per_call(session, "health")
                    rows.append((pi.model.key, ping, health))
                    await session.close()
                finally:
                    conn.close()
    finally:
        await lab.stop()
    return rows


def main() -> None:
    import tempfile

    bare = bare_python_rss_kb() / 1024
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(measure(tmp))
    print(f"agent footprint, {SAMPLES} samples per line ({time.perf_counter() - start:.1f} s)")
    head = f"{'pi':<4} {'what':<26} {'value':>10} {'baseline':>10} {'ratio':>7} {'target':>9}"
    print(head)
    print("-" * len(head))
    for key, ping, health in rows:
        lines = [
            ("RSS MB", health["rss_mb"], bare, f"< {TARGET_RSS_MB:g}"),
            (
                "CPU ms/sample (agent)",
                health["cpu_self_ms"],
                ping["cpu_self_ms"],
                f"< {TARGET_CPU_MS:g}",
            ),
            ("CPU ms/sample (children)", health["cpu_children_ms"], ping["cpu_children_ms"], ""),
            ("bytes on the wire/sample", health["bytes_per_call"], ping["bytes_per_call"], ""),
        ]
        for what, value, base, target in lines:
            ratio = f"{value / base:.1f}x" if base else "-"
            print(f"{key:<4} {what:<26} {value:>10.2f} {base:>10.2f} {ratio:>7} {target:>9}")
    print("baselines: RSS of a bare `python3 -S`; CPU and bytes of a `ping` round trip")
    met = all(h["rss_mb"] < TARGET_RSS_MB and h["cpu_self_ms"] < TARGET_CPU_MS for _, _, h in rows)
    print(f"targets: {'all met' if met else 'MISSED'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
