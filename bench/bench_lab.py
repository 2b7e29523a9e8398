"""Simulated lab: start and stop time for 12/50/100 Pis, what a stop leaves, fault latency.

Run: python bench/bench_lab.py [--sizes 12,50,100] [--strict]. Each lab is started with mDNS
adverts (real zeroconf on 127.0.0.1) in its default workdir, one simulator tick is timed,
then it is stopped and checked for leftover processes, sockets and files. A second table
times inject + clear of each fault kind on a 12-Pi lab. Target: 100 Pis start in < 10 s with
nothing left over; with --strict a miss exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet_tui.core.sim.faults import KINDS  # noqa: E402
from fleet_tui.core.sim.lab import SimLab  # noqa: E402
from fleet_tui.core.sim.leftovers import find_leftovers, mdns_sockets  # noqa: E402

START_TARGET_S = 10.0
TARGET_SIZE = 100


async def one_lab(n: int) -> list[str]:
    mdns_before = mdns_sockets()
    lab = SimLab(n)
    t0 = time.perf_counter()
    await lab.start()
    started = time.perf_counter() - t0
    t1 = time.perf_counter()
    await lab.advance(1.0, step_s=1.0)
    ticked = time.perf_counter() - t1
    t2 = time.perf_counter()
    await lab.stop()
    stopped = time.perf_counter() - t2
    left = find_leftovers(lab.workdir, [pi.port for pi in lab.pis], mdns_before=mdns_before)
    return [
        str(n),
        f"{started:.2f}",
        f"{ticked * 1000:.0f}",
        f"{stopped:.2f}",
        str(len(left.processes)),
        str(len(left.tcp_sockets) + left.mdns_sockets),
        str(len(left.paths)),
        str(lab.workdir.parent),
    ]


async def fault_latency() -> list[list[str]]:
    lab = SimLab(12, advertise=True)
    await lab.start()
    rows = []
    try:
        for i, kind in enumerate(KINDS):
            pi = lab.pis[i % len(lab.pis)]
            t0 = time.perf_counter()
            await lab.inject(pi, kind, KINDS[kind].example or None)  # kinds that need a value
            t1 = time.perf_counter()
            await lab.clear(pi, kind)
            t2 = time.perf_counter()
            rows.append([kind, f"{(t1 - t0) * 1000:.1f}", f"{(t2 - t1) * 1000:.1f}"])
    finally:
        await lab.stop()
    return rows


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="12,50,100", help="comma-separated lab sizes")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows = [asyncio.run(one_lab(n)) for n in sizes]
    header = [
        "pis",
        "start s",
        "tick ms",
        "stop s",
        "left procs",
        "left sockets",
        "left files",
        "trees in",
    ]
    table(header, rows)
    print()
    table(["fault", "inject ms", "clear ms"], asyncio.run(fault_latency()))
    ok = all(r[4] == r[5] == r[6] == "0" for r in rows)
    big = [r for r in rows if int(r[0]) == TARGET_SIZE]
    ok = ok and all(float(r[1]) < START_TARGET_S for r in big)
    print(
        f"\ntarget: {TARGET_SIZE} Pis start < {START_TARGET_S:g} s, nothing left after stop: "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
