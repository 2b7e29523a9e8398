"""`fleet-tui sync [user@]host[:path]`: the mailbox (core/sync/mailbox.py) over SFTP.

Only SFTP is used on the far side, so any jump host with sshd will do. The connection honours
~/.ssh/config, ssh-agent and known_hosts like `ssh` does (asyncssh's defaults).
"""

from __future__ import annotations

import asyncio
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.store import Store, StoreError
from core.sync.mailbox import SyncResult, sync_with

DEFAULT_REMOTE_DIR = "fleet-tui-sync"  # relative to the remote login's home
_TARGET = re.compile(r"^(?:(?P<user>[^@:/\s]+)@)?(?P<host>\[[^\]]+\]|[^@:/\s]+)(?::(?P<path>.*))?$")


class SyncError(Exception):
    """The exchange could not happen (network, auth, remote files); one line."""


@dataclass(frozen=True)
class Target:
    user: str | None
    host: str
    path: str

    @property
    def label(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.host}:{self.path}"


def parse_target(text: str) -> Target:
    m = _TARGET.match(text.strip())
    if not m:
        raise SyncError(f"{text!r}: expected [user@]host[:path]")
    host = m["host"].strip("[]")
    return Target(m["user"], host, m["path"] or DEFAULT_REMOTE_DIR)


class SftpMailbox:
    def __init__(self, sftp: Any, root: str, label: str) -> None:
        self.sftp = sftp
        self.root = root
        self.label = label

    async def list(self) -> list[str]:
        await self.sftp.makedirs(self.root, exist_ok=True)
        return sorted(await self.sftp.listdir(self.root))

    async def get(self, name: str, dest: Path) -> None:
        await self.sftp.get(posixpath.join(self.root, name), str(dest))

    async def put(self, src: Path, name: str) -> None:
        final = posixpath.join(self.root, name)
        part = posixpath.join(self.root, f".{name}.part")
        await self.sftp.put(str(src), part)
        try:
            await self.sftp.posix_rename(part, final)  # atomic replace (OpenSSH extension)
        except Exception:
            await self.sftp.rename(part, final)


async def sync_target_async(
    store: Store, target: str, port: int | None = None, **connect: Any
) -> SyncResult:
    import asyncssh

    t = parse_target(target)
    options: dict[str, Any] = dict(connect)
    if t.user:
        options["username"] = t.user
    if port:
        options["port"] = port
    try:
        async with asyncssh.connect(t.host, **options) as conn, conn.start_sftp_client() as sftp:
            box = SftpMailbox(sftp, t.path, t.label)
            return await sync_with(store, box, t.label)
    except StoreError:
        raise
    except (OSError, asyncssh.Error) as e:
        reason = getattr(e, "reason", None) or str(e) or type(e).__name__
        raise SyncError(f"sync with {t.label}: {reason}") from e


def sync_target(store: Store, target: str, port: int | None = None, **connect: Any) -> SyncResult:
    return asyncio.run(sync_target_async(store, target, port, **connect))
