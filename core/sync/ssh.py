"""`fleet-tui sync [user@]host[:path]`: the mailbox (core/sync/mailbox.py) over SFTP.

Only SFTP is used on the far side, so any jump host with sshd will do. The connection is
core/net's, like a Pi's: the route from ~/.ssh/config (including ProxyJump), ssh-agent and the
shared SSH flags (`ConnectOptions`, fleet_tui/commands/_ssh_args.py), and host keys pinned in
the fleet database (trust on first use, a changed key refused until `fleet-tui trust HOST
--repin`). The mailbox host is not a fleet device, so there is no serial to tie its pin to;
instead the user's known_hosts files may also refuse it (never admit it): see
core/net/known_hosts.py.

The coroutines run on whatever loop calls them: the TUI's on the pipeline's loop, the CLI's on
its own (`sync_target`, `preview_target`).
"""

from __future__ import annotations

import asyncio
import posixpath
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.sync.mailbox import SyncPreview, SyncResult, preview_with, sync_with

if TYPE_CHECKING:  # core.net imports asyncssh; keep it out of `import core.sync.ssh`
    from fleet_tui.core.net.routes import Route
    from fleet_tui.core.net.ssh import ConnectOptions, Opened

DEFAULT_REMOTE_DIR = "fleet-tui-sync"  # relative to the remote login's home
_TARGET = re.compile(r"^(?:(?P<user>[^@:/\s]+)@)?(?P<host>\[[^\]]+\]|[^@:/\s]+)(?::(?P<path>.*))?$")


class SyncError(Exception):
    """The exchange could not happen (network, auth, remote files); one line."""


_URL = re.compile(
    r"^ssh://(?:(?P<user>[^@:/\s]+)@)?(?P<host>\[[^\]]+\]|[^@:/\s]+)(?::(?P<port>\d+))?"
    r"(?:/(?P<path>.*))?$"
)


@dataclass(frozen=True)
class Target:
    user: str | None
    host: str
    path: str
    port: int | None = None

    @property
    def label(self) -> str:
        who = f"{self.user}@" if self.user else ""
        if self.port:
            return f"ssh://{who}{self.host}:{self.port}/{self.path.lstrip('/')}"
        return f"{who}{self.host}:{self.path}"


def parse_target(text: str) -> Target:
    """`[user@]host[:path]` (path relative to the login's home unless absolute), or
    `ssh://[user@]host[:port][/path]` when a port must be given."""
    text = text.strip()
    u = _URL.match(text)
    if u:
        port = int(u["port"]) if u["port"] else None
        if port is not None and not 0 < port < 65536:
            raise SyncError(f"{text!r}: port {port} is out of range")
        path = u["path"] or DEFAULT_REMOTE_DIR
        return Target(u["user"], u["host"].strip("[]"), path, port)
    m = _TARGET.match(text)
    if not m or text.startswith("ssh://"):
        raise SyncError(f"{text!r}: expected [user@]host[:path] or ssh://[user@]host[:port]/path")
    host = m["host"].strip("[]")
    return Target(m["user"], host, m["path"] or DEFAULT_REMOTE_DIR)


# What a mailbox folder that is not there means: make it (a sync to the default folder, or
# one asked to create it), an empty mailbox (a preview: it changes nothing), or a mistyped
# path, said (anything else: a typo must not start a second mailbox nobody else reads).
Missing = Literal["make", "empty", "refuse"]


class SftpMailbox:
    def __init__(self, sftp: Any, root: str, label: str, missing: Missing = "refuse") -> None:
        self.sftp = sftp
        self.root = root
        self.label = label
        self.missing = missing

    async def list(self) -> list[str]:
        if await self.sftp.isdir(self.root):
            return sorted(await self.sftp.listdir(self.root))
        if self.missing == "refuse":
            raise SyncError(
                f"{self.label}: no such folder on the host; check the path, or start a "
                "mailbox there with `fleet-tui sync TARGET --create-mailbox`"
            )
        if self.missing == "make":
            await self.sftp.makedirs(self.root, exist_ok=True)
        return []

    async def get(self, name: str, dest: Path) -> None:
        import asyncssh

        try:
            await self.sftp.get(posixpath.join(self.root, name), str(dest))
        except asyncssh.SFTPNoSuchFile as e:
            raise FileNotFoundError(name) from e

    async def remove(self, name: str) -> None:
        import asyncssh

        try:
            await self.sftp.remove(posixpath.join(self.root, name))
        except asyncssh.SFTPNoSuchFile:
            pass

    async def exists(self, name: str) -> bool:
        return bool(await self.sftp.isfile(posixpath.join(self.root, name)))

    async def put(self, src: Path, name: str) -> None:
        final = posixpath.join(self.root, name)
        folder, base = posixpath.split(final)
        if "/" in name:  # release content: releases/blobs/ab/…
            await self.sftp.makedirs(folder, exist_ok=True)
        part = posixpath.join(folder, f".{base}.part")
        await self.sftp.put(str(src), part)
        try:
            await self.sftp.posix_rename(part, final)  # atomic replace (OpenSSH extension)
        except Exception:
            await self.sftp.rename(part, final)


