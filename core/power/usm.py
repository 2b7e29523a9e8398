"""SNMP v3 (USM): the protocols fleet-tui speaks and a v3 account with its keys, in memory only.

An outlet row stores the non-secret half (user name, protocols, the *names* of the environment
variables holding the keys: core/power/outlets.py); `account()` of core/power/secrets.py reads
the keys at the moment of use. The security level follows from the protocols: no auth
protocol is noAuthNoPriv, auth without priv authNoPriv, both authPriv. Both the client
(core/power/snmp.py) and the simulator's responder (core/sim/snmp_agent.py) use these tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pysnmp.entity import config

# name -> pysnmp's protocol id (the same ids for the client's UsmUserData and config.add_v3_user)
AUTH_PROTOCOLS: dict[str, tuple[int, ...]] = {
    "md5": config.USM_AUTH_HMAC96_MD5,
    "sha": config.USM_AUTH_HMAC96_SHA,
    "sha224": config.USM_AUTH_HMAC128_SHA224,
    "sha256": config.USM_AUTH_HMAC192_SHA256,
    "sha384": config.USM_AUTH_HMAC256_SHA384,
    "sha512": config.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS: dict[str, tuple[int, ...]] = {
    "aes": config.USM_PRIV_CFB128_AES,  # AES-128 (RFC 3826)
    "aes192": config.USM_PRIV_CFB192_AES_BLUMENTHAL,  # as net-snmp's AES-192/256
    "aes256": config.USM_PRIV_CFB256_AES_BLUMENTHAL,
}
USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,31}$")
MIN_KEY = 8  # RFC 3414: a pass phrase of at least 8 characters


class UsmError(ValueError):
    """A v3 setting that cannot work; the message names the option, never a key."""


def level(auth_proto: str | None, priv_proto: str | None) -> str:
    if not auth_proto:
        return "noAuthNoPriv"
    return "authPriv" if priv_proto else "authNoPriv"


def check(user: str | None, auth_proto: str | None, priv_proto: str | None) -> None:
    """UsmError unless user and protocols make a v3 account (keys are checked on use)."""
    if not user:
        raise UsmError("SNMP v3 needs --user (the USM user name)")
    if not USER.match(user):
        raise UsmError(
            f"{user[:40]!r}: a USM user name is 1-32 letters, digits, '.', '_', '@', '-'"
        )
    if auth_proto is not None and auth_proto not in AUTH_PROTOCOLS:
        raise UsmError(f"--auth must be one of {', '.join(AUTH_PROTOCOLS)}")
    if priv_proto is not None and priv_proto not in PRIV_PROTOCOLS:
        raise UsmError(f"--priv must be one of {', '.join(PRIV_PROTOCOLS)}")
    if priv_proto and not auth_proto:
        raise UsmError("--priv needs --auth too (SNMP v3 has no privacy without authentication)")


@dataclass(frozen=True)
class UsmAccount:
    """A v3 user with its keys: handed to the SNMP client only, never stored or printed."""

    user: str
    auth_proto: str | None = None
    auth_key: str = field(default="", repr=False)
    priv_proto: str | None = None
    priv_key: str = field(default="", repr=False)

    @property
    def level(self) -> str:
        return level(self.auth_proto, self.priv_proto)
