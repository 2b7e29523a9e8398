"""SSH connections with trust-on-first-use host keys pinned in the fleet store.

asyncssh reads the user's OpenSSH config (Host, HostName, User, Port, IdentityFile,
ProxyJump) and uses ssh-agent by default. We bypass `~/.ssh/known_hosts` on purpose: a key
listed there would be accepted without asking us, and the store's pin must be the only judge.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import asyncssh


class PinStore(Protocol):
    def pinned_host_key(self, endpoint: str) -> str | None: ...

    def pin_host_key(
        self, endpoint: str, key: str, serial: str | None = None, reason: str = "first use"
    ) -> None: ...


class SSHFailure(Exception):
    """A connection step failed; the message is meant for the technician."""


class HostKeyChanged(SSHFailure):
    def __init__(self, endpoint: str, pinned: str, offered: str) -> None:
        self.endpoint = endpoint
        self.pinned = pinned
        self.offered = offered
        super().__init__(
            f"host key of {endpoint} changed: pinned {fingerprint(pinned)}, "
            f"offered {fingerprint(offered)}; refusing to connect "
            f"(re-imaged card or impostor? re-pin with `fleet-tui trust {endpoint} --repin`)"
        )


def fingerprint(key_text: str) -> str:
    try:
        return str(asyncssh.import_public_key(key_text).get_fingerprint("sha256"))
    except (asyncssh.KeyImportError, ValueError):
        return "unparseable key"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int = 22
    user: str | None = None

    @property
    def key(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass
class ConnectOptions:
    """Per-fleet SSH settings; anything left None comes from the user's OpenSSH config."""

    username: str | None = None
    client_keys: list[Path] | None = None
    use_ssh_agent: bool = True
    use_ssh_config: bool = True
    connect_timeout: float = 10.0
    keepalive_interval: float = 15.0
    extra: dict[str, Any] = field(default_factory=dict)


class _PinningClient(asyncssh.SSHClient):
    def __init__(self, endpoint: Endpoint, pins: PinStore) -> None:
        self._endpoint = endpoint
        self._pins = pins
        self.first_use_key: str | None = None
        self.refusal: HostKeyChanged | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        offered = key.export_public_key("openssh").decode().strip()
        pinned = self._pins.pinned_host_key(self._endpoint.key)
        if pinned is None:
            self.first_use_key = offered
            return True
        if _same_key(pinned, offered):
            return True
        self.refusal = HostKeyChanged(self._endpoint.key, pinned, offered)
        return False


def _same_key(a: str, b: str) -> bool:
    # Compare type and base64 body only: the comment field is not part of the key.
    return a.split()[:2] == b.split()[:2]


def _no_known_hosts(host: str, addr: str, port: int | None) -> tuple[list[str], list[str], list[str]]:
    return ([], [], [])


async def connect(
    endpoint: Endpoint, pins: PinStore, options: ConnectOptions
) -> asyncssh.SSHClientConnection:
    """Open one connection, pinning the host key on first use and refusing a changed one."""
    kwargs: dict[str, Any] = {
        "port": endpoint.port,
        "known_hosts": _no_known_hosts,
        "connect_timeout": options.connect_timeout,
        "keepalive_interval": options.keepalive_interval,
        **options.extra,
    }
    username = endpoint.user or options.username
    if username:
        kwargs["username"] = username
    if options.client_keys is not None:
        kwargs["client_keys"] = [str(p) for p in options.client_keys]
    if not options.use_ssh_agent:
        kwargs["agent_path"] = None
    if not options.use_ssh_config:
        kwargs["config"] = []
    holder: list[_PinningClient] = []

    def factory() -> _PinningClient:
        client = _PinningClient(endpoint, pins)
        holder.append(client)
        return client

    try:
        conn, _ = await asyncssh.create_connection(factory, endpoint.host, **kwargs)
    except asyncssh.HostKeyNotVerifiable as exc:
        if holder and holder[0].refusal is not None:
            raise holder[0].refusal from None
        raise SSHFailure(f"{endpoint.key}: host key not verifiable: {exc.reason}") from None
    except asyncssh.PermissionDenied:
        raise SSHFailure(f"{endpoint.key}: permission denied (no accepted key)") from None
    except asyncssh.Error as exc:
        raise SSHFailure(f"{endpoint.key}: SSH error: {exc.reason}") from None
    except (OSError, asyncio.TimeoutError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SSHFailure(f"{endpoint.key}: unreachable ({reason})") from None
    client = holder[0]
    if client.first_use_key is not None:
        pins.pin_host_key(endpoint.key, client.first_use_key, reason="first use")
    return conn
