"""The SNMP objects fleet-tui reads and writes on power hardware, by outlet kind and vendor.

PoE switches: RFC 3621 POWER-ETHERNET-MIB, indexed by (PSE group, port). Per-port power is
not in RFC 3621; switches that measure it offer a vendor column (Cisco's
``cpeExtPsePortPwrConsumption``, milliwatts, same index). Switched PDUs have no standard MIB:
each vendor's objects are a row of ``PDU_VENDORS`` (APC PowerNet first; another vendor is one
more row, checked against its MIB).
"""

from __future__ import annotations

from dataclasses import dataclass

# pethPsePortAdminEnable: true(1) / false(2)
PETH_ADMIN_ENABLE = "1.3.6.1.2.1.105.1.1.1.3"
# pethPsePortDetectionStatus: disabled(1) searching(2) deliveringPower(3) fault(4) test(5)
# otherFault(6)
PETH_DETECTION_STATUS = "1.3.6.1.2.1.105.1.1.1.6"
# pethMainPseConsumptionPower (watts, per group)
PETH_MAIN_CONSUMPTION_W = "1.3.6.1.2.1.105.1.3.1.1.4"
# CISCO-POWER-ETHERNET-EXT-MIB cpeExtPsePortPwrConsumption (milliwatts, per port)
PORT_POWER_MW = "1.3.6.1.4.1.9.9.402.1.2.1.14"

TRUE, FALSE = 1, 2
DETECTION = {
    1: "disabled",
    2: "searching",
    3: "deliveringPower",
    4: "fault",
    5: "test",
    6: "otherFault",
}


@dataclass(frozen=True)
class PduVendor:
    name: str
    command: str  # column to SET per outlet: on / off / reboot
    state: str  # column to GET per outlet
    on: int
    off: int
    reboot: int
    state_on: int
    state_off: int


PDU_VENDORS: dict[str, PduVendor] = {
    v.name: v
    for v in (
        # PowerNet-MIB rPDUOutletControlOutletCommand: immediateOn(1) immediateOff(2)
        # immediateReboot(3); rPDUOutletStatusOutletState: outletStatusOn(1) outletStatusOff(2)
        PduVendor(
            "apc",
            command="1.3.6.1.4.1.318.1.1.12.3.3.1.1.4",
            state="1.3.6.1.4.1.318.1.1.12.3.5.1.1.4",
            on=1,
            off=2,
            reboot=3,
            state_on=1,
            state_off=2,
        ),
    )
}
DEFAULT_PDU_VENDOR = "apc"


def poe_oid(column: str, group: int, port: int) -> str:
    return f"{column}.{group}.{port}"


def pdu_oid(column: str, outlet: int) -> str:
    return f"{column}.{outlet}"
