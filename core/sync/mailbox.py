"""Incremental sync through a "mailbox": a directory of immutable change-set files.

Why this design: the shared copy on a jump host is a directory that only needs SFTP — no
Python, no sqlite3 and no fleet-tui on the host, nothing to keep in step with our schema.
Each technician uploads only the rows changed since their last upload, as one file named
`<site>-<since>-<cursor>.db` (written under a temporary name, then renamed: readers never see
half a file), and downloads only the files of other sites with a cursor above the one already
merged. Files are never rewritten, so two technicians syncing at the same moment cannot lose
each other's work and no lock is needed; merge being idempotent makes any retry safe.

One sync = list, download the new files, merge them into a staging database, then in ONE
local transaction write our outgoing change set and merge the staging copy (so rows that
came from the mailbox are not echoed back next time), then upload.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.store import Store, StoreError
from core.sync.report import MergeReport

NAME = re.compile(r"^(?P<site>[0-9a-f]{32})-(?P<since>\d{12})-(?P<cursor>\d{12})\.db$")


class Mailbox(Protocol):
    label: str

    async def list(self) -> list[str]: ...
    async def get(self, name: str, dest: Path) -> None: ...
    async def put(self, src: Path, name: str) -> None: ...


class DirMailbox:
    """A mailbox in a local directory (a mounted share, a USB stick, and the tests)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def _list(self) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        return sorted(p.name for p in self.root.iterdir())

    def _put(self, src: Path, name: str) -> None:
        tmp = self.root / f".{name}.part"
        shutil.copyfile(src, tmp)
        tmp.replace(self.root / name)

    async def list(self) -> list[str]:
        return await asyncio.to_thread(self._list)

    async def get(self, name: str, dest: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self.root / name, dest)

    async def put(self, src: Path, name: str) -> None:
        await asyncio.to_thread(self._put, src, name)


@dataclass
class SyncResult:
    target: str
    pulled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "name: reason"
    pushed: str | None = None
    pushed_rows: int = 0
    report: MergeReport | None = None

    @property
    def partial(self) -> bool:
        return bool(self.refused) or bool(self.report and self.report.corruption)

    def lines(self) -> list[str]:
        out = [
            f"sync with {self.target}: pulled {len(self.pulled)} change sets, "
            f"pushed {self.pushed_rows} rows"
        ]
        if self.report is not None:
            out += self.report.lines()[1:]
        out += [f"  REFUSED {r}" for r in self.refused]
        return out


def change_set_name(site: str, since: int, cursor: int) -> str:
    return f"{site}-{since:012d}-{cursor:012d}.db"


def _wanted(names: list[str], own_site: str, seen: dict[str, int]) -> list[tuple[str, str, int]]:
    out = []
    for name in names:
        m = NAME.match(name)
        if not m or m["site"] == own_site:
            continue
        cursor = int(m["cursor"])
        if cursor > seen.get(m["site"], 0):
            out.append((name, m["site"], cursor))
    return sorted(out, key=lambda w: (w[1], w[2]))


async def sync_with(store: Store, box: Mailbox, target: str) -> SyncResult:
    """Both ways, incremental from the last exchange with `target`."""
    state = store.sync_state(target)
    result = SyncResult(box.label)
    wanted = _wanted(await box.list(), store.site_id, state.seen)
    with tempfile.TemporaryDirectory(prefix="fleet-sync-") as tmpdir:
        tmp = Path(tmpdir)
        staging_path: Path | None = None
        if wanted:
            staging_path = tmp / "staging.db"
            with Store.open(staging_path) as staging:
                for name, site, cursor in wanted:
                    local = tmp / name
                    await box.get(name, local)
                    try:
                        staging.merge(local, details=False)
                    except StoreError as e:
                        result.refused.append(f"{name}: {e}")
                        continue
                    result.pulled.append(name)
                    state.seen[site] = max(state.seen.get(site, 0), cursor)
        out = tmp / "outgoing.db"
        ex = store.exchange(out, state.sent_ver, state.echo_ver, staging_path)
        result.report = ex.report
        if ex.rows:
            name = change_set_name(store.site_id, state.sent_ver, ex.cursor)
            await box.put(out, name)
            result.pushed, result.pushed_rows = name, ex.rows
    state.sent_ver, state.echo_ver, state.last_sync = ex.cursor, ex.echo_ver, time.time()
    store.save_sync_state(state)
    return result
