"""The UI's way into the fleet database: a read-only connection of its own for reads, and the
pipeline's store for writes (one writer per process: the UI never waits on SQLite's write lock
behind the poller; other processes may write the same file safely)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.screens.common.context import ReadOnlyError


class UiStores:
    def __init__(
        self,
        db_path: Path,
        readonly: bool,
        backend_store: Callable[[], Store | None],
        pipeline: bool,
    ) -> None:
        self.db_path = db_path
        self.readonly = readonly
        self._backend_store = backend_store
        self._pipeline = pipeline  # a pipeline owns the file: never open a second writer
        self._lock = threading.Lock()
        self._reader: Store | None = None
        self._writer: Store | None = None  # only when no pipeline runs (tests, snapshots)

    def read(self) -> Store | None:
        with self._lock:
            if self._reader is None:
                if not self.db_path.exists():
                    return None
                try:
                    self._reader = Store.open(self.db_path, readonly=True)
                except StoreError:
                    return None  # being created by the pipeline right now: next time
            return self._reader

    def write(self) -> Store:
        if self.readonly:
            raise ReadOnlyError("read-only mode")
        store = self._backend_store()
        if store is not None:
            return store
        if self._pipeline:
            raise StoreError("the fleet database is still opening; try again in a moment")
        with self._lock:
            if self._writer is None:
                self._writer = Store.open(self.db_path)
            return self._writer

    def close(self) -> None:
        with self._lock:
            for store in (self._reader, self._writer):
                if store is not None:
                    store.close()
            self._reader = self._writer = None
