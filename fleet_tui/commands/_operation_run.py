"""Running an operation from the command line: confirmation, the runner over a connection
pool, progress as JSON lines (`--json`) or one line per device, Ctrl-C as a clean cancel.

No `register` here: the CLI imports this module with the others but adds no subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    emit,
    fail,
    who,
)
from fleet_tui.commands._ssh_args import add_ssh_args, connection_pool
from fleet_tui.config import load_config
from fleet_tui.core.fleet.pool_caller import PoolCaller
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.kinds import OperationKind
from fleet_tui.core.ops.model import OperationRecord, OpStatus, StepStatus
from fleet_tui.core.ops.runner import Limits, OperationRunner
from fleet_tui.core.power.service import PowerService
from fleet_tui.core.store.database import Store
from fleet_tui.core.text import visible
from fleet_tui.paths import config_file

LIST_AT_MOST = 8
EXIT_OF = {
    OpStatus.DONE: EXIT_OK,
    OpStatus.PARTIAL: EXIT_PARTIAL,
    OpStatus.FAILED: EXIT_FAILURE,
    OpStatus.CANCELLED: EXIT_FAILURE,
}


def add_run_args(p: argparse.ArgumentParser, danger: bool) -> None:
    p.add_argument("--json", action="store_true", help="progress as one JSON object per line")
    p.add_argument(
        "--concurrency", type=int, default=None, metavar="N", help="devices at once (default 16)"
    )
    p.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="per device (default 20)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="skip the [operations] cooldowns (a device rebooted minutes ago); logged",
    )
    if danger:
        p.add_argument(
            "--yes",
            action="store_true",
            help="do not ask (scripts); without a terminal it is needed",
        )
    add_ssh_args(p)


def confirmed(args: argparse.Namespace, kind: OperationKind, hostnames: list[str]) -> int | None:
    """Ask as the TUI does: a dangerous kind wants the hostname, or `reboot N`, typed out.
    None when confirmed, else the exit code: 64 without a terminal to ask (and no --yes), 2
    when the answer was not the word."""
    word = kind.typed_word(hostnames)
    if word is None:
        return None
    return ask_typed(args, kind.name, kind.question, hostnames, word, f"to {kind.name}")


def ask_typed(
    args: argparse.Namespace, what: str, question: str, names: list[str], word: str, to: str
) -> int | None:
    """`question`, the first names, then `word` typed out (or --yes). None when confirmed,
    else the exit code: 64 without a terminal to ask, 2 when the answer was not the word."""
    if getattr(args, "yes", False):
        return None
    if not sys.stdin.isatty():
        return fail(f"{what}: needs --yes when not run from a terminal", EXIT_USAGE)
    return ask_word(question, names, word, what, to)


def ask_word(question: str, names: list[str], word: str, what: str, to: str = "") -> int | None:
    """Show `question` and the devices, and want `word` typed back: None when it was, else
    the exit code after saying nothing was done."""
    print(question, file=sys.stderr)
    for name in names[:LIST_AT_MOST]:
        print(f"  {visible(name, 64)}", file=sys.stderr)
    if len(names) > LIST_AT_MOST:
        print(f"  … and {len(names) - LIST_AT_MOST} more", file=sys.stderr)
    to = to or f"to {what}"
    print(f"Type {visible(word, 64)!r} {to}: ", end="", file=sys.stderr, flush=True)
    try:
        answer = input()
    except EOFError:
        answer = ""
    if answer.strip() != word:
        return fail(f"{what}: not confirmed; nothing was done")
    return None


def limits(args: argparse.Namespace) -> Limits | None:
    if args.concurrency is not None and not 1 <= args.concurrency <= 256:
        raise ValueError("--concurrency must be between 1 and 256")
    if args.timeout is not None and not 0 < args.timeout <= 3600:
        raise ValueError("--timeout must be between 0 and 3600 seconds")
    return Limits(timeout_s=args.timeout, concurrency=args.concurrency)


Prepare = Callable[[PowerService], Awaitable[int | None]]


def run_operation(
    args: argparse.Namespace,
    store: Store,
    start: Callable[[OperationRunner], OperationRecord],
    prepare: Prepare | None = None,
) -> int:
    """Start an operation with `start(runner)` and follow it to the end. `prepare`, when
    given, runs first with the power service (checks that need the network); an exit code
    from it stops there."""
    return asyncio.run(_run(args, store, start, prepare))


async def _run(
    args: argparse.Namespace,
    store: Store,
    start: Callable[[OperationRunner], OperationRecord],
    prepare: Prepare | None = None,
) -> int:
    cfg, _ = load_config(config_file())
    pool = connection_pool(store, args)
    caller = PoolCaller(pool, known_targets(store))
    power = PowerService(store, caller, cfg.power, who=who())
    runner = OperationRunner(
        store,
        caller,
        who=who(),
        policy=cfg.operations,
        on_event=lambda e: _show(args, e),
        power=power,
    )
    loop = asyncio.get_running_loop()
    try:
        if prepare is not None and (code := await prepare(power)) is not None:
            return code
        op = start(runner)
        for sig in (signal.SIGINT, signal.SIGTERM):  # a clean cancel, journalled
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, runner.cancel, op.id)
        done = await runner.wait(op.id)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        power.close()
        await pool.close()
    if not args.json:
        progress = runner.journal.progress(done.id)
        print(
            f"{done.title}: {done.status.value} ({progress.summary()}); operation {done.id}",
            file=sys.stderr,
        )
    return EXIT_OF.get(done.status, EXIT_FAILURE)


def _show(args: argparse.Namespace, event: OperationEvent) -> None:
    step = event.step
    if args.json:
        emit(args, event.to_json(), "")
        return
    if event.event == "started":
        print(f"{event.operation.title} (operation {event.operation.id})", file=sys.stderr)
        print(f"{'DEVICE':<20} {'STATUS':<9} MESSAGE", flush=True)
    if step is None or step.status in (StepStatus.RUNNING, StepStatus.PENDING):
        return
    name = visible(step.hostname or step.serial, 32)
    print(f"{name:<20} {step.status.value:<9} {visible(step.message, 300)}", flush=True)
