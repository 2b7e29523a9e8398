"""Run one operation on many devices: bounded concurrency, per-device timeout, cancellation,
and per-device results streamed as they arrive.

    op = Operation(targets, do_one, concurrency=32, timeout=20)
    async for result in op:          # in completion order
        show(result)
    op.cancel()                      # from anywhere: running ones stop, pending ones are
                                     # reported as cancelled

A failure on one device is that device's result, never the operation's: the others go on.
`stop_after_failures` ends an operation early (for waves and canaries); every target still
gets exactly one result.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

Status = Literal["ok", "failed", "timeout", "cancelled"]


@dataclass(frozen=True)
class Result(Generic[K, T]):
    target: K
    status: Status
    value: T | None = None
    error: str | None = None
    started: float | None = None  # monotonic
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Operation(Generic[K, T]):
    """One fan-out. Iterate it (once) to start it and receive results."""

    def __init__(
        self,
        targets: Sequence[K],
        action: Callable[[K], Awaitable[T]],
        *,
        concurrency: int = 32,
        timeout: float | None = 30.0,  # noqa: ASYNC109
        stop_after_failures: int | None = None,
        describe: Callable[[BaseException], str] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.targets = list(dict.fromkeys(targets))
        self.action = action
        self.concurrency = concurrency
        self.timeout = timeout
        self.stop_after_failures = stop_after_failures
        self.describe = describe or _describe
        self.results: dict[K, Result[K, T]] = {}
        self._cancel = asyncio.Event()
        self._started = False
        self.failures = 0

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def summary(self) -> dict[Status, int]:
        counts: dict[Status, int] = {"ok": 0, "failed": 0, "timeout": 0, "cancelled": 0}
        for result in self.results.values():
            counts[result.status] += 1
        return counts

    async def _one(self, target: K) -> Result[K, T]:
        started = time.monotonic()
        try:
            if self.timeout is None:
                value = await self.action(target)
            else:
                value = await asyncio.wait_for(self.action(target), self.timeout)
        except TimeoutError:
            return Result(
                target,
                "timeout",
                error=f"no result within {self.timeout:g} s",
                started=started,
                elapsed=time.monotonic() - started,
            )
        except asyncio.CancelledError:
            return Result(
                target,
                "cancelled",
                error="cancelled",
                started=started,
                elapsed=time.monotonic() - started,
            )
        except Exception as exc:  # one device's failure is its own result
            return Result(
                target,
                "failed",
                error=self.describe(exc),
                started=started,
                elapsed=time.monotonic() - started,
            )
        return Result(
            target, "ok", value=value, started=started, elapsed=time.monotonic() - started
        )

    def __aiter__(self) -> AsyncIterator[Result[K, T]]:
        if self._started:
            raise RuntimeError("an Operation runs once")
        self._started = True
        return self._run()

    async def _run(self) -> AsyncIterator[Result[K, T]]:
        queue: asyncio.Queue[Result[K, T]] = asyncio.Queue()
        pending = list(reversed(self.targets))
        running: dict[asyncio.Task[Result[K, T]], K] = {}

        def launch() -> None:
            while pending and len(running) < self.concurrency and not self._cancel.is_set():
                target = pending.pop()
                task = asyncio.get_running_loop().create_task(self._one(target))
                running[task] = target
                task.add_done_callback(finished)

        def finished(task: asyncio.Task[Result[K, T]]) -> None:
            target = running.pop(task)
            result = (
                Result(target, "cancelled", error="cancelled")
                if task.cancelled()
                else task.result()
            )
            if result.status in ("failed", "timeout"):
                self.failures += 1
                if (
                    self.stop_after_failures is not None
                    and self.failures >= self.stop_after_failures
                ):
                    self._cancel.set()
            queue.put_nowait(result)
            launch()

        watcher = asyncio.get_running_loop().create_task(self._cancel.wait())
        launch()
        stopping = False
        try:
            while len(self.results) < len(self.targets):
                if self._cancel.is_set() and not stopping:
                    stopping = True  # running ones stop; pending ones never start
                    for task in list(running):
                        task.cancel()
                    while pending:
                        target = pending.pop()
                        queue.put_nowait(
                            Result(target, "cancelled", error="cancelled before it started")
                        )
                if stopping:
                    result = await queue.get()
                else:
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await getter
                        continue
                    result = getter.result()
                self.results[result.target] = result
                yield result
        finally:
            # Closing the iteration early (break, an exception, aclose) cancels the rest.
            watcher.cancel()
            for task in list(running):
                task.cancel()
            if running:
                await asyncio.wait(list(running), timeout=5.0)


async def run_all(
    targets: Sequence[K],
    action: Callable[[K], Awaitable[T]],
    **kwargs: object,
) -> list[Result[K, T]]:
    """Convenience: every result, in completion order."""
    op: Operation[K, T] = Operation(targets, action, **kwargs)  # type: ignore[arg-type]
    return [r async for r in op]


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
