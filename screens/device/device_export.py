"""`x` on the device detail: a CSV of the table on the current tab."""

from __future__ import annotations

from textual.screen import Screen

from fleet_tui.core.export import EventRow, HostKeyRow, ThrottleRow, iso
from fleet_tui.core.net.ssh import fingerprint
from fleet_tui.screens.common.exporting import export_rows
from fleet_tui.screens.device.device_data import DeviceDetail, Point, throttle_changes


def export_tab(
    screen: Screen[None], tab: str, host: str, detail: DeviceDetail, points: list[Point]
) -> None:
    if tab == "events":
        export_rows(
            screen,
            "the device's events",
            "events",
            EventRow,
            lambda: [
                EventRow(
                    time=iso(e.time),
                    serial=e.serial,
                    hostname=host,
                    kind=e.kind,
                    message=e.message,
                )
                for e in detail.events
            ],
        )
    elif tab == "throttle":
        export_rows(
            screen,
            "the throttle history",
            "throttle",
            ThrottleRow,
            lambda: [
                ThrottleRow(
                    time=iso(c.time),
                    hostname=host,
                    throttled_now=c.current,
                    throttled_past=c.sticky,
                )
                for c in throttle_changes(points)
            ],
        )
    elif tab == "hostkey":
        export_rows(
            screen,
            "the host key history",
            "hostkeys",
            HostKeyRow,
            lambda: [
                HostKeyRow(
                    time=iso(k.time),
                    hostname=host,
                    endpoint=k.endpoint,
                    reason=k.reason,
                    fingerprint=fingerprint(k.key),
                    key=k.key,
                )
                for k in detail.key_history
            ],
        )
    else:
        screen.app.notify("No table on this tab (1-3 have tables)", markup=False)
