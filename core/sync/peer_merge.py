"""Merging a peer file into the store in one transaction, beside its page check and analysis.

The peer is vetted first (core/sync/peer.py), attached as schema `peer`, and merged by one
statement per table (core/sync/merge.py) inside one write transaction of the store; the
peer's structural check and the report's analysis run beside it (core/sync/beside.py) and
are waited for before COMMIT. A refused or failed merge changes nothing.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fleet_tui.core.store import compaction
from fleet_tui.core.store.base import StoreError, file_uri
from fleet_tui.core.store.database import Store
from fleet_tui.core.sync import files
from fleet_tui.core.sync.beside import SideTask
from fleet_tui.core.sync.conflicts import constraint_conflicts
from fleet_tui.core.sync.merge import analyse, merge_attached
from fleet_tui.core.sync.peer import PageCheck, PeerError, PeerInfo, inspect_peer
from fleet_tui.core.sync.report import ConstraintConflict, MergeReport

Verdict = Callable[[], None]  # raises StoreError if the merge must not commit


class _DryRun(Exception):
    """Raised inside a merge transaction to roll it back after computing the report."""


@contextmanager
def attached(conn: sqlite3.Connection, uri: str, name: str) -> Iterator[None]:
    """`uri` attached to the store's connection as schema `name` (caller holds the lock)."""
    try:
        conn.execute(f"ATTACH DATABASE ? AS {name}", (uri,))
    except sqlite3.Error as e:
        raise StoreError(f"{uri}: cannot open: {e}") from e
    try:
        yield
    finally:
        conn.execute(f"DETACH DATABASE {name}")


class PeerMerge:
    """Merges peer files into one store, and finds the conflicts a merge leaves."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def merge(
        self, peer: str | Path, *, dry_run: bool = False, details: bool = True
    ) -> MergeReport:
        """Merge a peer file in one transaction. A refused or failed merge changes nothing.

        `dry_run`: report what would change, change nothing (also on a read-only store).
        `details`: list every cell both sides wrote with different values in the report."""
        store = self.store
        if store.readonly and not dry_run:
            raise StoreError(f"{store.path}: opened read-only")
        if store.readonly:
            return self._dry_run_on_copy(Path(peer), details)
        with store.locked() as conn:
            info = self.inspect(Path(peer))
            if not dry_run:
                store.start_maintenance()
            report = MergeReport(str(info.path), info.site_id, dry_run=dry_run)
            with attached(conn, info.uri, "peer"), self.beside(info, report, details) as verdict:
                try:
                    with store.transaction() as c:
                        self.merge_in(c, info, report, verdict)
                        if dry_run:
                            raise _DryRun
                except _DryRun:
                    pass
                except sqlite3.DatabaseError as e:
                    raise StoreError(f"{info.path}: merge failed, nothing changed: {e}") from e
        if not dry_run:
            store.poke_maintenance()
        return report

    def conflicts(self) -> list[ConstraintConflict]:
        """Constraints the merged state breaks (one device per slot, one slot per device, one thing per rack unit)."""
        with self.store.locked() as conn:
            return constraint_conflicts(conn)

    # ---- the parts, also used by an exchange (core/sync/exchange.py) -----------------------
    def inspect(self, path: Path) -> PeerInfo:
        """Vet a peer file (all but its page check, which runs beside the merge)."""
        try:
            return inspect_peer(path, self.store.site_id, self.store.clock, pages=False)
        except PeerError as e:
            raise StoreError(str(e)) from e

    @contextmanager
    def beside(self, info: PeerInfo, report: MergeReport, details: bool) -> Iterator[Verdict]:
        """Start the peer's page check and the report's analysis beside the merge; yield the
        verdict to call before COMMIT (raises StoreError). Both are joined however we leave."""
        check = PageCheck(info)

        def analysis_work(conn: sqlite3.Connection) -> str | None:
            return analyse(conn, info.columns, report, details)

        analysis = SideTask("merge analysis", lambda: self._reader(info), analysis_work)
        try:
            check.start()
        except PeerError as e:
            raise StoreError(str(e)) from e
        try:
            try:
                analysis.start()
            except sqlite3.Error as e:
                raise StoreError(f"{self.store.path}: cannot read: {e}") from e

            def verdict() -> None:
                try:
                    check.verdict()
                except PeerError as e:
                    raise StoreError(str(e)) from e
                problem = analysis.wait()
                if problem is not None:
                    raise StoreError(f"{info.path}: merge failed, nothing changed: {problem}")

            yield verdict
        finally:
            check.wait()
            analysis.wait()

    def merge_in(
        self, c: sqlite3.Connection, info: PeerInfo, report: MergeReport, verdict: Verdict
    ) -> None:
        """Merge the attached `peer` (caller holds the store's write transaction). Raises
        before the caller can commit if the peer's page check finds damage or the analysis
        failed. Later local writes get a version above the merged rows'."""
        store = self.store
        # merged rows get a version of their own, so a sync can tell them from local writes
        ver = report.version = store.write_version + 1
        try:
            merge_attached(c, info.columns, ver, report)
            store.recount_seqs()  # the peer may have brought rows of our own origin back
            report.compacted = store.fold_samples(
                c, lambda: compaction.absorb(c, ver, info.columns)
            )
        except sqlite3.DatabaseError:
            verdict()  # a damaged file explains the failure best
            raise
        report.conflicts = constraint_conflicts(c)
        store.observe_clock(c, info.hlc)
        store.set_write_version(c, ver + 1)
        verdict()

    def _reader(self, info: PeerInfo) -> sqlite3.Connection:
        """A read-only connection to the store's file (its last committed state) with the
        peer attached, for the analysis."""
        uri = file_uri(self.store.path, mode="ro")
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        try:
            conn.execute("ATTACH DATABASE ? AS peer", (info.uri,))
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _dry_run_on_copy(self, peer: Path, details: bool) -> MergeReport:
        """A read-only store previews a merge on a private copy of itself (VACUUM INTO works
        on a read-only file); the copy answers with our identity, so our own snapshot is
        still refused."""
        store = self.store
        with tempfile.TemporaryDirectory(prefix="fleet-dry-run-") as tmpdir:
            copy = Path(tmpdir) / "fleet.db"
            with store.locked() as conn:
                try:
                    files.vacuum_into(conn, copy)
                except (sqlite3.Error, OSError) as e:
                    raise StoreError(f"{store.path}: cannot copy for a preview: {e}") from e
            with Store.open(copy, maintenance=False) as twin:
                twin.site_id, twin.origin = store.site_id, store.origin
                return PeerMerge(twin).merge(peer, dry_run=True, details=details)
