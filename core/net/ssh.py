"""SSH connections whose host keys are judged by the fleet store; known_hosts never admits one.

asyncssh reads the user's OpenSSH config (Host, HostName, User, Port, IdentityFile) and uses
ssh-agent by default. `ProxyJump` is resolved by core/net/routes.py and each hop is connected
here, so that every hop's host key goes through the same judge. We bypass asyncssh's
`~/.ssh/known_hosts` check on purpose: a key listed there would be accepted without asking us,
and the store's pin must be the judge (core/net/trust.py). For hosts that are not fleet
devices a caller may add the user's known_hosts files as a second opinion that can only
refuse (core/net/known_hosts.py). Only plain host keys are negotiated (no certificates): a
pin is a plain key.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import asyncssh
from asyncssh.public_key import get_default_public_key_algs

from fleet_tui.core.net.failures import SSHFailure, quoted
from fleet_tui.core.net.routes import Route

if TYPE_CHECKING:
    from fleet_tui.core.net.known_hosts import KnownHosts, Listing

HOST_KEY_HELP = "fleet-tui trust {host} --repin"
# AES-GCM first: fully in OpenSSL on our side (asyncssh's chacha20-poly1305 costs several
# times more CPU per packet, which adds up over hundreds of sessions); chacha20 stays
# acceptable for servers without AES-GCM.
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)
# What the server may prove itself with: plain keys, the only thing a pin holds (a host
# certificate would be judged by a CA we do not keep and refused), in asyncssh's order.
PLAIN_HOST_KEY_ALGS = tuple(alg.decode() for alg in get_default_public_key_algs())


def host_key_algs(prefer_keys: Sequence[str] = ()) -> list[str]:
    """Host key algorithms to offer: those of `prefer_keys` (a pinned key, the keys known_hosts
    lists) first, so that a host with several keys shows the one we know, then the rest."""
    first: list[str] = []
    for text in prefer_keys:
        try:
            algs = asyncssh.import_public_key(text).sig_algorithms
        except (asyncssh.KeyImportError, ValueError):
            continue
        first += [a.decode() for a in algs if a.decode() in PLAIN_HOST_KEY_ALGS]
    first = list(dict.fromkeys(first))
    return first + [a for a in PLAIN_HOST_KEY_ALGS if a not in first]


class PinStore(Protocol):
    """Where pinned host keys live: core/net/hostkeys.py's `HostKeys` over the fleet store."""

    def pinned(self, endpoint: str) -> str | None: ...

    def pin(
        self, endpoint: str, key: str, serial: str | None = None, reason: str = "first use"
    ) -> None: ...


class HostKeyChanged(SSHFailure):
    """A device offered a key other than the pinned one. Never retried automatically."""

    def __init__(
        self,
        endpoint: str,
        pinned: str,
        offered: str,
        *,
        pinned_serial: str | None = None,
        claimed_serial: str | None = None,
        pinned_at: str | None = None,
        confirmed: bool = False,
        diagnosis: str = "unknown",
        reasons: str = "",
    ) -> None:
        self.endpoint = endpoint
        self.pinned = pinned
        self.offered = offered
        self.pinned_serial = pinned_serial
        self.claimed_serial = claimed_serial
        self.pinned_at = pinned_at  # the pin is another endpoint's (same serial, other address)
        self.confirmed = confirmed  # the serial came from the agent, after the handshake
        self.diagnosis = diagnosis
        self.reasons = reasons
        super().__init__(self._message())

    def with_diagnosis(self, diagnosis: str, reasons: str) -> HostKeyChanged:
        return HostKeyChanged(
            self.endpoint,
            self.pinned,
            self.offered,
            pinned_serial=self.pinned_serial,
            claimed_serial=self.claimed_serial,
            pinned_at=self.pinned_at,
            confirmed=self.confirmed,
            diagnosis=diagnosis,
            reasons=reasons,
        )

    def _message(self) -> str:
        repin = f"`{HOST_KEY_HELP.format(host=quoted(self.endpoint))}`"
        owner = f" for serial {self.pinned_serial}" if self.pinned_serial else ""
        if self.pinned_at:
            head = (
                f"{self.endpoint} offers host key {fingerprint(self.offered)}, but serial "
                f"{self.pinned_serial} is pinned with {fingerprint(self.pinned)} at {self.pinned_at}"
            )
        else:
            head = (
                f"host key of {self.endpoint} changed: pinned {fingerprint(self.pinned)}{owner}, "
                f"offered {fingerprint(self.offered)}"
            )
        if self.diagnosis == "reimaged":
            tail = (
                f"same Pi, new key: {self.reasons}, so most likely its SD card was re-imaged. "
                f"Refusing to connect; if you re-imaged it, re-pin with {repin}"
            )
        elif self.diagnosis == "host":
            tail = (
                "it is a host, not a fleet device, so there is no serial to tell a reinstalled "
                "host from another machine. Refusing to connect; compare the offered "
                f"fingerprint with the host's own and re-pin with {repin} only if they match"
            )
        elif self.diagnosis == "other_machine":
            tail = (
                f"NOT the pinned Pi: {self.reasons}; another machine (or an impostor) answers "
                f"there. Refusing to connect; check the device before any {repin}"
            )
        else:
            tail = (
                "nothing tells a re-imaged card from another machine (no serial announced, no "
                "MAC seen). Refusing to connect; check the device (label, serial) and re-pin "
                f"with {repin} only if it is yours"
            )
        return f"{head}. {tail[0].upper()}{tail[1:]}."


