"""Reading and switching one outlet, whatever its kind.

PoE and PDU outlets over SNMP (core/power/snmp.py, objects from core/power/oids.py); relay
channels through the controller Pi's agent (`relay` method: on / off / get); the device
itself over SSH (its agent's `shutdown`: it can cut itself, never switch itself back on).
A read never raises: what could not be read is `unknown`, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from fleet_tui.core.ops.kinds import DeviceCaller
from fleet_tui.core.power import oids
from fleet_tui.core.power.outlets import Outlet, OutletError
from fleet_tui.core.power.policy import PowerPolicy
from fleet_tui.core.power.secrets import MissingSecret, account, community
from fleet_tui.core.power.snmp import SnmpClient, SnmpError, SnmpTarget
from fleet_tui.core.text import visible

RELAY_TIMEOUT_S = 15.0


class OutletState(StrEnum):
    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"


class PowerError(Exception):
    """An outlet could not be switched (or read when it had to be); the message says why."""


@dataclass(frozen=True)
class OutletReading:
    outlet: str
    state: OutletState
    detail: str = ""  # the hardware's own word: deliveringPower, searching, …
    power_w: float | None = None  # measured by the hardware (PoE port power), else None
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "outlet": self.outlet,
            "state": self.state.value,
            "detail": self.detail,
            "power_w": self.power_w,
            "power_measured": self.power_w is not None,
            "error": self.error,
        }


class OutletDriver:
    def __init__(
        self,
        policy: PowerPolicy | None = None,
        caller: DeviceCaller | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.policy = policy or PowerPolicy()
        self.caller = caller
        self.environ = environ
        self.snmp = SnmpClient()

    def close(self) -> None:
        self.snmp.close()

    def _target(self, outlet: Outlet) -> SnmpTarget:
        host, port = outlet.agent_address()
        timeout, retries = self.policy.snmp_timeout_s, self.policy.snmp_retries
        try:
            if outlet.v3:
                usm = account(
                    outlet.snmp_user or "",
                    outlet.auth_proto,
                    outlet.auth_key_env,
                    outlet.priv_proto,
                    outlet.priv_key_env,
                    self.environ,
                )
                return SnmpTarget(host, port, "", usm, timeout, retries)
            secret = self.policy.community.get_secret_value() if self.policy.community else None
            value = community(outlet.community_env, self.policy.community_env, secret, self.environ)
        except MissingSecret as e:
            raise PowerError(f"outlet {outlet.name}: {e}") from None
        return SnmpTarget(host, port, value, None, timeout, retries)

    # ---- reading ---------------------------------------------------------------------------
    async def read(self, outlet: Outlet) -> OutletReading:
        try:
            if outlet.kind == "poe":
                return await self._read_poe(outlet)
            if outlet.kind == "pdu":
                return await self._read_pdu(outlet)
            if outlet.kind == "relay":
                return await self._read_relay(outlet)
            return OutletReading(outlet.name, OutletState.UNKNOWN, "the device itself")
        except (PowerError, SnmpError, OutletError) as e:
            return OutletReading(outlet.name, OutletState.UNKNOWN, error=visible(str(e), 300))

    async def _read_poe(self, outlet: Outlet) -> OutletReading:
        assert outlet.port is not None
        g, p = outlet.group, outlet.port
        admin = oids.poe_oid(oids.PETH_ADMIN_ENABLE, g, p)
        detect = oids.poe_oid(oids.PETH_DETECTION_STATUS, g, p)
        power = oids.poe_oid(oids.PORT_POWER_MW, g, p)
        values = await self.snmp.get(self._target(outlet), [admin, detect, power])
        state = {oids.TRUE: OutletState.ON, oids.FALSE: OutletState.OFF}.get(
            values.get(admin),  # type: ignore[arg-type]
            OutletState.UNKNOWN,
        )
        detection = values.get(detect)
        detail = oids.DETECTION.get(detection, "") if isinstance(detection, int) else ""
        mw = values.get(power)
        watts = round(mw / 1000.0, 2) if isinstance(mw, int) else None
        error = None if values.get(admin) is not None else "the switch has no such port"
        return OutletReading(outlet.name, state, detail, watts, error)

    async def _read_pdu(self, outlet: Outlet) -> OutletReading:
        assert outlet.outlet is not None
        vendor = oids.PDU_VENDORS[outlet.pdu_vendor]
        oid = oids.pdu_oid(vendor.state, outlet.outlet)
        value = (await self.snmp.get(self._target(outlet), [oid])).get(oid)
        if value == vendor.state_on:
            return OutletReading(outlet.name, OutletState.ON)
        if value == vendor.state_off:
            return OutletReading(outlet.name, OutletState.OFF)
        error = "the PDU has no such outlet" if value is None else f"state {value!r}"
        return OutletReading(outlet.name, OutletState.UNKNOWN, error=error)

    async def _read_relay(self, outlet: Outlet) -> OutletReading:
        reply = await self._relay(outlet, "get")
        state = reply.get("state") if isinstance(reply, dict) else None
        if state in ("on", "off"):
            return OutletReading(outlet.name, OutletState(state), str(reply.get("level", "")))
        return OutletReading(outlet.name, OutletState.UNKNOWN, error="the relay did not say")

    async def _relay(self, outlet: Outlet, action: str) -> dict[str, object]:
        if self.caller is None or not outlet.controller:
            raise PowerError(f"outlet {outlet.name}: no connection to its controller Pi")
        try:
            reply = await self.caller.call(
                outlet.controller,
                "relay",
                {"pin": outlet.pin, "action": action},
                timeout=RELAY_TIMEOUT_S,
            )
        except Exception as e:  # the agent's failure types: one line for the technician
            raise PowerError(
                f"outlet {outlet.name}: controller {outlet.controller}: {visible(str(e), 200)}"
            ) from None
        return reply if isinstance(reply, dict) else {}

    # ---- switching -------------------------------------------------------------------------
    async def switch(self, outlet: Outlet, on: bool) -> OutletReading:
        """Switch and read back; raises PowerError when the switch was not confirmed."""
        try:
            if outlet.kind == "poe":
                assert outlet.port is not None
                oid = oids.poe_oid(oids.PETH_ADMIN_ENABLE, outlet.group, outlet.port)
                await self.snmp.set(self._target(outlet), oid, oids.TRUE if on else oids.FALSE)
            elif outlet.kind == "pdu":
                assert outlet.outlet is not None
                vendor = oids.PDU_VENDORS[outlet.pdu_vendor]
                oid = oids.pdu_oid(vendor.command, outlet.outlet)
                await self.snmp.set(self._target(outlet), oid, vendor.on if on else vendor.off)
            elif outlet.kind == "relay":
                await self._relay(outlet, "on" if on else "off")
            else:
                raise PowerError(f"outlet {outlet.name}: a device cannot switch its own power")
        except SnmpError as e:
            raise PowerError(f"outlet {outlet.name}: {e}") from None
        reading = await self.read(outlet)
        want = OutletState.ON if on else OutletState.OFF
        if reading.state is not want:
            raise PowerError(
                f"outlet {outlet.name}: switched {want.value}, reads back {reading.state.value}"
                + (f" ({reading.error})" if reading.error else "")
            )
        return reading
