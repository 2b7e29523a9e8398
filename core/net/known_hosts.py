"""`~/.ssh/known_hosts` as a second opinion on hosts that are not fleet devices.

The fleet database's pin decides, as for a Pi (core/net/trust.py: trust on first use, a changed
key refused, only `fleet-tui trust HOST --repin` replaces a pin). For the sync mailbox's host
and the jump hosts on its way, the user's known_hosts files may only refuse, never admit:

- they list the host with other keys, and not the one it offers: refused (as `ssh` refuses);
- they mark the offered key `@revoked`: refused;
- they vouch for the host only through a `@cert-authority` line: fleet-tui pins plain keys and
  does not check certificates, so the first key is not pinned by itself, only by an explicit
  `fleet-tui trust HOST` (a pin made so is then honoured);
- they do not list the host: the pin alone judges.

The files are the ones `ssh` (and asyncssh) read: the OpenSSH config's `UserKnownHostsFile`
(default `~/.ssh/known_hosts`; `none` reads nothing) plus `GlobalKnownHostsFile`; the host is
matched as asyncssh matches it (HostKeyAlias or HostName, the peer's address, `[host]:port`,
then the host without the port). Pis are never judged by it: a laptop's known_hosts is full of
stale lines for re-imaged Pis and reused DHCP addresses, and the pin tied to the serial tells
those cases apart better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import asyncssh
from asyncssh.config import SSHClientConfig

from fleet_tui.core.net.failures import SSHFailure, quoted
from fleet_tui.core.net.routes import Route

# How the files see an offered key: the host is not in them, they list this key, or they
# vouch for the host only through a certificate authority.
Listing = Literal["unlisted", "listed", "ca_only"]
Keys = Sequence[asyncssh.SSHKey]


class KnownHostsRefusal(SSHFailure):
    """The known_hosts files disagree with the key a host offers; the message says what to do."""


def _fingerprints(keys: Keys) -> str:
    return ", ".join(sorted({str(k.get_fingerprint("sha256")) for k in keys}))


def _forget_hint(host: str, port: int) -> str:
    name = host if port == 22 else f"[{host}]:{port}"
    return f"`ssh-keygen -R '{name}'`"


@dataclass(frozen=True)
class KnownHosts:
    """The known_hosts files that apply to one route (see `for_route`)."""

    files: tuple[Path, ...]
    name: str  # what the files are searched for: HostKeyAlias, else HostName
    port: int

    @classmethod
    def for_route(cls, route: Route, config_paths: Sequence[Path] = ()) -> KnownHosts:
        config = SSHClientConfig.load(
            None,
            list(config_paths),
            False,
            False,
            False,
            "fleet-tui",  # the local user name does not change which files apply
            route.user if route.user else (),
            route.alias,
            route.port,
        )
        user_files = cast(Sequence[str], config.get("UserKnownHostsFile", ()))
        global_files = cast(Sequence[str], config.get("GlobalKnownHostsFile", ()))
        files = list(user_files) if user_files != () else ["~/.ssh/known_hosts"]
        if user_files != []:  # `UserKnownHostsFile none`: ssh checks nothing, neither do we
            files += list(global_files or ())
        name = str(config.get("HostKeyAlias") or route.host)
        return cls(tuple(Path(str(f)).expanduser() for f in files), name, route.port)

    def _match(self, host: str, addr: str, port: int) -> tuple[list[str], Keys, Keys, Keys]:
        found = [str(f) for f in self.files if f.is_file()]
        if not found:
            return found, [], [], []
        known = asyncssh.read_known_hosts(found)
        listed, cas, revoked, *_ = known.match(host, addr, port if port != 22 else None)
        if port != 22:
            # match() retries without the port when nothing but `@revoked` lines name
            # `[host]:port`, and drops those; _match() is the lookup without the retry
            revoked = [*revoked, *known._match(host, addr, port)[2]]
        return found, listed, cas, revoked

    def listed_keys(self) -> list[str]:
        """The keys listed for the host, before connecting (for the algorithms to ask for)."""
        try:
            _, listed, _, _ = self._match(self.name, "", self.port)
        except (OSError, ValueError):
            return []  # said when the key is judged
        return [k.export_public_key("openssh").decode().strip() for k in listed]

    def judge(
        self, endpoint: str, host: str, addr: str, port: int, key: asyncssh.SSHKey, verdict: str
    ) -> Listing:
        """How the files see `key`, offered by `host` (`addr`, `port`) and already passed by the
        pin (`verdict`: "first_use" or "match"); raises KnownHostsRefusal when they disagree."""
        try:
            found, listed, cas, revoked = self._match(host, addr, port)
        except (OSError, ValueError) as exc:  # ssh would not connect either
            files = ", ".join(map(str, self.files))
            raise KnownHostsRefusal(
                f"{endpoint}: cannot read the known_hosts files ({files}): {exc}. "
                "Refusing to connect; fix or move the file."
            ) from None
        if not found:
            return "unlisted"
        offered = str(key.get_fingerprint("sha256"))
        where = " or ".join(found)
        first_use = verdict == "first_use"
        if key in revoked:
            raise KnownHostsRefusal(
                f"{endpoint} offers host key {offered}, which {where} marks @revoked. "
                "Refusing to connect."
            )
        if key in listed:
            return "listed"
        if listed:
            pin = (
                "nothing was pinned; then connect again and it is pinned on first use"
                if first_use
                else "the fleet database already pins the key offered"
            )
            raise KnownHostsRefusal(
                f"{endpoint} offers host key {offered}, but {where} lists "
                f"{_fingerprints(listed)} for it. Refusing to connect, as ssh would. If the "
                f"host's key really changed, remove the old line with {_forget_hint(host, port)} "
                f"({pin})"
            )
        if cas and first_use:
            raise KnownHostsRefusal(
                f"{endpoint} offers host key {offered}; {where} vouches for it only through a "
                "@cert-authority line, and fleet-tui pins plain keys without checking "
                "certificates. Refusing to pin it by itself: compare the fingerprint with the "
                f"host's own, then pin it with `fleet-tui trust {quoted(endpoint)}`"
            )
        return "ca_only" if cas else "unlisted"