def fingerprint(key_text: str) -> str:
    try:
        return str(asyncssh.import_public_key(key_text).get_fingerprint("sha256"))
    except (asyncssh.KeyImportError, ValueError):
        return "unparseable key"


def same_key(a: str, b: str) -> bool:
    """Compare type and base64 body only: the comment field is not part of the key."""
    return a.split()[:2] == b.split()[:2]


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
    config_paths: list[Path] | None = None  # None: ~/.ssh/config (when use_ssh_config)
    connect_timeout: float = 10.0  # TCP connect + SSH handshake + authentication
    tcp_timeout: float = 5.0  # TCP connect alone (direct routes)
    keepalive_interval: float = 15.0
    prefer_aes_gcm: bool = True  # cipher preference, see PREFERRED_CIPHERS
    extra: dict[str, Any] = field(default_factory=dict)

    def ssh_config(self) -> list[Path]:
        """The OpenSSH config files to apply (empty when the config is off)."""
        if not self.use_ssh_config:
            return []
        if self.config_paths is not None:
            return list(self.config_paths)
        from fleet_tui.core.net.routes import default_config_paths

        return default_config_paths()

    def connection_kwargs(self, username: str | None) -> dict[str, Any]:
        """asyncssh connect arguments every connection shares (fleet routes and the sync
        mailbox): config files, timeouts, keys, agent, ciphers; host keys are the caller's."""
        kwargs: dict[str, Any] = {
            "connect_timeout": self.connect_timeout,
            "keepalive_interval": self.keepalive_interval,
            "config": self.ssh_config(),
            **self.extra,
        }
        if self.prefer_aes_gcm and "encryption_algs" not in kwargs:
            kwargs["encryption_algs"] = list(PREFERRED_CIPHERS)
        if username:
            kwargs["username"] = username
        if self.client_keys is not None:
            kwargs["client_keys"] = [str(p) for p in self.client_keys]
        if not self.use_ssh_agent:
            kwargs["agent_path"] = None
        return kwargs


# A judge sees the offered key (OpenSSH text) and returns a verdict, or raises HostKeyChanged.
Judge = Callable[[str], str]


class _JudgingClient(asyncssh.SSHClient):
    def __init__(self, judge: Judge, endpoint: str, known_hosts: KnownHosts | None) -> None:
        self._judge = judge
        self._endpoint = endpoint
        self._known_hosts = known_hosts
        self.offered: str | None = None
        self.verdict: str | None = None
        self.listing: Listing | None = None
        self.refusal: SSHFailure | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.offered = key.export_public_key("openssh").decode().strip()
        try:
            verdict = self._judge(self.offered)
            if self._known_hosts is not None:  # a second opinion that can only refuse
                self.listing = self._known_hosts.judge(
                    self._endpoint, host, addr, port, key, verdict
                )
        except SSHFailure as refusal:  # HostKeyChanged, KnownHostsRefusal
            self.refusal = refusal
            return False
        self.verdict = verdict
        return True


def _no_known_hosts(
    host: str, addr: str, port: int | None
) -> tuple[list[str], list[str], list[str]]:
    return ([], [], [])


@dataclass
class Opened:
    conn: asyncssh.SSHClientConnection
    offered_key: str
    verdict: str
    listing: Listing | None = None  # what the known_hosts files said, when they were asked


