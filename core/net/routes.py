"""How to reach a device: OpenSSH config, a per-host or per-site jump host, or directly.

A `Target` is what a technician or discovery names (`pi@10.0.0.7:22`, an ssh_config alias, a
candidate behind a jump host). A `Route` is that target after `~/.ssh/config` (Host, HostName,
User, Port, ProxyJump) and fleet-tui's own jump setting are applied. The route's `key` is the
identity host keys are pinned under: the same address behind two different jump hosts is two
different machines.

Jump precedence: the host's own jump (`hosts add --jump`, jump discovery), then its site's
jump (`hosts jump --site`), then `ProxyJump` from the OpenSSH config.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from asyncssh.config import SSHClientConfig

from fleet_tui.core.net.hosts import HostSpec, HostSpecError, parse_spec

DEFAULT_PORT = 22
MAX_HOPS = 5


class RouteError(ValueError):
    """A target or jump chain that cannot be turned into a route; the message says why."""


@dataclass(frozen=True)
class Target:
    host: str  # address, DNS name or ssh_config alias
    port: int | None = None  # None: from the OpenSSH config, else 22
    user: str | None = None
    jump: str | None = None  # "[user@]host[:port][,…]": the jump host(s), outermost first
    serial: str | None = None  # claimed (mDNS TXT, jump discovery): evidence, never trusted
    name: str | None = None  # display name
    mac: str | None = None  # claimed / seen in a neighbour table

    @classmethod
    def parse(cls, spec: str, jump: str | None = None) -> Target:
        try:
            parsed = parse_spec(spec)
        except HostSpecError as exc:
            raise RouteError(str(exc)) from None
        return cls(parsed.host, parsed.port, parsed.user, jump)

    @property
    def label(self) -> str:
        return self.name or HostSpec(self.host, self.port).address


@dataclass(frozen=True)
class Route:
    alias: str  # the name given to asyncssh, so that the OpenSSH config applies in full
    host: str  # HostName after the config
    port: int
    user: str | None  # None: the config's User, else the local user
    jump: Route | None = None

    @property
    def address(self) -> str:
        return HostSpec(self.host, self.port).address

    @property
    def key(self) -> str:
        """Host keys are pinned under this: `host:port`, plus ` via <jump key>` when tunnelled."""
        return f"{self.address} via {self.jump.key}" if self.jump else self.address

    @property
    def via(self) -> str | None:
        return self.jump.key if self.jump else None

    def __str__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.address}" + (f" via {self.jump}" if self.jump else "")


def default_config_paths() -> list[Path]:
    path = Path("~", ".ssh", "config").expanduser()
    return [path] if os.access(path, os.R_OK) else []


@lru_cache(maxsize=4096)
def _lookup(
    paths: tuple[str, ...], host: str, port: int | None, user: str | None
) -> tuple[str, int, str | None, str | None]:
    """(HostName, Port, User, ProxyJump) for one host, as OpenSSH would read them."""
    try:
        local_user = getpass.getuser()
    except KeyError:
        local_user = "fleet"
    config = SSHClientConfig.load(
        None,
        [Path(p) for p in paths],
        False,
        False,
        False,
        local_user,
        user if user else (),
        host,
        port if port else (),
    )
    hostname = config.get("Hostname") or host
    cfg_port = config.get("Port")
    cfg_user = config.get("User")
    jump = config.get("ProxyJump")
    return (
        str(hostname),
        int(cfg_port)
        if isinstance(cfg_port, int | str) and str(cfg_port).isdigit()
        else DEFAULT_PORT,
        str(cfg_user) if cfg_user else None,
        str(jump) if jump else None,
    )


def resolve(target: Target, config_paths: Sequence[Path] = ()) -> Route:
    """Apply the OpenSSH config and the jump chain; raises RouteError for loops or bad hops."""
    paths = tuple(map(str, config_paths))
    return _resolve(target.host, target.port, target.user, target.jump, None, paths, ())


def _resolve(
    host: str,
    port: int | None,
    user: str | None,
    chain: str | None,
    via: Route | None,
    paths: tuple[str, ...],
    seen: tuple[str, ...],
) -> Route:
    """`via`: the previous hop of an explicit chain (then the config's ProxyJump is ignored)."""
    if len(seen) > MAX_HOPS:
        raise RouteError(f"jump chain longer than {MAX_HOPS} hops: {' -> '.join(seen)}")
    try:
        hostname, cfg_port, cfg_user, cfg_jump = _lookup(paths, host, port, user)
    except (OSError, ValueError) as exc:
        raise RouteError(f"{host}: cannot read the OpenSSH config: {exc}") from None
    route_port = port or cfg_port
    me = f"{hostname}:{route_port}"
    if me in seen:
        raise RouteError(f"jump loop: {' -> '.join((*seen, me))}")
    hop = via
    if via is None:
        for spec_text in filter(None, (chain if chain is not None else cfg_jump or "").split(",")):
            try:
                spec = parse_spec(spec_text)
            except HostSpecError as exc:
                raise RouteError(f"jump host of {host}: {exc}") from None
            # The first hop gets its own config (and its own ProxyJump, like OpenSSH); each
            # later hop is reached through the one before it.
            hop = _resolve(spec.host, spec.port, spec.user, None, hop, paths, (*seen, me))
    return Route(host, hostname, route_port, user or cfg_user, hop)
