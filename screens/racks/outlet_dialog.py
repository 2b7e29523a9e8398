"""`o` on the rack screen: which outlet powers the selected device. Pick an existing outlet
(enter), or define one: name, kind (poe / pdu / relay), host (the switch or PDU; for a relay
the controller Pi) and its number (switch port, PDU outlet or GPIO pin); SNMP v2c with a
community's environment variable, or v3: user, auth and priv protocols and the NAMES of the
environment variables holding their keys (a key is never typed here). What is typed is
checked by core (core/power/linking.py, as `outlet add`) before the dialog closes; nothing is
written here."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from fleet_tui.core.power.linking import UsmTyped, new_outlet
from fleet_tui.core.power.outlets import Outlet, OutletError
from fleet_tui.core.power.usm import AUTH_PROTOCOLS, PRIV_PROTOCOLS
from fleet_tui.core.text import visible

NEW = "+new"


@dataclass(frozen=True)
class OutletChoice:
    existing: str | None = None  # an outlet's name
    new: Outlet | None = None  # defined in the dialog


class OutletDialog(ModalScreen[OutletChoice | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="outlet_dialog.cancel")]

    def __init__(self, device: str, outlets: list[Outlet]) -> None:
        super().__init__(classes="dialog-screen")
        self._device = device
        self._outlets = outlets

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="outlet-dialog"):
            yield Static(Text(f"Outlet of {self._device}", style="bold"), classes="dialog-title")
            options = [
                Option(Text(f"{visible(o.name, 20)}  {visible(o.where, 48)}"), id=o.name)
                for o in self._outlets
            ]
            options.append(Option("+ define a new outlet", id=NEW))
            yield OptionList(*options, id="outlet-choices")
            with Vertical(id="outlet-new"):
                yield Input(placeholder="name, e.g. sw1-p3", id="outlet-name")
                yield Select(
                    [("PoE switch port", "poe"), ("PDU outlet", "pdu"), ("relay channel", "relay")],
                    value="poe",
                    allow_blank=False,
                    id="outlet-kind",
                )
                yield Input(
                    placeholder="switch/PDU host[:udp port], or controller Pi", id="outlet-host"
                )
                yield Input(placeholder="port / outlet / GPIO pin", id="outlet-number")
                yield Select(
                    [("SNMP v2c (community)", "2c"), ("SNMP v3 (user)", "3")],
                    value="2c",
                    allow_blank=False,
                    compact=True,
                    id="outlet-snmp",
                )
                yield Input(placeholder="community env var (optional)", id="outlet-env")
                with Vertical(id="outlet-v3"):
                    yield Input(placeholder="v3 user", compact=True, id="outlet-user")
                    with Horizontal(classes="outlet-v3-row"):
                        yield Select(
                            [("no auth", ""), *((p, p) for p in AUTH_PROTOCOLS)],
                            value="",
                            allow_blank=False,
                            compact=True,
                            id="outlet-auth",
                        )
                        yield Input(
                            placeholder="auth key env var", compact=True, id="outlet-auth-env"
                        )
                    with Horizontal(classes="outlet-v3-row"):
                        yield Select(
                            [("no privacy", ""), *((p, p) for p in PRIV_PROTOCOLS)],
                            value="",
                            allow_blank=False,
                            compact=True,
                            id="outlet-priv",
                        )
                        yield Input(
                            placeholder="priv key env var", compact=True, id="outlet-priv-env"
                        )
                yield Static(id="outlet-problem", classes="dialog-problem")
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Cancel", id="cancel")
                    yield Button("Link", id="outlet-add", variant="primary")

    def on_mount(self) -> None:
        self._show_version()
        self.query_one("#outlet-new").display = not self._outlets
        if self._outlets:
            self.query_one(OptionList).focus()
        else:
            self.query_one("#outlet-choices").display = False
            self.query_one("#outlet-name", Input).focus()

    @on(Select.Changed, "#outlet-snmp")
    def _show_version(self) -> None:
        v3 = self.query_one("#outlet-snmp", Select).value == "3"
        self.query_one("#outlet-v3").display = v3
        self.query_one("#outlet-env").display = not v3

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == NEW:
            self.query_one("#outlet-new").display = True
            self.query_one("#outlet-name", Input).focus()
        elif event.option.id:
            self.dismiss(OutletChoice(existing=event.option.id))

    @on(Input.Submitted)
    @on(Button.Pressed, "#outlet-add")
    def _add(self) -> None:
        def text(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value

        def chosen(widget_id: str) -> str:
            return str(self.query_one(f"#{widget_id}", Select).value)

        v3 = None
        if chosen("outlet-snmp") == "3":
            v3 = UsmTyped(
                text("outlet-user"),
                chosen("outlet-auth"),
                text("outlet-auth-env"),
                chosen("outlet-priv"),
                text("outlet-priv-env"),
            )
        try:
            outlet = new_outlet(
                text("outlet-name"),
                chosen("outlet-kind"),
                text("outlet-host"),
                text("outlet-number"),
                "" if v3 else text("outlet-env"),
                v3,
            )
        except OutletError as e:
            self.query_one("#outlet-problem", Static).update(Text(str(e)))
            return
        self.dismiss(OutletChoice(new=outlet))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
