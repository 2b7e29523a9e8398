"""What the device detail does to the device: identify, reboot, and editing its label, notes
and tags (saved in a thread worker). A base for DeviceScreen, which supplies the device."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.screen import Screen

from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import ReadOnlyError, fleet_context, reload_fleet_records
from fleet_tui.screens.device.device_data import DeviceDetail
from fleet_tui.screens.device.device_edit import DeviceEdit, EditDeviceDialog, describe_changes
from fleet_tui.screens.device.device_ref import DeviceRef
from fleet_tui.screens.operations import actions
from fleet_tui.screens.operations.power_menu import request_power

MODIFYING = {"identify", "reboot", "edit", "power"}


class DeviceActions(Screen[None]):
    ref: DeviceRef
    detail: DeviceDetail

    @property
    def serial(self) -> str | None:
        return self.ref.serial

    @property
    def endpoint(self) -> str | None:
        return self.ref.endpoint

    def load(self) -> Any:
        """Re-read the device's history (after a save)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MODIFYING and fleet_context(self.app).options.readonly:
            return False
        return True

    def _target(self) -> list[actions.Target]:
        return [actions.Target(self.ref.key, self.ref.hostname, self.endpoint or "")]

    def action_identify(self) -> None:
        actions.request(self, "identify", self._target())

    def action_reboot(self) -> None:
        actions.request(self, "reboot", self._target())

    def action_power(self) -> None:
        request_power(self, self._target())

    def action_edit(self) -> None:
        ctx = fleet_context(self.app)
        if ctx.options.readonly:
            self.app.notify("Edit refused: read-only mode", severity="warning", markup=False)
            return
        serial = self.serial
        if serial is None:
            self.app.notify(
                "Not reached yet: a device can be edited once its serial is known",
                severity="warning",
                markup=False,
            )
            return
        rec = self.detail.record
        current = DeviceEdit.model_construct(
            label=rec.label or "" if rec else "",
            notes=rec.notes or "" if rec else "",
            tags=tuple(rec.tags) if rec else (),
        )

        def saved(edit: DeviceEdit | None) -> None:
            if edit is not None:
                self._save(serial, edit)

        self.app.push_screen(EditDeviceDialog(visible(self.ref.hostname, 64), current), saved)

    @work(
        thread=True,
        exclusive=True,
        group="device-edit",
        exit_on_error=False,
        description="saving label, notes and tags",
    )
    def _save(self, serial: str, edit: DeviceEdit) -> None:
        ctx = fleet_context(self.app)
        try:
            store = ctx.write_store()
        except ReadOnlyError:
            ctx.report_error("Edit refused", "read-only mode")
            return
        devices = DeviceBook(store)
        rec = devices.get(serial)
        changes = edit.changes(
            rec.label if rec else None, rec.notes if rec else None, list(rec.tags) if rec else []
        )
        if not changes:
            self.app.call_from_thread(self.app.notify, "Nothing changed", markup=False)
            return
        devices.upsert(serial, **changes)
        EventLog(store).record(serial, "edit", describe_changes(changes))
        self.app.call_from_thread(
            self.app.notify, describe_changes(changes), title="Saved", markup=False
        )
        self.app.call_from_thread(self.load)  # workers are started from the UI thread
        self.app.call_from_thread(reload_fleet_records, self.app)
