"""`fleet-tui sync [user@]host[:path]`: the mailbox (core/sync/mailbox.py) over SFTP.

Only SFTP is used on the far side, so any jump host with sshd will do. The connection honours
~/.ssh/config (including ProxyJump), ssh-agent and known_hosts like `ssh` does, plus the
shared SSH flags (`ConnectOptions`, fleet_tui/commands/_ssh_args.py) every other command takes.
The mailbox host is not a fleet device: its key is checked against known_hosts, not pinned in
the fleet store.
"""

from __future__ import annotations

import asyncio
import posixpath
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.sync.mailbox import SyncPreview, SyncResult, preview_with, sync_with

if TYPE_CHECKING:  # core.ssh imports asyncssh; keep it out of `import core.sync.ssh`
    from fleet_tui.core.net.ssh import ConnectOptions

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


class SftpMailbox:
    def __init__(self, sftp: Any, root: str, label: str) -> None:
        self.sftp = sftp
        self.root = root
        self.label = label

    async def list(self) -> list[str]:
        await self.sftp.makedirs(self.root, exist_ok=True)
        return sorted(await self.sftp.listdir(self.root))

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

    async def put(self, src: Path, name: str) -> None:
        final = posixpath.join(self.root, name)
        part = posixpath.join(self.root, f".{name}.part")
        await self.sftp.put(str(src), part)
        try:
            await self.sftp.posix_rename(part, final)  # atomic replace (OpenSSH extension)
        except Exception:
            await self.sftp.rename(part, final)


def asyncssh_options(ssh: ConnectOptions, t: Target, port: int | None = None) -> dict[str, Any]:
    """asyncssh.connect keyword arguments for `t` from the shared SSH settings.

    The same arguments as core/net/ssh.py's `open_route` (`ConnectOptions.connection_kwargs`)
    except host keys: known_hosts stays asyncssh's default, as with `ssh`.
    """
    # Same rule as every other command: user@ in the target, then the config's User, then -l.
    username = t.user
    if not username and ssh.username and _config_user(ssh, t, port) is None:
        username = ssh.username
    options = ssh.connection_kwargs(username)
    options["config"] = [str(p) for p in options["config"]]
    if port or t.port:
        options["port"] = port or t.port
    return options


def _config_user(ssh: ConnectOptions, t: Target, port: int | None) -> str | None:
    from fleet_tui.core.net.routes import RouteError, resolve
    from fleet_tui.core.net.routes import Target as RouteTarget

    try:
        return resolve(RouteTarget(t.host, port or t.port), ssh.ssh_config()).user
    except RouteError as e:
        raise SyncError(f"sync with {t.label}: {e}") from e


@asynccontextmanager
async def _mailbox(
    target: str, port: int | None, ssh: ConnectOptions | None, connect: dict[str, Any]
) -> AsyncIterator[Any]:
    import asyncssh

    t = parse_target(target)
    if ssh is not None:
        options = {**asyncssh_options(ssh, t, port), **connect}  # raw kwargs win (tests)
    else:  # asyncssh's defaults plus the raw kwargs (the TUI screen, older callers)
        options = dict(connect)
        if t.user:
            options["username"] = t.user
        if port or t.port:
            options["port"] = port or t.port
    try:
        async with asyncssh.connect(t.host, **options) as conn, conn.start_sftp_client() as sftp:
            yield SftpMailbox(sftp, t.path, t.label)
    except StoreError:
        raise
    except (OSError, asyncssh.Error) as e:
        reason = getattr(e, "reason", None) or str(e) or type(e).__name__
        raise SyncError(f"sync with {t.label}: {reason}") from e


async def sync_target_async(
    store: Store,
    target: str,
    port: int | None = None,
    ssh: ConnectOptions | None = None,
    **connect: Any,
) -> SyncResult:
    """`ssh`: the shared SSH settings; `connect`: raw asyncssh keyword arguments on top."""
    async with _mailbox(target, port, ssh, connect) as box:
        return await sync_with(store, box, box.label)


async def preview_target_async(
    store: Store,
    target: str,
    port: int | None = None,
    ssh: ConnectOptions | None = None,
    **connect: Any,
) -> SyncPreview:
    async with _mailbox(target, port, ssh, connect) as box:
        return await preview_with(store, box, box.label)


def sync_target(
    store: Store,
    target: str,
    port: int | None = None,
    ssh: ConnectOptions | None = None,
    **connect: Any,
) -> SyncResult:
    return asyncio.run(sync_target_async(store, target, port, ssh, **connect))


def preview_target(
    store: Store,
    target: str,
    port: int | None = None,
    ssh: ConnectOptions | None = None,
    **connect: Any,
) -> SyncPreview:
    return asyncio.run(preview_target_async(store, target, port, ssh, **connect))
