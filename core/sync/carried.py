"""Snapshots that carry release content, and merges and syncs that bring it in.

`snapshot --with-releases` writes OUT.db and, beside it, OUT.db.releases/ with the file lists
and blobs of every release in it whose content is here (core/deploy/carry.py has the layout).
Merging a file with content beside it verifies all of that content first (staged, sha256 per
blob, each list against the digest its release records); any refusal refuses the whole merge,
nothing written. A sync uploads the content of our releases the mailbox lacks and fetches the
content of releases that are `elsewhere` here and present in the mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from fleet_tui.core.deploy.carry import (
    SHA256,
    DirSource,
    Fetched,
    Incoming,
    Sink,
    Source,
    carried_beside,
    fetch_into,
    push_missing,
    source_beside,
    write_carried,
)
from fleet_tui.core.deploy.content import ContentStore
from fleet_tui.core.deploy.releases import ReleaseBook
from fleet_tui.core.store.base import StoreError, file_uri
from fleet_tui.core.store.database import Store
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.sync.report import MergeReport


def snapshot_with_releases(store: Store, out: Path) -> tuple[Path, int, int]:
    """The snapshot and its releases' content beside it: (path, releases, blobs)."""
    path = Exchange(store).snapshot(out)
    book = ReleaseBook(store)
    try:
        releases, blobs = write_carried(
            book.content, [r.sha256 for r in book.all()], carried_beside(path)
        )
    except OSError as e:
        raise StoreError(f"{carried_beside(path)}: release content not written: {e}") from e
    return path, releases, blobs


def _peer_labels(peer: Path) -> dict[str, str]:
    """digest -> name@version of the releases in a peer file (read only; best effort)."""
    labels: dict[str, str] = {}
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(file_uri(peer, mode="ro", immutable="1"), uri=True)
        try:
            for rid, digest in conn.execute("SELECT id, sha256 FROM releases"):
                if isinstance(digest, str) and SHA256.match(digest):
                    labels.setdefault(digest, str(rid))
        finally:
            conn.close()
    return labels


def _carried_digests(source: DirSource) -> list[str]:
    lists = source.root / "lists"
    return sorted(p.stem for p in lists.glob("*.json") if SHA256.match(p.stem))


def merge_carrying(
    store: Store, peer: str | Path, dry_run: bool = False
) -> tuple[MergeReport, Fetched | None]:
    """Merge a peer file, and the release content that came with it (None: none did).

    The content is fetched and verified into staging first; if any of it is refused, nothing
    is merged (StoreError). Then the rows merge, then the content is published."""
    path = Path(peer).expanduser()
    source = source_beside(path) if path.is_file() else None
    if source is None:
        return PeerMerge(store).merge(path, dry_run=dry_run), None
    content = ContentStore.beside(store.path)
    labels = _peer_labels(path)
    wanted = {d: labels.get(d, d[:12]) for d in _carried_digests(source)}
    wanted = {d: label for d, label in wanted.items() if not content.has_release(d)}
    if dry_run:  # nothing staged: a preview writes nothing (and may be read-only)
        report = PeerMerge(store).merge(path, dry_run=True)
        return report, Fetched(source.label, got=sorted(wanted.values()))
    fetched = Fetched(source.label)
    with Incoming(content) as incoming:

        async def fetch_all() -> None:
            for digest, label in sorted(wanted.items(), key=lambda kv: kv[1]):
                await incoming.fetch(source, digest, label, fetched)

        asyncio.run(fetch_all())
        if fetched.refused:
            raise StoreError(
                f"{path}: carried release content refused, nothing merged: {fetched.refused[0]} "
                f"(move {source.root} away to merge the database alone)"
            )
        report = PeerMerge(store).merge(path)
        incoming.publish()
    return report, fetched


def elsewhere(store: Store) -> dict[str, str]:
    """digest -> name@version of the releases whose content is not here."""
    book = ReleaseBook(store)
    return {
        r.sha256: r.id
        for r in book.all()
        if SHA256.match(r.sha256) and not book.content.has_release(r.sha256)
    }


def here(store: Store) -> list[str]:
    book = ReleaseBook(store)
    return [
        r.sha256
        for r in book.all()
        if SHA256.match(r.sha256) and book.content.has_release(r.sha256)
    ]


async def exchange_content(store: Store, box: Sink) -> tuple[int, Fetched]:
    """After a sync: upload the content of our releases the mailbox lacks, then fetch what is
    elsewhere here and there (each release verified and stored whole, or refused)."""
    content = ContentStore.beside(store.path)
    pushed = await push_missing(content, await asyncio.to_thread(here, store), box)
    wanted = await asyncio.to_thread(elsewhere, store)
    fetched = await fetch_into(content, box, wanted, publish_partial=True)
    return pushed, fetched


async def fetch_release(store: Store, digest: str, label: str, source: Source) -> Fetched:
    """One release's content from `source` (a folder, or a mailbox)."""
    content = ContentStore.beside(store.path)
    return await fetch_into(content, source, {digest: label}, publish_partial=False)
