"""Fan-out: bounded concurrency, per-device timeout, cancellation, results as they arrive."""

from __future__ import annotations

import asyncio

import pytest

from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.routes import Target
from fleet_tui.core.ops.fanout import Operation, run_all
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store


async def test_concurrency_is_bounded_and_results_stream_in_completion_order() -> None:
    running = 0
    peak = 0

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01 * (10 - n))
        running -= 1
        return n * n

    seen = [r async for r in Operation(list(range(10)), work, concurrency=3, timeout=5)]
    assert peak == 3
    assert sorted(r.target for r in seen) == list(range(10))
    assert all(r.ok and r.value == r.target**2 for r in seen)
    # the first three start together; the quickest of them (n=2) finishes first
    assert seen[0].target == 2


async def test_per_device_timeout_and_failures_stay_per_device() -> None:
    async def work(n: int) -> int:
        if n == 1:
            await asyncio.sleep(10)
        if n == 2:
            raise RuntimeError("disk full")
        return n

    loop = asyncio.get_running_loop()
    started = loop.time()
    results = {r.target: r for r in await run_all([0, 1, 2, 3], work, concurrency=4, timeout=0.3)}
    assert loop.time() - started < 2.0
    assert results[1].status == "timeout" and "0.3 s" in (results[1].error or "")
    assert results[2].status == "failed" and results[2].error == "disk full"
    assert results[0].ok and results[3].ok


async def test_cancel_stops_running_and_reports_pending_as_cancelled() -> None:
    started: list[int] = []

    async def work(n: int) -> int:
        started.append(n)
        await asyncio.sleep(10)
        return n

    op: Operation[int, int] = Operation(list(range(20)), work, concurrency=4, timeout=None)
    results = []
    loop = asyncio.get_running_loop()
    begin = loop.time()
    loop.call_later(0.2, op.cancel)
    async for result in op:
        results.append(result)
    assert loop.time() - begin < 2.0
    assert len(results) == 20 and all(r.status == "cancelled" for r in results)
    assert sorted(started) == [0, 1, 2, 3]  # nothing new started after the cancel
    assert op.summary()["cancelled"] == 20


async def test_stop_after_failures_ends_early_but_reports_every_target() -> None:
    async def work(n: int) -> int:
        await asyncio.sleep(0.01)
        if n < 3:
            raise RuntimeError("bad")
        return n

    op: Operation[int, int] = Operation(list(range(10)), work, concurrency=1, stop_after_failures=2)
    results = [r async for r in op]
    assert len(results) == 10
    assert [r.status for r in results][:2] == ["failed", "failed"]
    assert all(r.status == "cancelled" for r in results[2:])


async def test_leaving_the_loop_early_cancels_the_rest() -> None:
    finished: list[int] = []

    async def work(n: int) -> int:
        await asyncio.sleep(0.01 if n == 0 else 5)
        finished.append(n)
        return n

    op: Operation[int, int] = Operation(list(range(6)), work, concurrency=6)
    async for result in op:
        assert result.target == 0
        break
    await asyncio.sleep(0.05)
    assert finished == [0]


async def test_health_round_on_real_devices(lab: SimLab, store: Store) -> None:
    pool = ConnectionPool(store, lab.connect_options())
    try:
        targets = [Target(LOOPBACK, pi.port) for pi in lab.pis] + [Target(LOOPBACK, 1)]

        async def health(target: Target) -> float | None:
            link = await pool.link(target)
            return (await link.session.health()).temperature_c

        results = {
            r.target.port: r async for r in Operation(targets, health, concurrency=8, timeout=20)
        }
        assert all(results[pi.port].ok for pi in lab.pis)
        assert results[1].status == "failed" and "unreachable" in (results[1].error or "")
    finally:
        await pool.close()


def test_bad_concurrency_is_refused() -> None:
    with pytest.raises(ValueError):
        Operation([1], lambda n: asyncio.sleep(0), concurrency=0)
