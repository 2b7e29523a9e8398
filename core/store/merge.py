"""Store: merging a peer file in one transaction, beside its page check and analysis."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fleet_tui.core.store import compaction
from fleet_tui.core.store.base import StoreError, file_uri
from fleet_tui.core.store.hlc import ClockDriftError
from fleet_tui.core.store.upkeep import StoreUpkeep
from fleet_tui.core.sync import files
from fleet_tui.core.sync.beside import SideTask
from fleet_tui.core.sync.conflicts import placement_conflicts
from fleet_tui.core.sync.merge import analyse, merge_attached
from fleet_tui.core.sync.peer import PageCheck, PeerError, PeerInfo, inspect_peer
from fleet_tui.core.sync.report import ConstraintConflict, MergeReport


class _DryRun(Exception):
    """Raised inside a merge transaction to roll it back after computing the report."""


class StoreMerge(StoreUpkeep):
    def merge(
        self, peer: str | Path, *, dry_run: bool = False, details: bool = True
    ) -> MergeReport:
        """Merge a peer file in one transaction. A refused or failed merge changes nothing.

        `details`: list every cell both sides wrote with different values in the report."""
        if self.readonly and not dry_run:
            raise StoreError(f"{self.path}: opened read-only")
        if self.readonly:
            return self._dry_run_on_copy(Path(peer), details)
        with self._lock:
            info = self._inspect(Path(peer))
            if not dry_run:
                self._maintenance()
            report = MergeReport(str(info.path), info.site_id, dry_run=dry_run)
            with self._attached(info.uri, "peer"), self._beside(info, report, details) as verdict:
                try:
                    with self._tx() as c:
                        self._merge_in_tx(c, info, report, verdict)
                        if dry_run:
                            raise _DryRun
                    self._ver = report.version + 1
                except _DryRun:
                    pass
                except sqlite3.DatabaseError as e:
                    raise StoreError(f"{info.path}: merge failed, nothing changed: {e}") from e
        if not dry_run:
            self._after_merge()
        return report

    def _dry_run_on_copy(self, peer: Path, details: bool) -> MergeReport:
        """A read-only store previews a merge on a private copy of itself (VACUUM INTO works
        on a read-only file); the copy answers with our identity, so our own snapshot is
        still refused."""
        from fleet_tui.core.store.database import (
            Store,  # the assembled class; it imports this module
        )

        with tempfile.TemporaryDirectory(prefix="fleet-dry-run-") as tmpdir:
            copy = Path(tmpdir) / "fleet.db"
            with self._lock:
                try:
                    files.vacuum_into(self._conn, copy)
                except (sqlite3.Error, OSError) as e:
                    raise StoreError(f"{self.path}: cannot copy for a preview: {e}") from e
            with Store.open(copy, maintenance=False) as twin:
                twin.site_id, twin.origin = self.site_id, self.origin
                return twin.merge(peer, dry_run=True, details=details)

    def _inspect(self, path: Path) -> PeerInfo:
        try:
            return inspect_peer(path, self.site_id, self.clock, pages=False)
        except PeerError as e:
            raise StoreError(str(e)) from e

    def _reader(self, info: PeerInfo) -> sqlite3.Connection:
        """A read-only connection to this file (its last committed state) with the peer."""
        conn = sqlite3.connect(file_uri(self.path, mode="ro"), uri=True, check_same_thread=False)
        try:
            conn.execute("ATTACH DATABASE ? AS peer", (info.uri,))
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    @contextmanager
    def _beside(
        self, info: PeerInfo, report: MergeReport, details: bool
    ) -> Iterator[Callable[[], None]]:
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
                raise StoreError(f"{self.path}: cannot read: {e}") from e

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

    @contextmanager
    def _attached(self, uri: str, name: str) -> Iterator[None]:
        try:
            self._conn.execute(f"ATTACH DATABASE ? AS {name}", (uri,))
        except sqlite3.Error as e:
            raise StoreError(f"{uri}: cannot open: {e}") from e
        try:
            yield
        finally:
            self._conn.execute(f"DETACH DATABASE {name}")

    def _merge_in_tx(
        self,
        c: sqlite3.Connection,
        info: PeerInfo,
        report: MergeReport,
        verdict: Callable[[], None],
    ) -> None:
        """Merge the attached `peer` (caller holds the transaction). Raises before the caller
        can commit if the peer's page check finds damage or the analysis failed."""
        # merged rows get a version of their own, so a sync can tell them from local writes
        ver = report.version = self._ver + 1
        try:
            merge_attached(c, info.columns, ver, report)
            self._top.clear()  # count our sequence numbers again from what is now in the file
            top = self._seq_top("samples")
            report.compacted = compaction.absorb(c, ver, info.columns)
            if report.compacted:  # may have folded our newest samples away
                self._hold_seq_floor("samples", top)
        except sqlite3.DatabaseError:
            verdict()  # a damaged file explains the failure best
            raise
        report.conflicts = placement_conflicts(c)
        try:
            self.clock.observe(info.hlc)
        except ClockDriftError as e:  # checked before; the wall clock moved meanwhile
            raise StoreError(str(e)) from e
        self._set_meta("hlc", self.clock.last)
        self._set_meta("db_version", ver + 1)
        verdict()

    def conflicts(self) -> list[ConstraintConflict]:
        with self._lock:
            return placement_conflicts(self._conn)
