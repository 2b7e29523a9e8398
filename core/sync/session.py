"""One exchange with a peer, as the sync screen runs it: say what the peer is, preview what
would change, then apply it. The peer is a file (a snapshot on a USB stick) or a mailbox over
SSH (`[user@]host[:path]` or `ssh://[user@]host[:port][/path]`).

Blocking calls: run them in a worker thread. SQLite work happens in that thread; the SSH
exchange is a coroutine handed to `run`, which waits for it: the TUI passes one that runs it
on the fleet pipeline's event loop (FleetContext.run_on_pipeline), the default runs it on a
loop of its own in the calling thread. Every failure is a SessionError with one line the user
can act on; a failed apply has changed nothing locally.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.sync.carried import merge_carrying
from fleet_tui.core.sync.mailbox import SyncPreview, SyncResult
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.sync.report import ConstraintConflict, MergeReport
from fleet_tui.core.sync.ssh import SyncError, Target, parse_target

if TYPE_CHECKING:  # core.net imports asyncssh; keep it out of `import core.sync.session`
    from fleet_tui.core.net.ssh import ConnectOptions

T = TypeVar("T")


class Runner(Protocol):
    """Runs the coroutine `make()` returns to completion and gives its result (blocking)."""

    def __call__(self, make: Callable[[], Coroutine[Any, Any, T]], /) -> T: ...


def run_here(make: Callable[[], Coroutine[Any, Any, T]], /) -> T:
    """The default Runner: a private event loop in the calling thread."""
    return asyncio.run(make())


class SessionError(Exception):
    """Why a preview or an exchange could not happen (one line)."""


@dataclass(frozen=True)
class Peer:
    text: str  # what the user typed
    path: Path | None = None  # a peer file
    host: Target | None = None  # or a mailbox over SSH

    @property
    def label(self) -> str:
        if self.path is not None:
            return str(self.path)
        assert self.host is not None
        return self.host.label


def classify(text: str) -> Peer:
    """A path to an existing file is a peer file; otherwise a host target."""
    text = text.strip()
    if not text:
        raise SessionError("give a peer file (PATH.db) or a host ([user@]host[:path])")
    path = Path(text).expanduser()
    if path.is_file():
        return Peer(text, path=path.absolute())
    if text.startswith(("/", ".", "~")) or text.endswith((".db", ".sqlite")):
        raise SessionError(f"{path}: no such file")
    try:
        return Peer(text, host=parse_target(text))
    except SyncError as e:
        raise SessionError(str(e)) from e


@dataclass
class Outcome:
    """What a preview found or an exchange did; `report` is None when nothing came in."""

    peer: Peer
    report: MergeReport | None
    dry_run: bool
    outgoing: int | None = None  # rows a sync sends (None for a file)
    refused: list[str] = field(default_factory=list)
    conflicts: list[ConstraintConflict] = field(default_factory=list)  # after it (would be)
    lines: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # host keys pinned on the way

    @property
    def changes(self) -> int:
        return self.report.changed if self.report else 0


def preview(
    store: Store, peer: Peer, ssh: ConnectOptions | None = None, run: Runner = run_here
) -> Outcome:
    """What merging (a file) or syncing (a host) would change here; changes nothing but a
    host key pinned on first use. `ssh`: the SSH settings (None: the user's OpenSSH config)."""
    notices: list[str] = []
    try:
        if peer.path is not None:
            report, content = merge_carrying(store, peer.path, dry_run=True)
            lines = report.lines()
            if content is not None and content.got:
                lines.append(f"  release content would come: {content.names()}")
            return Outcome(peer, report, True, conflicts=report.conflicts, lines=lines)
        from fleet_tui.core.sync.ssh import preview_target_async

        pre: SyncPreview = run(
            lambda: preview_target_async(store, peer.text, ssh=ssh, notice=notices.append)
        )
    except (StoreError, SyncError) as e:
        raise SessionError(str(e)) from e
    conflicts = pre.report.conflicts if pre.report else PeerMerge(store).conflicts()
    return Outcome(
        peer, pre.report, True, pre.outgoing, pre.refused, conflicts, pre.lines(), notices
    )


def apply(
    store: Store, peer: Peer, ssh: ConnectOptions | None = None, run: Runner = run_here
) -> Outcome:
    """Merge the file, or sync both ways with the host; logged as an event."""
    notices: list[str] = []
    try:
        if peer.path is not None:
            report, content = merge_carrying(store, peer.path)  # and the content beside it
            lines = report.lines()
            if content is not None and content.got:
                lines.append(f"  release content now here: {content.names()}")
            EventLog(store).record(None, "merge", f"merged {peer.label}: {report.changed} rows")
            return Outcome(peer, report, False, conflicts=report.conflicts, lines=lines)
        from fleet_tui.core.sync.ssh import sync_target_async

        res: SyncResult = run(
            lambda: sync_target_async(store, peer.text, ssh=ssh, notice=notices.append)
        )
        EventLog(store).record(
            None,
            "sync",
            f"synced with {res.target}: {res.report.changed if res.report else 0} rows in, "
            f"{res.pushed_rows} out",
        )
    except (StoreError, SyncError) as e:
        raise SessionError(str(e)) from e
    return Outcome(
        peer,
        res.report,
        False,
        res.pushed_rows,
        res.refused,
        PeerMerge(store).conflicts(),
        res.lines(),
        notices,
    )
