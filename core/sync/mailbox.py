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
came from the mailbox are not echoed back next time), then upload. The SQLite work runs in
worker threads: the TUI syncs on the fleet pipeline's event loop, which must keep polling.
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

from fleet_tui.core.deploy.carry import Fetched
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.sync.carried import exchange_content
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.sync.report import MergeReport

MAX_OWN_FILES = 32  # our change sets in a mailbox before they are consolidated (`prune_own`)
NAME = re.compile(r"^(?P<site>[0-9a-f]{32})-(?P<since>\d{12})-(?P<cursor>\d{12})\.db$")


class Mailbox(Protocol):
    label: str

    async def list(self) -> list[str]: ...
    async def get(self, name: str, dest: Path) -> None:
        """Download; FileNotFoundError if the file is gone (pruned meanwhile)."""

    async def put(self, src: Path, name: str) -> None:
        """Upload under `name` (which may be in a subfolder: `releases/blobs/ab/…`)."""

    async def remove(self, name: str) -> None: ...
    async def exists(self, name: str) -> bool: ...


CONTENT_DIR = "releases"  # release content in a mailbox: the content store's layout


class MailboxContent:
    """The release content kept in a mailbox (core/deploy/carry.py `Sink`)."""

    def __init__(self, box: Mailbox) -> None:
        self.box = box
        self.label = f"{box.label}/{CONTENT_DIR}"

    async def get(self, name: str, dest: Path) -> None:
        await self.box.get(f"{CONTENT_DIR}/{name}", dest)

    async def exists(self, name: str) -> bool:
        return await self.box.exists(f"{CONTENT_DIR}/{name}")

    async def put(self, src: Path, name: str) -> None:
        await self.box.put(src, f"{CONTENT_DIR}/{name}")


