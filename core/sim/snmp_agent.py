"""A real SNMP v2c (and optionally v3) command responder on 127.0.0.1 (pysnmp), serving a
table of scalar OIDs.

What it serves comes from a ``MibTable`` (core/sim/power_devices.py builds the PoE switch's and
the PDU's): each OID has a getter and, when writable, a setter. GET, GETNEXT/GETBULK and SET
work as on a real agent; a SET of a value the table rejects answers ``wrongValue``. A request
with another community is dropped without an answer, as net-snmp does (the client times out).
A v3 user (``UsmAccount``: core/power/usm.py) may be added besides the community: requests
with an unknown user, a wrong key or another security level are refused with pysnmp's report
PDUs, as a real agent does. Every SET is logged with the time the responder saw it (``sets``),
for the tests.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902
from pysnmp.proto.rfc1905 import noSuchInstance
from pysnmp.smi import error as smi_error
from pysnmp.smi import instrum

from fleet_tui.core.power.usm import AUTH_PROTOCOLS, PRIV_PROTOCOLS, UsmAccount
from fleet_tui.core.sim.device import LOOPBACK

Oid = tuple[int, ...]
Getter = Callable[[], int | str]
Setter = Callable[[int], bool]  # False: a value the agent does not take (wrongValue)


@dataclass(frozen=True)
class Variable:
    get: Getter
    set: Setter | None = None


@dataclass
class SetRecord:
    time: float  # time.time() when the responder applied it
    oid: str
    value: int


@dataclass
class MibTable:
    variables: dict[Oid, Variable] = field(default_factory=dict)

    def add(self, oid: str | Oid, get: Getter, set_: Setter | None = None) -> None:
        key = oid if isinstance(oid, tuple) else tuple(int(p) for p in oid.strip(".").split("."))
        self.variables[key] = Variable(get, set_)


def _syntax(value: int | str) -> Any:
    return rfc1902.Integer(value) if isinstance(value, int) else rfc1902.OctetString(value)


class _Instrum(instrum.AbstractMibInstrumController):
    """The table as pysnmp's MIB instrumentation: no MIB modules, just our scalars."""

    def __init__(self, table: MibTable, sets: list[SetRecord]) -> None:
        self._table = table
        self._sets = sets

    def read_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        out = []
        for name, _ in var_binds:
            variable = self._table.variables.get(tuple(name))
            if variable is None:
                out.append((name, noSuchInstance))
            else:
                out.append((name, _syntax(variable.get())))
        return out

    def read_next_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        keys = sorted(self._table.variables)
        out = []
        for name, _ in var_binds:
            after = [k for k in keys if k > tuple(name)]
            if not after:
                out.append((name, rfc1902.EndOfMibView()))
            else:
                key = after[0]
                out.append((rfc1902.ObjectName(key), _syntax(self._table.variables[key].get())))
        return out

    def write_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        checked = []
        for idx, (name, value) in enumerate(var_binds):
            variable = self._table.variables.get(tuple(name))
            if variable is None:
                raise smi_error.NoCreationError(name=name, idx=idx)
            if variable.set is None:
                raise smi_error.NotWritableError(name=name, idx=idx)
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise smi_error.WrongTypeError(name=name, idx=idx) from None
            checked.append((name, variable, number, idx))
        for name, variable, number, idx in checked:
            assert variable.set is not None
            if not variable.set(number):
                raise smi_error.WrongValueError(name=name, idx=idx)
            self._sets.append(SetRecord(time.time(), ".".join(map(str, name)), number))
        return [(name, _syntax(variable.get())) for name, variable, _, _ in checked]


class SnmpResponder:
    """One agent (a switch or a PDU) on its own UDP port of 127.0.0.1."""

    def __init__(self, table: MibTable, community: str, v3_user: UsmAccount | None = None) -> None:
        self.table = table
        self.community = community
        self.v3_user = v3_user
        self.sets: list[SetRecord] = []
        self.port = 0
        self._engine: engine.SnmpEngine | None = None
        self._sock: socket.socket | None = None

    async def start(self, port: int = 0) -> int:
        """Listen on 127.0.0.1:`port` (a free one for 0; the same one again after a stop)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((LOOPBACK, port or self.port))
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        snmp = engine.SnmpEngine()
        transport = udp.UdpAsyncioTransport().open_server_mode(sock=sock)
        config.add_transport(snmp, udp.DOMAIN_NAME, transport)
        config.add_v1_system(snmp, "fleet-sim", self.community)
        config.add_vacm_user(snmp, 2, "fleet-sim", "noAuthNoPriv", (1, 3, 6), (1, 3, 6))
        if self.v3_user is not None:
            _add_v3_user(snmp, self.v3_user)
        ctx = context.SnmpContext(snmp)
        ctx.unregister_context_name(b"")
        ctx.register_context_name(b"", _Instrum(self.table, self.sets))
        cmdrsp.GetCommandResponder(snmp, ctx)
        cmdrsp.NextCommandResponder(snmp, ctx)
        cmdrsp.BulkCommandResponder(snmp, ctx)
        cmdrsp.SetCommandResponder(snmp, ctx)
        self._engine = snmp
        return self.port

    async def stop(self) -> None:
        snmp, self._engine = self._engine, None
        if snmp is not None:
            snmp.close_dispatcher()
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _add_v3_user(snmp: engine.SnmpEngine, user: UsmAccount) -> None:
    """`user` may read and write everything, at its own security level exactly."""
    auth = AUTH_PROTOCOLS[user.auth_proto] if user.auth_proto else config.USM_AUTH_NONE
    priv = PRIV_PROTOCOLS[user.priv_proto] if user.priv_proto else config.USM_PRIV_NONE
    config.add_v3_user(
        snmp,
        user.user,
        auth,
        user.auth_key or None,
        priv,
        user.priv_key or None,
    )
    config.add_vacm_user(snmp, 3, user.user, user.level, (1, 3, 6), (1, 3, 6))