async def tcp_connect(host: str, port: int, timeout: float) -> socket.socket:  # noqa: ASYNC109
    """The TCP step alone, bounded: a dead host costs `timeout`, and no handshake slot."""
    loop = asyncio.get_running_loop()
    last: Exception | None = None

    async def attempt() -> socket.socket:
        nonlocal last
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for family, kind, proto, _, addr in infos:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, addr)
                return sock
            except OSError as exc:
                sock.close()
                last = exc
        raise last or OSError(f"no address for {host}")

    try:
        return await asyncio.wait_for(attempt(), timeout)
    except TimeoutError:
        raise SSHFailure(f"{host}:{port}: unreachable (no answer within {timeout:g} s)") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise SSHFailure(f"{host}:{port}: unreachable ({reason})") from None


async def open_route(
    route: Route,
    judge: Judge,
    options: ConnectOptions,
    tunnel: asyncssh.SSHClientConnection | None = None,
    sock: socket.socket | None = None,
    known_hosts: KnownHosts | None = None,
    prefer_keys: Sequence[str] = (),
) -> Opened:
    """One SSH connection along `route` (its jump already open as `tunnel`). `known_hosts`:
    files that may also refuse the key (hosts that are not fleet devices); `prefer_keys`: keys
    whose algorithms to ask for first (see `host_key_algs`)."""
    kwargs: dict[str, Any] = {
        "port": route.port,
        "tunnel": tunnel,
        "server_host_key_algs": host_key_algs(prefer_keys),
        **options.connection_kwargs(route.user or options.username),
        "known_hosts": _no_known_hosts,  # after the options: nothing bypasses the judge
    }
    if sock is not None:
        kwargs["sock"] = sock
    holder: list[_JudgingClient] = []

    def factory() -> _JudgingClient:
        client = _JudgingClient(judge, route.key, known_hosts)
        holder.append(client)
        return client

    label = route.key
    try:
        conn, _ = await asyncssh.create_connection(factory, route.alias, **kwargs)
    except asyncssh.HostKeyNotVerifiable as exc:
        if holder and holder[-1].refusal is not None:
            raise holder[-1].refusal from None
        raise SSHFailure(f"{label}: host key not verifiable: {exc.reason}") from None
    except asyncssh.PermissionDenied:
        raise SSHFailure(
            f"{label}: permission denied (no accepted key; check ssh-agent, IdentityFile and User)"
        ) from None
    except asyncssh.ChannelOpenError as exc:
        raise SSHFailure(f"{label}: the jump host could not reach it ({exc.reason})") from None
    except asyncssh.Error as exc:
        raise SSHFailure(f"{label}: SSH error: {exc.reason}") from None
    except TimeoutError:
        raise SSHFailure(
            f"{label}: no SSH handshake within {options.connect_timeout:g} s"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise SSHFailure(f"{label}: unreachable ({reason})") from None
    finally:
        if sock is not None and not holder:
            sock.close()
    client = holder[-1]
    assert client.offered is not None and client.verdict is not None
    return Opened(conn, client.offered, client.verdict, client.listing)


async def fetch_host_key(
    route: Route, options: ConnectOptions, tunnel: asyncssh.SSHClientConnection | None = None
) -> str:
    """The key a device offers, without authenticating to it (for `trust --repin`)."""
    seen: list[str] = []

    def record(offered: str) -> str:
        seen.append(offered)
        raise HostKeyChanged(route.key, offered, offered)  # refuse: we only wanted the key

    with contextlib.suppress(HostKeyChanged):
        opened = await open_route(route, record, options, tunnel=tunnel)
        opened.conn.close()
    if not seen:
        raise SSHFailure(f"{route.key}: offered no host key")
    return seen[0]


async def connect(
    endpoint: Endpoint, pins: PinStore, options: ConnectOptions
) -> asyncssh.SSHClientConnection:
    """Open one direct connection, pinning the key on first use and refusing a changed one."""

    def judge(offered: str) -> str:
        pinned = pins.pinned(endpoint.key)
        if pinned is None:
            return "first_use"
        if same_key(pinned, offered):
            return "match"
        raise HostKeyChanged(endpoint.key, pinned, offered)

    route = Route(endpoint.host, endpoint.host, endpoint.port, endpoint.user)
    opened = await open_route(route, judge, options)
    if opened.verdict == "first_use":
        pins.pin(endpoint.key, opened.offered_key, reason="first use")
    return opened.conn