class DirMailbox:
    """A mailbox in a local directory (a mounted share, a USB stick, and the tests)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def _list(self) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        return sorted(p.name for p in self.root.iterdir())

    def _put(self, src: Path, name: str) -> None:
        final = self.root / name
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.part")
        shutil.copyfile(src, tmp)
        tmp.replace(final)

    async def list(self) -> list[str]:
        return await asyncio.to_thread(self._list)

    async def get(self, name: str, dest: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self.root / name, dest)

    async def put(self, src: Path, name: str) -> None:
        await asyncio.to_thread(self._put, src, name)

    async def remove(self, name: str) -> None:
        await asyncio.to_thread((self.root / name).unlink, True)

    async def exists(self, name: str) -> bool:
        return await asyncio.to_thread((self.root / name).is_file)


@dataclass
class SyncResult:
    target: str
    pulled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "name: reason"
    pushed: str | None = None
    pushed_rows: int = 0
    report: MergeReport | None = None
    pruned: int = 0  # our older change sets replaced by one file
    content: Fetched | None = None  # release content fetched from the mailbox
    content_pushed: int = 0  # releases whose content we uploaded

    @property
    def partial(self) -> bool:
        refused_content = bool(self.content and self.content.refused)
        return bool(self.refused) or bool(self.report and self.report.corruption) or refused_content

    def lines(self) -> list[str]:
        out = [
            f"sync with {self.target}: pulled {len(self.pulled)} change sets, "
            f"pushed {self.pushed_rows} rows"
        ]
        if self.report is not None:
            out += self.report.lines()[1:]
        out += [f"  REFUSED {r}" for r in self.refused]
        if self.pruned:
            out.append(f"  {self.pruned} of our older change sets replaced by one")
        if self.content_pushed:
            out.append(f"  release content: {self.content_pushed} sent")
        if self.content is not None:
            out += self.content.lines()
        return out


@dataclass
class SyncPreview:
    """What a sync would do: the merge report of what would come in (None: nothing new),
    the number of rows that would go out, the change sets read and refused."""

    target: str
    report: MergeReport | None
    outgoing: int
    pulled: list[str]
    refused: list[str]

    def lines(self) -> list[str]:
        out = [
            f"sync with {self.target}: {len(self.pulled)} new change sets, "
            f"{self.outgoing} rows to send"
        ]
        if self.report is not None:
            out += self.report.lines()[1:]
        out += [f"  REFUSED {r}" for r in self.refused]
        return out


def change_set_name(site: str, since: int, cursor: int) -> str:
    return f"{site}-{since:012d}-{cursor:012d}.db"


def _parse(name: str) -> tuple[str, int, int] | None:
    m = NAME.match(name)
    return (m["site"], int(m["since"]), int(m["cursor"])) if m else None


def _wanted(names: list[str], own_site: str, seen: dict[str, int]) -> list[tuple[str, str, int]]:
    """The change sets to fetch, per site in order: from what we have (`seen`), always the
    file that starts at or before it and reaches furthest, the shortest of those (so a
    consolidated file `site-0-N` replaces a chain of small ones only for who needs it); if
    none starts early enough (files removed by hand), every newer file in cursor order."""
    by_site: dict[str, list[tuple[int, int, str]]] = {}
    for name in names:
        parsed = _parse(name)
        if parsed is None or parsed[0] == own_site:
            continue
        site, since, cursor = parsed
        by_site.setdefault(site, []).append((since, cursor, name))
    out = []
    for site in sorted(by_site):
        files = by_site[site]
        have = seen.get(site, 0)
        for _ in range(len(files)):
            usable = [f for f in files if f[0] <= have < f[1]]
            if not usable:
                break
            since, cursor, name = max(usable, key=lambda f: (f[1], f[0]))  # shortest
            out.append((name, site, cursor))
            have = cursor
        else:
            continue
        if any(c > have for _, c, _ in files) and not any(f[0] <= have < f[1] for f in files):
            out += [(n, site, c) for _, c, n in sorted(files, key=lambda f: f[1]) if c > have]
    return out


@dataclass
class Pulled:
    """Change sets downloaded and merged into one staging file (not yet into the store)."""

    staging: Path | None
    pulled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "name: reason"
    seen: dict[str, int] = field(default_factory=dict)  # writing site -> cursor merged
    names: list[str] = field(default_factory=list)  # the mailbox's listing


async def pull(store: Store, box: Mailbox, seen: dict[str, int], tmp: Path) -> Pulled:
    """Download the change sets newer than `seen` and merge them into `tmp/staging.db`."""
    names = await box.list()
    wanted = _wanted(names, store.site_id, seen)
    out = Pulled(None, seen=dict(seen), names=names)
    if not wanted:
        return out
    out.staging = tmp / "staging.db"
    broken: set[str] = set()
    staging = await asyncio.to_thread(Store.open, out.staging, maintenance=False)
    with staging:
        for name, site, cursor in wanted:
            if site in broken:
                continue
            local = tmp / name
            try:
                await box.get(name, local)
            except FileNotFoundError:
                # pruned by its writer meanwhile: its consolidated file is there next time;
                # never skip past a gap, or the rows in it would be lost to us
                broken.add(site)
                continue
            try:
                await asyncio.to_thread(PeerMerge(staging).merge, local, details=False)
            except StoreError as e:
                out.refused.append(f"{name}: {e}")
                continue
            out.pulled.append(name)
            out.seen[site] = max(out.seen.get(site, 0), cursor)
    return out


async def preview_with(store: Store, box: Mailbox, target: str) -> SyncPreview:
    """What a sync with `target` would bring in and send out; changes nothing anywhere."""
    exchange = Exchange(store)
    state = exchange.state(target)
    with tempfile.TemporaryDirectory(prefix="fleet-sync-") as tmpdir:
        got = await pull(store, box, state.seen, Path(tmpdir))
        report = None
        if got.staging is not None:
            report = await asyncio.to_thread(PeerMerge(store).merge, got.staging, dry_run=True)
            report.peer = box.label
    outgoing = await asyncio.to_thread(exchange.count_changes, state.sent_ver, state.echo_ver)
    return SyncPreview(box.label, report, outgoing, got.pulled, got.refused)


async def sync_with(store: Store, box: Mailbox, target: str) -> SyncResult:
    """Both ways, incremental from the last exchange with `target`."""
    exchange = Exchange(store)
    state = exchange.state(target)
    result = SyncResult(box.label)
    with tempfile.TemporaryDirectory(prefix="fleet-sync-") as tmpdir:
        tmp = Path(tmpdir)
        got = await pull(store, box, state.seen, tmp)
        result.pulled, result.refused = got.pulled, got.refused
        out = tmp / "outgoing.db"
        ex = await asyncio.to_thread(exchange.run, out, state.sent_ver, state.echo_ver, got.staging)
        if ex.report is not None:
            ex.report.peer = box.label
        result.report = ex.report
        if ex.rows:
            name = change_set_name(store.site_id, state.sent_ver, ex.cursor)
            await box.put(out, name)
            result.pushed, result.pushed_rows = name, ex.rows
        state.seen = got.seen
        state.sent_ver, state.echo_ver, state.last_sync = ex.cursor, ex.echo_ver, time.time()
        exchange.save_state(state)
        own = [n for n in got.names if n.startswith(store.site_id)]
        if result.pushed:
            own.append(result.pushed)
        result.pruned = await prune_own(store, box, own, ex.cursor, tmp)
    # release content: ours the mailbox lacks goes up, what is elsewhere here comes down
    result.content_pushed, result.content = await exchange_content(store, MailboxContent(box))
    return result


async def prune_own(
    store: Store, box: Mailbox, own: list[str], cursor: int, tmp: Path, keep: int | None = None
) -> int:
    """Replace our chain of change sets by at most two files once it is longer than `keep`.

    Two levels, like a log-structured store: a base `site-0-C0` holding everything we had at
    C0, and on top of it one file `site-C0-cursor` with every row changed since C0. A partner
    at any point of our chain (or new to the mailbox) catches up from these alone, and one
    already at `cursor` skips them. Only when the rows changed since C0 are more than half of
    everything is a new base written instead — so consolidating uploads what changed since
    the base, not the whole database each time. Then our older files go. A partner
    downloading one of them right now finds it gone and takes the new file on its next sync
    (`pull`). Returns how many files were removed."""
    if len(own) <= (MAX_OWN_FILES if keep is None else keep):
        return 0
    bases = [p for p in map(_parse, own) if p is not None and p[1] == 0 and p[2] <= cursor]
    base = max((p[2] for p in bases), default=None)
    exchange = Exchange(store)
    if base is not None:
        top = await asyncio.to_thread(exchange.count_changes, base)
        if 2 * top > await asyncio.to_thread(exchange.count_changes, 0):
            base = None  # the top would be the bigger half: write a new base instead
    since = 0 if base is None or base == cursor else base
    name = change_set_name(store.site_id, since, cursor)
    if name not in own:
        out = tmp / "consolidated.db"
        # rows newer than `cursor` come again next time
        await asyncio.to_thread(exchange.write_changes, out, since=since)
        await box.put(out, name)
    keep_names = {name} if base is None else {name, change_set_name(store.site_id, 0, base)}
    removed = 0
    for old in own:
        parsed = _parse(old)
        if old not in keep_names and parsed is not None and parsed[2] <= cursor:
            await box.remove(old)
            removed += 1
    return removed
