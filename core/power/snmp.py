"""SNMP v2c and v3 (USM) GET and SET over pysnmp's asyncio API, with a timeout and retries.

The community and the v3 keys are secrets: they live only in ``SnmpTarget.community`` and
``SnmpTarget.usm`` (hidden from ``repr``) and are never part of an error message, a log line
or anything returned. A v3 agent that refuses the user or a key says so in a report PDU; that
becomes one line, "SNMP v3: wrong user or key for HOST", with which of them it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    Integer,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
    set_cmd,
)
from pysnmp.proto import errind
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from fleet_tui.core.power.usm import AUTH_PROTOCOLS, PRIV_PROTOCOLS, UsmAccount

log = logging.getLogger("fleet_tui.power")

DEFAULT_PORT = 161
DEFAULT_TIMEOUT_S = 2.0
DEFAULT_RETRIES = 1


class SnmpError(Exception):
    """The agent said no (an error status) or could not be asked; the message is for people."""


class SnmpTimeout(SnmpError):
    """No answer: the agent is down, unreachable, or the community is wrong (agents drop those)."""


class SnmpAuthError(SnmpError):
    """A v3 agent refused the user, a key or the security level (never names a key)."""


# pysnmp's report of a v3 request the agent refused -> what to tell the technician
_V3_REFUSALS: tuple[tuple[type, str], ...] = (
    (errind.UnknownUserName, "unknown user"),
    (errind.WrongDigest, "wrong auth key or protocol"),
    (errind.DecryptionError, "wrong priv key or protocol"),
    (errind.UnsupportedSecurityLevel, "the agent wants another security level for this user"),
)


def _credentials(target: SnmpTarget) -> CommunityData | UsmUserData:
    usm = target.usm
    if usm is None:
        return CommunityData(target.community, mpModel=1)
    return UsmUserData(
        usm.user,
        authKey=usm.auth_key or None,
        privKey=usm.priv_key or None,
        authProtocol=AUTH_PROTOCOLS[usm.auth_proto] if usm.auth_proto else None,
        privProtocol=PRIV_PROTOCOLS[usm.priv_proto] if usm.priv_proto else None,
    )


@dataclass(frozen=True)
class SnmpTarget:
    host: str
    port: int = DEFAULT_PORT
    community: str = field(default="", repr=False)
    usm: UsmAccount | None = field(default=None, repr=False)  # v3 when set, else v2c
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


Value = int | str | None  # None: no such object on this agent


def _value(raw: object) -> Value:
    if isinstance(raw, NoSuchInstance | NoSuchObject | EndOfMibView):
        return None
    try:
        return int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(raw)


class SnmpClient:
    """One SNMP engine for many requests; `close()` when done."""

    def __init__(self) -> None:
        self._engine: SnmpEngine | None = None

    def _snmp(self) -> SnmpEngine:
        if self._engine is None:
            self._engine = SnmpEngine()
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None

    async def get(self, target: SnmpTarget, oids: list[str]) -> dict[str, Value]:
        """Values of `oids` (None where the agent has no such object)."""
        transport = await self._transport(target)
        error, status, index, binds = await get_cmd(
            self._snmp(),
            _credentials(target),
            transport,
            ContextData(),
            *(ObjectType(ObjectIdentity(oid)) for oid in oids),
        )
        self._check(target, "get", error, status, index)
        return {str(name): _value(value) for name, value in binds}

    async def set(self, target: SnmpTarget, oid: str, value: int) -> Value:
        """SET an INTEGER object; returns the value the agent answered with."""
        transport = await self._transport(target)
        error, status, index, binds = await set_cmd(
            self._snmp(),
            _credentials(target),
            transport,
            ContextData(),
            ObjectType(ObjectIdentity(oid), Integer(value)),
        )
        self._check(target, f"set {oid} = {value}", error, status, index)
        return _value(binds[0][1]) if binds else None

    async def _transport(self, target: SnmpTarget) -> UdpTransportTarget:
        try:
            return await UdpTransportTarget.create(
                (target.host, target.port), timeout=target.timeout_s, retries=target.retries
            )
        except Exception as e:  # pysnmp wraps resolver errors in its own types
            raise SnmpError(f"{target.where}: cannot resolve the address ({e})") from None

    @staticmethod
    def _check(target: SnmpTarget, what: str, error: object, status: object, index: object) -> None:
        if error:
            usm = target.usm
            for kind, why in _V3_REFUSALS:
                if usm is not None and isinstance(error, kind):
                    raise SnmpAuthError(
                        f"SNMP v3: wrong user or key for {target.where} "
                        f"(user {usm.user}, {usm.level}: {why})"
                    )
            text = str(error)
            if "timeout" in text.lower() or "no snmp response" in text.lower():
                raise SnmpTimeout(
                    f"{target.where}: no SNMP answer to {what} within "
                    f"{target.timeout_s:g} s x {target.retries + 1} "
                    + ("(down or unreachable)" if target.usm else "(down, or wrong community)")
                )
            raise SnmpError(f"{target.where}: {what}: {text}")
        if status and int(status):  # type: ignore[call-overload]
            name = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
            raise SnmpError(f"{target.where}: {what}: the agent answered {name} (index {index})")
