"""An mDNS responder for one simulated Pi, run inside that Pi's network namespace.

    python tests/netns_responder.py ADDRESS NAME PORT SERIAL MODEL

Advertises `_ssh._tcp` and `_pifleet._tcp` (model and serial in TXT, as the agent's avahi
service file does) with zeroconf bound to ADDRESS only; prints `ready`; withdraws the adverts
and exits when its standard input closes.
"""

from __future__ import annotations

import socket
import sys

from zeroconf import IPVersion, ServiceInfo, Zeroconf


def main(address: str, name: str, port: int, serial: str, model: str) -> int:
    zc = Zeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    try:
        for kind, props in (
            ("_ssh._tcp.local.", {}),
            ("_pifleet._tcp.local.", {"serial": serial, "model": model}),
        ):
            zc.register_service(
                ServiceInfo(
                    kind,
                    f"{name}.{kind}",
                    addresses=[socket.inet_aton(address)],
                    port=port,
                    server=f"{name}.local.",
                    properties=props,
                )
            )
        print("ready", flush=True)
        sys.stdin.read()  # until the test closes our stdin (or kills us)
        zc.unregister_all_services()
    finally:
        zc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]))
