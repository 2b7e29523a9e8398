"""Store: snapshots, change sets, exchanges with a partner and the sync bookkeeping."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet_tui.core.store.base import StoreError, _meta_int
from fleet_tui.core.store.merge import StoreMerge
from fleet_tui.core.sync import files
from fleet_tui.core.sync.peer import PeerInfo
from fleet_tui.core.sync.report import MergeReport


@dataclass
class Exchange:
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


class StoreSync(StoreMerge):
    @property
    def version(self) -> int:
        """The version local writes are stamped with now (the sync cursor's unit)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'db_version'").fetchone()
        return _meta_int(row[0] if row else None, 1)

    def snapshot(self, out: str | Path) -> Path:
        """A consistent copy (VACUUM INTO), safe to carry on a USB stick and merge elsewhere."""
        target = Path(out).expanduser().absolute()
        if target.resolve() == self.path.resolve():
            raise StoreError(f"{target}: is this database itself")
        with self._lock:
            try:
                files.vacuum_into(self._conn, target)
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
        ex = self.exchange(out, since, exclude_ver, None)
        return ex.cursor, ex.rows

    def count_changes(self, since: int, exclude_ver: int | None = None) -> int:
        """Rows a change set since `since` would hold (what a sync would send)."""
        with self._lock:
            return files.count_changes(self._conn, since, exclude_ver)

    def exchange(
        self, out: str | Path, since: int, exclude_ver: int | None, incoming: Path | None
    ) -> Exchange:
        """Atomically: write our changes since `since` to `out`, then merge `incoming`.

        One transaction under the lock, so no local write can slip between the two: every
        row stamped with the merge's version came from `incoming` alone, and the next
        exchange with the same partner can leave those rows out (`exclude_ver`).
        """
        target = Path(out).expanduser().absolute()
        tmp = files.tmp_beside(target)
        with self._lock:
            info = self._inspect(incoming) if incoming is not None else None
            self._maintenance()
            try:
                files.empty_peer_file(tmp)
                with self._attached(str(tmp), "delta"), contextlib.ExitStack() as stack:
                    report = MergeReport(str(info.path), info.site_id) if info else None
                    verdict = None
                    if info is not None and report is not None:
                        stack.enter_context(self._attached(info.uri, "peer"))
                        verdict = stack.enter_context(self._beside(info, report, True))
                    ex = self._exchange_tx(since, exclude_ver, info, report, verdict)
                files.publish(tmp, target)
            except (sqlite3.Error, OSError) as e:
                raise StoreError(f"{target}: exchange failed, nothing changed: {e}") from e
            finally:
                tmp.unlink(missing_ok=True)
        if ex.report is not None:
            self._after_merge()
        return ex

    def _exchange_tx(
        self,
        since: int,
        exclude_ver: int | None,
        info: PeerInfo | None,
        report: MergeReport | None,
        verdict: Callable[[], None] | None,
    ) -> Exchange:
        with self._tx() as c:
            cursor = self._ver
            rows = files.copy_changes(c, since, exclude_ver)
            files.write_delta_meta(
                c,
                {
                    "site_id": self.site_id,
                    "hlc": self.clock.last,
                    "db_version": cursor,
                    "delta_since": since,
                },
            )
            # later local writes get a higher version than this cursor
            self._set_meta("db_version", cursor + 1)
            self._ver = cursor + 1
            if info is not None and report is not None and verdict is not None:
                self._merge_in_tx(c, info, report, verdict)
                self._ver = report.version + 1
        return Exchange(cursor, rows, report)

    # ---- sync bookkeeping (local-only, never merged) ----------------------------------------
    def sync_state(self, target: str) -> SyncState:
        with self._lock:
            row = self._conn.execute(
                "SELECT sent_ver, echo_ver, last_sync FROM sync_peers WHERE target = ?", (target,)
            ).fetchone()
            seen = dict(
                self._conn.execute(
                    "SELECT site, cursor FROM sync_seen WHERE target = ?", (target,)
                ).fetchall()
            )
        if row is None:
            return SyncState(target, 0, None, None, seen)
        return SyncState(target, row[0], row[1], row[2], seen)

    def save_sync_state(self, state: SyncState) -> None:
        with self._write() as c:
            c.execute(
                "INSERT OR REPLACE INTO sync_peers (target, sent_ver, echo_ver, last_sync) "
                "VALUES (?, ?, ?, ?)",
                (state.target, state.sent_ver, state.echo_ver, state.last_sync),
            )
            c.executemany(
                "INSERT OR REPLACE INTO sync_seen (target, site, cursor) VALUES (?, ?, ?)",
                [(state.target, site, cur) for site, cur in state.seen.items()],
            )
