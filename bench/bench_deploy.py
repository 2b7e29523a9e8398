"""Deployments: what a one-file change sends, and how long 100 Pis take in batches of 25.

    python bench/bench_deploy.py [--pis 20] [--size-mb 50] [--fleet 100] [--batch 25] [--strict]

Simulated Pis on loopback (real SSH, the real agent), the deployment run in this process
through the same Rollout the CLI uses. Measured in the same run:
- transfer: a release of --size-mb MB (one big file and a few small ones) deployed as v1 to
  --pis Pis (the baseline: the full release to every Pi), then v2, which changes one small
  file: files and bytes sent (content, and base64 on the wire) for each, and their ratio;
- waves: a small release to --fleet Pis, no canary, batches of --batch (`[operations]
  concurrency` 32), wall time; the baseline is the same deployment to one Pi alone.
Targets (issue 13): v2 sends exactly the changed file to each Pi (no byte of the rest).
`--strict` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_lab import table  # noqa: E402

from fleet_tui.core.deploy.releases import ReleaseBook  # noqa: E402
from fleet_tui.core.deploy.rollout import Options, Rollout  # noqa: E402
from fleet_tui.core.deploy.steps import DeploymentBook, DeployStatus  # noqa: E402
from fleet_tui.core.deploy.targets import choose  # noqa: E402
from fleet_tui.core.fleet.pool_caller import PoolCaller  # noqa: E402
from fleet_tui.core.net.pool import ConnectionPool, Timeouts  # noqa: E402
from fleet_tui.core.net.targets import known_targets  # noqa: E402
from fleet_tui.core.ops.policy import OperationPolicy  # noqa: E402
from fleet_tui.core.sim.lab import LOOPBACK, SimLab  # noqa: E402
from fleet_tui.core.store.database import Store  # noqa: E402
from fleet_tui.core.store.devices import DeviceBook  # noqa: E402

MANIFEST = """name = "{name}"
version = "{version}"
[service]
start = "exec sleep 600"
[health]
command = "test -f VERSION"
deadline_s = 20
"""


def make_release(base: Path, name: str, version: str, big: bytes) -> Path:
    folder = base / f"{name}-{version}"
    folder.mkdir(parents=True)
    (folder / "fleet-release.toml").write_text(MANIFEST.format(name=name, version=version))
    (folder / "VERSION").write_text(version + "\n")
    (folder / "app.sh").write_text("#!/bin/sh\nexec sleep 600\n")
    if big:
        (folder / "data.bin").write_bytes(big)
    return folder


async def deploy(
    store: Store, caller: PoolCaller, ref: str, to: str, batch: str, canary: int = 0
) -> tuple[float, Rollout, str]:
    rollout = Rollout(store, caller, who="bench", policy=OperationPolicy(concurrency=32))
    release = ReleaseBook(store).get(ref)
    record = rollout.create(
        release, choose(store, to), Options(canary=canary, batch=batch, max_failures="100%")
    )
    t0 = time.perf_counter()
    done = await rollout.run(record.id)
    elapsed = time.perf_counter() - t0
    await rollout.close()
    if done.status not in (DeployStatus.DONE, DeployStatus.PARTIAL):
        raise SystemExit(f"{ref}: {done.status.value}: {done.message}")
    failed = [s for s in DeploymentBook(store).devices(done) if s.failed]
    if failed:
        raise SystemExit(f"{ref}: {failed[0].hostname} failed: {failed[0].message}")
    return elapsed, rollout, done.id


def outcome(store: Store, dep_id: str) -> tuple[int, list[str]]:
    """Devices on the version, and the pre-flight refusals (a simulated Pi may be throttled)."""
    book = DeploymentBook(store)
    devices = book.devices(book.get(dep_id))
    return sum(s.done for s in devices), [s.message for s in devices if s.refused]


async def with_lab(count: int, work: Path, run):  # type: ignore[no-untyped-def]
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (set-up, before any Pi runs)
    lab = SimLab(count, workdir=work / "lab", advertise=False)
    await lab.start()
    store = Store.open(work / "fleet.db")
    book = DeviceBook(store)
    for pi in lab.pis:
        book.upsert(pi.serial, hostname=pi.hostname, address=LOOPBACK, port=pi.port, user="pi")
    pool = ConnectionPool(
        store, lab.connect_options(), timeouts=Timeouts(tcp=5, handshake=20, agent=60, call=60)
    )
    try:
        return await run(lab, store, PoolCaller(pool, known_targets(store)))
    finally:
        await pool.close()
        store.close()
        await lab.stop()


async def transfer(pis: int, size_mb: float, work: Path) -> list[list[str]]:
    big = os.urandom(int(size_mb * 1e6))

    async def run(lab: SimLab, store: Store, caller: PoolCaller) -> list[list[str]]:
        book = ReleaseBook(store)
        rows = []
        for version in ("1", "2"):
            rec, _ = book.add(make_release(work / "rel", "big", version, big))
            elapsed, rollout, _ = await deploy(store, caller, rec.id, "*", "100%")
            t = rollout.traffic
            full = rec.size * pis
            rows.append(
                [
                    f"big@{version}",
                    f"{rec.size / 1e6:.1f}",
                    str(pis),
                    str(t.files),
                    f"{t.bytes:,}",
                    f"{t.wire:,}",
                    f"{full:,}",
                    f"{t.bytes / full:.2e}" if full else "-",
                    f"{elapsed:.2f}",
                ]
            )
        return rows

    return await with_lab(pis, work, run)


async def waves(fleet: int, batch: int, work: Path) -> list[list[str]]:
    async def run(lab: SimLab, store: Store, caller: PoolCaller) -> list[list[str]]:
        rec, _ = ReleaseBook(store).add(make_release(work / "rel", "small", "1", b""))
        one, _, _ = await deploy(store, caller, rec.id, f"^{lab.pis[0].hostname}$", "1")
        rows = [["1 Pi alone (baseline)", "1", "1", "0", f"{one:.2f}", "1.0"]]
        rec2, _ = ReleaseBook(store).add(make_release(work / "rel", "small", "2", b""))
        every, _, dep_id = await deploy(store, caller, rec2.id, "*", str(batch))
        waves_n = -(-fleet // batch)
        done, refused = outcome(store, dep_id)
        name = f"{fleet} Pis, batches of {batch}"
        rows.append(
            [name, str(waves_n), str(done), str(len(refused)), f"{every:.2f}", f"{every / one:.1f}"]
        )
        for reason in sorted(set(refused)):
            print(f"pre-flight refused: {reason}", file=sys.stderr)
        return rows

    return await with_lab(fleet, work, run)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pis", type=int, default=20)
    ap.add_argument("--size-mb", type=float, default=50.0)
    ap.add_argument("--fleet", type=int, default=100)
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        rows = asyncio.run(transfer(args.pis, args.size_mb, Path(tmp) / "t"))
        table(
            ["release", "MB", "pis", "files sent", "content bytes", "wire bytes (base64)",
             "full release x pis", "sent/full", "s"],
            rows,
        )  # fmt: skip
        print()
        table(
            ["deployment", "waves", "on it", "refused", "s", "x one Pi"],
            asyncio.run(waves(args.fleet, args.batch, Path(tmp) / "w")),
        )
    ok = rows[1][3] == str(args.pis) and rows[1][4] == f"{2 * args.pis:,}"  # "2\n" per Pi
    print(f"\ntarget: v2 sends only its one changed file to each Pi: {'met' if ok else 'MISSED'}")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
