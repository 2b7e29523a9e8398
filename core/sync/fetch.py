"""`fleet-tui release fetch NAME@VERSION --from PEER`: one release's content from a peer.

PEER is a file (a snapshot written with `--with-releases`, or another fleet database: the
content beside it), a content folder (`OUT.db.releases/`, a `releases/` folder), or a sync
mailbox over SSH as `sync` takes it (`[user@]host[:path]`, `ssh://…`), reached through the
sync's own connection (core/sync/ssh.py: the route, shared SSH flags, pinned host keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fleet_tui.core.deploy.carry import DirSource, Fetched, source_beside
from fleet_tui.core.deploy.releases import ReleaseRecord
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.sync.carried import fetch_release
from fleet_tui.core.sync.mailbox import MailboxContent
from fleet_tui.core.sync.ssh import Notice, open_mailbox

if TYPE_CHECKING:
    from fleet_tui.core.net.ssh import ConnectOptions


def local_source(peer: str) -> DirSource | None:
    """The content a local PEER names; None when PEER is not a local path (a host).
    Raises StoreError for a path with no release content."""
    path = Path(peer).expanduser()
    if path.is_dir():
        if (path / "lists").is_dir():
            return DirSource(path)
        raise StoreError(f"{path}: not a release content folder (no lists/ in it)")
    if path.is_file():
        found = source_beside(path)
        if found is None:
            raise StoreError(
                f"{path}: no release content beside it (a snapshot written without "
                "--with-releases?)"
            )
        return found
    if peer.startswith(("/", ".", "~")) or peer.endswith((".db", ".sqlite")):
        raise StoreError(f"{path}: no such file or folder")
    return None


async def fetch_from(
    store: Store,
    record: ReleaseRecord,
    peer: str,
    ssh: ConnectOptions | None = None,
    port: int | None = None,
    notice: Notice | None = None,
) -> Fetched:
    """Fetch `record`'s content from `peer`, verified; stored whole or not at all.
    Raises StoreError (a local path without content) or SyncError (the host)."""
    source = local_source(peer)
    if source is not None:
        return await fetch_release(store, record.sha256, record.id, source)
    async with open_mailbox(store, peer, ssh, port, notice, "refuse") as box:
        return await fetch_release(store, record.sha256, record.id, MailboxContent(box))
