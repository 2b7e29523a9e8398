"""Simulated power hardware: a PoE switch and a switched PDU whose ports power lab Pis.

Each is a real SNMP agent on 127.0.0.1 (core/sim/snmp_agent.py) serving the objects a real
one does (core/power/oids.py): the PoE switch RFC 3621's pethPsePortAdminEnable and
pethPsePortDetectionStatus per (group, port), the group's consumption and a per-port power
in milliwatts; the PDU APC PowerNet's rPDUOutletControlOutletCommand and
rPDUOutletStatusOutletState per outlet. A SET that turns a port off or on calls ``switch``
(the lab cuts or restores that Pi's power); an APC immediateReboot is off, then on after
``REBOOT_DELAY_S``, as the PDU's own reboot duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from fleet_tui.core.power import oids
from fleet_tui.core.power.usm import UsmAccount
from fleet_tui.core.sim.device import SimPi
from fleet_tui.core.sim.snmp_agent import MibTable, SnmpResponder

REBOOT_DELAY_S = 1.0
STANDBY_W = 0.0  # a port with nothing drawing

Switch = Callable[[SimPi, bool], None]


@dataclass
class SimPort:
    number: int  # PoE port or PDU outlet number
    pi: SimPi | None
    on: bool = True

    def draw_w(self) -> float:
        if not self.on or self.pi is None or not self.pi.powered:
            return STANDBY_W
        return self.pi.state.power_w if self.pi.running else 0.4  # a halted Pi still draws a bit


class SimPowerDevice:
    """A PoE switch (``kind`` "poe") or a PDU ("pdu", APC objects) with numbered ports."""

    def __init__(
        self,
        name: str,
        kind: str,
        ports: list[SimPort],
        community: str,
        switch: Switch,
        v3_user: UsmAccount | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.group = 1
        self.ports = {p.number: p for p in ports}
        self._switch = switch
        self._timers: set[asyncio.TimerHandle] = set()
        table = MibTable()
        for port in ports:
            if kind == "poe":
                self._poe_rows(table, port)
            else:
                self._pdu_rows(table, port)
        if kind == "poe":
            table.add(
                f"{oids.PETH_MAIN_CONSUMPTION_W}.{self.group}",
                lambda: int(round(sum(p.draw_w() for p in self.ports.values()))),
            )
        self.responder = SnmpResponder(table, community, v3_user)

    @property
    def port(self) -> int:
        """The UDP port the agent listens on."""
        return self.responder.port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def port_of(self, pi: SimPi) -> SimPort | None:
        return next((p for p in self.ports.values() if p.pi is pi), None)

    async def start(self) -> None:
        await self.responder.start()

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        await self.responder.stop()

    # ---- the objects ---------------------------------------------------------------------
    def _poe_rows(self, table: MibTable, port: SimPort) -> None:
        g, n = self.group, port.number

        def detection() -> int:
            if not port.on:
                return 1  # disabled
            return 3 if port.pi is not None else 2  # deliveringPower / searching

        def admin(value: int) -> bool:
            if value not in (oids.TRUE, oids.FALSE):
                return False
            self._set(port, value == oids.TRUE)
            return True

        table.add(
            oids.poe_oid(oids.PETH_ADMIN_ENABLE, g, n),
            lambda: oids.TRUE if port.on else oids.FALSE,
            admin,
        )
        table.add(oids.poe_oid(oids.PETH_DETECTION_STATUS, g, n), detection)
        table.add(oids.poe_oid(oids.PORT_POWER_MW, g, n), lambda: int(round(port.draw_w() * 1000)))

    def _pdu_rows(self, table: MibTable, port: SimPort) -> None:
        apc = oids.PDU_VENDORS["apc"]

        def state() -> int:
            return apc.state_on if port.on else apc.state_off

        def command(value: int) -> bool:
            if value == apc.on:
                self._set(port, True)
            elif value == apc.off:
                self._set(port, False)
            elif value == apc.reboot:
                self._set(port, False)
                timer = asyncio.get_running_loop().call_later(REBOOT_DELAY_S, self._set, port, True)
                self._timers.add(timer)
            else:
                return False
            return True

        table.add(oids.pdu_oid(apc.command, port.number), state, command)
        table.add(oids.pdu_oid(apc.state, port.number), state)

    def _set(self, port: SimPort, on: bool) -> None:
        if port.on == on:
            return
        port.on = on
        if port.pi is not None:
            self._switch(port.pi, on)
