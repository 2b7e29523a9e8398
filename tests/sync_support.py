"""Shared pieces for the sync tests (no tests here): an SFTP-only jump host on 127.0.0.1 that
holds a mailbox, with key auth, a HOME of the test's own for the technician (so ~/.ssh is
the test's), and a way to give the host new host keys on the same port (reinstalled, or an
impostor)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

ONLY_USER = "rack-tech-7"  # the one login the server accepts when started with `tried`

Listen = Callable[[list[asyncssh.SSHKey], int], Awaitable[asyncssh.SSHAcceptor]]


@dataclass
class Jump:
    port: int
    root: Path  # what the SFTP session sees as /
    key: Path  # the technicians' private key
    home: Path  # HOME for the technician: ~/.ssh/known_hosts lives here
    server: asyncssh.SSHAcceptor
    listen: Listen

    @property
    def endpoint(self) -> str:
        """What its host key is pinned under."""
        return f"127.0.0.1:{self.port}"

    def trust(self, host_key: asyncssh.SSHKey, marker: str = "") -> None:
        """~/.ssh/known_hosts lists `host_key` for this host (and nothing else)."""
        ssh = self.home / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        key = host_key.export_public_key().decode().strip()
        (ssh / "known_hosts").write_text(f"{marker} [127.0.0.1]:{self.port} {key}\n".lstrip())

    async def rekey(self, *host_keys: asyncssh.SSHKey) -> None:
        """The same port and files, other host keys."""
        self.server.close()
        await self.server.wait_closed()
        self.server = await self.listen(list(host_keys), self.port)


class OnlyOneUser(asyncssh.SSHServer):
    """Key auth for ONLY_USER alone; records every login name a client tries."""

    def __init__(self, key: asyncssh.SSHKey, tried: list[str]) -> None:
        self._key = key
        self._tried = tried

    def begin_auth(self, username: str) -> bool:
        self._tried.append(username)
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        same = key.export_public_key() == self._key.export_public_key()
        return username == ONLY_USER and same


def public(key: asyncssh.SSHKey) -> str:
    return key.export_public_key().decode().strip()


def fp(key: asyncssh.SSHKey) -> str:
    return str(key.get_fingerprint("sha256"))


async def serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tried: list[str] | None = None
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey]]:
    """An SFTP-only jump host on 127.0.0.1; with `tried`, only ONLY_USER may log in."""
    root = tmp_path / "jump"
    (root / "site").mkdir(parents=True)  # the shared directory the technicians agreed on
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = tmp_path / "id_ed25519"
    client_key.write_private_key(str(key_path))

    def sftp(chan: Any) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(root).encode())

    auth: dict[str, Any]
    if tried is None:
        auth = {
            "authorized_client_keys": asyncssh.import_authorized_keys(
                client_key.export_public_key().decode()
            )
        }
    else:
        log = tried
        auth = {"server_factory": lambda: OnlyOneUser(client_key, log)}

    async def listen(host_keys: list[asyncssh.SSHKey], port: int) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1", port, server_host_keys=host_keys, sftp_factory=sftp, **auth
        )

    server = await listen([host_key], 0)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # ~/.ssh of the technician running the CLI
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    j = Jump(server.sockets[0].getsockname()[1], root, key_path, home, server, listen)
    try:
        yield j, host_key
    finally:
        j.server.close()
        await j.server.wait_closed()