Notice = Callable[[str], None]


def pin_notice(route: Route, opened: Opened) -> str:
    """What to tell the user when a host's key was pinned on first use."""
    from fleet_tui.core.net.ssh import fingerprint, quoted

    known = " (the key ~/.ssh/known_hosts lists)" if opened.listing == "listed" else ""
    return (
        f"{route.key}: pinned its host key {fingerprint(opened.offered_key)} on first use{known}; "
        f"a different key is refused from now on (`fleet-tui trust {quoted(route.key)} --repin` "
        "replaces it)"
    )


@asynccontextmanager
async def open_mailbox(
    store: Store,
    target: str,
    ssh: ConnectOptions | None = None,
    port: int | None = None,
    notice: Notice | None = None,
    missing: Missing | None = None,
) -> AsyncIterator[SftpMailbox]:
    """The mailbox at `target` over SFTP, through core/net: the route (OpenSSH config,
    ProxyJump), the shared SSH settings, and host keys pinned in `store` (first use pins and
    calls `notice`; a changed key is refused) with ~/.ssh/known_hosts as a second opinion that
    can only refuse (core/net/known_hosts.py). Runs on the caller's event loop."""
    import asyncssh

    from fleet_tui.core.net.pool import ConnectionPool
    from fleet_tui.core.net.routes import RouteError
    from fleet_tui.core.net.routes import Target as RouteTarget
    from fleet_tui.core.net.ssh import ConnectOptions, SSHFailure

    t = parse_target(target)

    def pinned(route: Route, opened: Opened) -> None:
        if notice is not None:
            notice(pin_notice(route, opened))

    pool = ConnectionPool(store, ssh or ConnectOptions(), known_hosts=True, on_pin=pinned)
    try:
        # The user rule of every command: user@ in the target, then the config's User, then -l.
        route = pool.route(RouteTarget(t.host, port or t.port, t.user))
        tunnel = await pool.jump_connection(route.jump) if route.jump else None
        conn = (await pool.connect_host(route, tunnel)).conn
        async with conn, conn.start_sftp_client() as sftp:
            if missing is None:  # the default folder is made on first use; no other one
                missing = "make" if t.path == DEFAULT_REMOTE_DIR else "refuse"
            yield SftpMailbox(sftp, t.path, t.label, missing)
    except StoreError:
        raise
    except (SSHFailure, RouteError) as e:
        raise SyncError(f"sync with {t.label}: {e}") from e
    except (OSError, asyncssh.Error) as e:
        reason = getattr(e, "reason", None) or str(e) or type(e).__name__
        raise SyncError(f"sync with {t.label}: {reason}") from e
    finally:
        await pool.close()


async def sync_target_async(
    store: Store,
    target: str,
    port: int | None = None,
    ssh: ConnectOptions | None = None,
    notice: Notice | None = None,
    create: bool = False,
) -> SyncResult:
    """Both ways with the mailbox at `target`; `ssh`: the shared SSH settings (None: the
    user's OpenSSH config and ssh-agent). A mailbox folder that is not there is made if it is
    the default one or `create`, else refused (SyncError)."""
    async with open_mailbox(store, target, ssh, port, notice, "make" if create else None) as box:
        return await sync_with(store, box, box.label)


async def preview_target_async(
    store: Store,
    target: str,
    port: int | None = None,
    ssh: ConnectOptions | None = None,
    notice: Notice | None = None,
    create: bool = False,
) -> SyncPreview:
    """What a sync would do; makes nothing (a mailbox folder a sync would make is empty)."""
    t = parse_target(target)
    missing: Missing = "empty" if create or t.path == DEFAULT_REMOTE_DIR else "refuse"
    async with open_mailbox(store, target, ssh, port, notice, missing) as box:
        return await preview_with(store, box, box.label)


def sync_target(
    store: Store,
    target: str,
    port: int | None = None,
    ssh: ConnectOptions | None = None,
    notice: Notice | None = None,
    create: bool = False,
) -> SyncResult:
    """`sync_target_async` on an event loop of its own (the CLI: one process, one loop)."""
    return asyncio.run(sync_target_async(store, target, port, ssh, notice, create))


def preview_target(
    store: Store,
    target: str,
    port: int | None = None,
    ssh: ConnectOptions | None = None,
    notice: Notice | None = None,
    create: bool = False,
) -> SyncPreview:
    return asyncio.run(preview_target_async(store, target, port, ssh, notice, create))
