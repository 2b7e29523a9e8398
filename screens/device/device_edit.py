"""Editing a device's label, notes and tags: a pydantic model (the boundary) and its dialog."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,31}$")


class DeviceEdit(BaseModel):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    label: Annotated[str, Field(max_length=64)] = ""
    notes: Annotated[str, Field(max_length=4000)] = ""
    tags: Annotated[tuple[str, ...], Field(max_length=16)] = ()

    @field_validator("label")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.isprintable():
            raise ValueError("label: printable characters only")
        return v

    @field_validator("tags", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            v = [t for t in re.split(r"[,\s]+", v) if t]
        if isinstance(v, list | tuple):
            bad = [t for t in v if not TAG.match(str(t))]
            if bad:
                raise ValueError(
                    f"tag {bad[0]!r}: letters, digits and _ . : / - only, at most 32 characters"
                )
            return tuple(sorted(set(v)))
        return v

    def changes(self, label: str | None, notes: str | None, tags: list[str]) -> dict[str, object]:
        """The fields that differ from the stored values (what `DeviceBook.upsert` needs)."""
        out: dict[str, object] = {}
        if self.label != (label or ""):
            out["label"] = self.label or None
        if self.notes != (notes or ""):
            out["notes"] = self.notes or None
        if list(self.tags) != sorted(set(tags)):
            out["tags"] = list(self.tags)
        return out


def describe_changes(changes: dict[str, object]) -> str:
    parts = []
    for name, value in changes.items():
        if isinstance(value, list):
            value = ",".join(value) or "(none)"
        parts.append(f"{name}={value!r}" if name != "notes" else "notes changed")
    return "; ".join(parts)


class EditDeviceDialog(ModalScreen[DeviceEdit | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("ctrl+s", "save", "Save", id="dialog.save"),
    ]

    def __init__(self, hostname: str, current: DeviceEdit) -> None:
        super().__init__(classes="dialog-screen")
        self._hostname = hostname
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="edit-dialog"):
            yield Static(Text.assemble("Edit ", (self._hostname, "bold")), classes="dialog-title")
            yield Label("Label")
            yield Input(self._current.label, id="edit-label", max_length=64)
            yield Label("Tags (space or comma separated)")
            yield Input(" ".join(self._current.tags), id="edit-tags")
            yield Label("Notes")
            yield TextArea(self._current.notes, id="edit-notes", soft_wrap=True)
            yield Static(id="edit-problem", classes="dialog-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save (ctrl+s)", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#edit-label", Input).focus()

    @on(Input.Submitted)
    def _next(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        try:
            edit = DeviceEdit(
                label=self.query_one("#edit-label", Input).value,
                tags=self.query_one("#edit-tags", Input).value,  # type: ignore[arg-type]
                notes=self.query_one("#edit-notes", TextArea).text,
            )
        except ValidationError as e:
            msg = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
            self.query_one("#edit-problem", Static).update(Text(msg, style="bold red"))
            return
        self.dismiss(edit)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
