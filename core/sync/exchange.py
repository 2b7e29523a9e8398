"""Files that carry the store to a partner and back: snapshots, change sets, an exchange
(ours out, theirs in, atomically), and the bookkeeping of each partner's cursors.

Change sets are incremental by the store's version (`_ver`): rows changed after a cursor.
The bookkeeping (`sync_peers`, `sync_seen`) is local only, never merged or snapshotted.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from fleet_tui.core.store.base import StoreError
from fleet_tui.core.store.database import Store
from fleet_tui.core.sync import files
from fleet_tui.core.sync.peer import PeerInfo
from fleet_tui.core.sync.peer_merge import PeerMerge, Verdict, attached
from fleet_tui.core.sync.report import MergeReport


@dataclass
class ExchangeResult:
    cursor: int  # our version the outgoing changes run up to
    rows: int  # rows written to the outgoing file
    report: MergeReport | None  # what merging the incoming file changed

    @property
    def echo_ver(self) -> int | None:
        return self.report.version if self.report else None


@dataclass
class SyncState:
    target: str
    sent_ver: int  # our changes up to this version are in the partner's copy
    echo_ver: int | None  # rows our last merge of the partner's files wrote
    last_sync: float | None
    seen: dict[str, int]  # writing site -> highest change-set cursor merged


class Exchange:
    """Snapshots, change sets and exchanges of one store, and its partners' cursors."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def snapshot(self, out: str | Path) -> Path:
        """A consistent copy (VACUUM INTO), safe to carry on a USB stick and merge elsewhere."""
        store = self.store
        target = Path(out).expanduser().absolute()
        if target.resolve() == store.path.resolve():
            raise StoreError(f"{target}: is this database itself")
        with store.locked() as conn:
            try:
                files.vacuum_into(conn, target)
            except (sqlite3.Error, OSError) as e:
                raise StoreError(f"{target}: snapshot failed: {e}") from e
        return target

    def write_changes(
        self, out: str | Path, since: int = 0, exclude_ver: int | None = None
    ) -> tuple[int, int]:
        """Write rows changed after version `since` to a peer file at `out`.

        Returns (cursor, rows): pass `cursor` as `since` next time. Rows stamped
        `exclude_ver` (what a merge from the same partner wrote) are left out: no echo.
        """
        ex = self.run(out, since, exclude_ver, None)
        return ex.cursor, ex.rows

    def count_changes(self, since: int, exclude_ver: int | None = None) -> int:
        """Rows a change set since `since` would hold (what a sync would send)."""
        with self.store.locked() as conn:
            return files.count_changes(conn, since, exclude_ver)

    def run(
        self, out: str | Path, since: int, exclude_ver: int | None, incoming: Path | None
    ) -> ExchangeResult:
        """Atomically: write our changes since `since` to `out`, then merge `incoming`.

        One transaction under the lock, so no local write can slip between the two: every
        row stamped with the merge's version came from `incoming` alone, and the next
        exchange with the same partner can leave those rows out (`exclude_ver`).
        """
        store = self.store
        merger = PeerMerge(store)
        target = Path(out).expanduser().absolute()
        tmp = files.tmp_beside(target)
        with store.locked() as conn:
            info = merger.inspect(incoming) if incoming is not None else None
            store.start_maintenance()
            try:
                files.empty_peer_file(tmp)
                with attached(conn, str(tmp), "delta"), contextlib.ExitStack() as stack:
                    report = MergeReport(str(info.path), info.site_id) if info else None
                    verdict = None
                    if info is not None and report is not None:
                        stack.enter_context(attached(conn, info.uri, "peer"))
                        verdict = stack.enter_context(merger.beside(info, report, True))
                    ex = self._run_tx(merger, since, exclude_ver, info, report, verdict)
                files.publish(tmp, target)
            except (sqlite3.Error, OSError) as e:
                raise StoreError(f"{target}: exchange failed, nothing changed: {e}") from e
            finally:
                tmp.unlink(missing_ok=True)
        if ex.report is not None:
            store.poke_maintenance()
        return ex

    def _run_tx(
        self,
        merger: PeerMerge,
        since: int,
        exclude_ver: int | None,
        info: PeerInfo | None,
        report: MergeReport | None,
        verdict: Verdict | None,
    ) -> ExchangeResult:
        store = self.store
        with store.transaction() as c:
            cursor = store.write_version
            rows = files.copy_changes(c, since, exclude_ver)
            files.write_delta_meta(
                c,
                {
                    "site_id": store.site_id,
                    "hlc": store.clock.last,
                    "db_version": cursor,
                    "delta_since": since,
                },
            )
            # later local writes get a higher version than this cursor
            store.set_write_version(c, cursor + 1)
            if info is not None and report is not None and verdict is not None:
                merger.merge_in(c, info, report, verdict)
        return ExchangeResult(cursor, rows, report)

    # ---- sync bookkeeping (local-only, never merged) ----------------------------------------
    def state(self, target: str) -> SyncState:
        """What we sent to and merged from `target` so far (zeros for a new partner)."""
        with self.store.locked() as conn:
            row = conn.execute(
                "SELECT sent_ver, echo_ver, last_sync FROM sync_peers WHERE target = ?", (target,)
            ).fetchone()
            seen = dict(
                conn.execute(
                    "SELECT site, cursor FROM sync_seen WHERE target = ?", (target,)
                ).fetchall()
            )
        if row is None:
            return SyncState(target, 0, None, None, seen)
        return SyncState(target, row[0], row[1], row[2], seen)

    def save_state(self, state: SyncState) -> None:
        with self.store.write() as c:
            c.execute(
                "INSERT OR REPLACE INTO sync_peers (target, sent_ver, echo_ver, last_sync) "
                "VALUES (?, ?, ?, ?)",
                (state.target, state.sent_ver, state.echo_ver, state.last_sync),
            )
            c.executemany(
                "INSERT OR REPLACE INTO sync_seen (target, site, cursor) VALUES (?, ?, ?)",
                [(state.target, site, cur) for site, cur in state.seen.items()],
            )
