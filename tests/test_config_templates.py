"""Config templates: rendered per device from its fields, tags, rack and site; a missing
variable is refused with its name; versions and settings kept in a real fleet database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lab_support import cli

from fleet_tui.cli import main
from fleet_tui.core.configs.book import ConfigBook, ConfigError
from fleet_tui.core.configs.desired import render_for
from fleet_tui.core.configs.template import TemplateError, names, render
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook


def test_variables_dollars_and_nothing_else() -> None:
    text = "server ${device.hostname};\nlisten $port;  # nginx\nprice $$5 ${tag.role}\n"
    out = render(text, {"device.hostname": "pi-1", "tag.role": "gw"})
    assert out == "server pi-1;\nlisten $port;  # nginx\nprice $5 gw\n"
    assert names(text) == ["device.hostname", "tag.role"]


def test_a_missing_variable_is_an_error_naming_it_and_its_line() -> None:
    with pytest.raises(TemplateError) as e:
        render("a\nb=${site.name}\nc=${rack.name}\n", {"rack.name": "R1"}, "pi-1")
    assert str(e.value) == "no value for pi-1: ${site.name} (line 2)"


@pytest.mark.parametrize("text", ["${", "x ${device.host name}", "${__import__('os')}", "${a..b"])
def test_nothing_but_names(text: str) -> None:
    with pytest.raises(TemplateError):
        render(text, {})


def _fleet(store: Store) -> None:
    DeviceBook(store).upsert("s1", hostname="pi-1", address="10.0.0.1", tags=["role=gw", "lab"])
    DeviceBook(store).upsert("s2", hostname="pi-2", address="10.0.0.2")
    store.set_row("sites", "site-a", name="Depot")
    store.set_row("rooms", "room-1", site_id="site-a", name="Cellar")
    store.set_row("racks", "rack-1", room_id="room-1", name="R1")
    store.set_row("placements", "p1", serial="s1", rack_id="rack-1", unit=4)


def test_rendered_from_device_tags_rack_room_and_site(store: Store) -> None:
    _fleet(store)
    book = ConfigBook(store)
    text = "${device.hostname} ${device.address} ${tag.role} ${tag.lab} ${rack.name} U${rack.unit} ${room.name} ${site.name} ${config.version}\n"
    config, version, _ = book.add("app", "/etc/app.conf", text, author="t")
    one, two = render_for(store, config, version, DeviceBook(store).all())
    assert one.content == "pi-1 10.0.0.1 gw true R1 U4 Cellar Depot 1\n"
    assert two.content is None and "${tag.role} (line 1)" in two.error and "pi-2" in two.error


def test_versions_are_kept_and_settings_survive_a_new_version(store: Store) -> None:
    book = ConfigBook(store)
    book.add("app", "/etc/app.conf", "v1\n", author="t", validate="check %s", mode="644")
    _, v, added = book.add("app", "/etc/app.conf", "v1\n", author="t")
    assert not added and v.number == 1
    config, v2, added = book.add("app", "/etc/app.conf", "v2\n", author="t", message="two")
    assert added and v2.number == 2 and config.validator == "check %s" and config.mode == "0644"
    assert [v.content for v in book.versions("app")] == ["v1\n", "v2\n"]
    assert book.version("app", 1).content == "v1\n"
    with pytest.raises(ConfigError, match="no version 3"):
        book.version("app", 3)
    with pytest.raises(ConfigError, match="writes /etc/app.conf"):
        book.add("app", "/etc/other.conf", "x", author="t")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--path", "etc/x"], "must be absolute"),
        (["--path", "/etc/../x"], "'..'"),
        (["--path", "/etc/x", "--validate", "nginx -t"], "needs %s"),
        (["--path", "/etc/x", "--mode", "999"], "octal"),
    ],
)
async def test_bad_input_is_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    tmpl = tmp_path / "t"
    tmpl.write_text("x\n")
    db = tmp_path / "fleet.db"
    code, _, err = await cli(capsys, db, "config", "add", "app", "--template", str(tmpl), *args)
    assert code == 64 and message in err
    code, _, err = await cli(capsys, db, "config", "list", "--json")
    assert code in (0, 2)
    if code == 0:
        assert capsys.readouterr().out == ""


async def test_add_list_show_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmpl = tmp_path / "t"
    tmpl.write_text("host=${device.hostname}\n\x1b[31m\n")
    db = tmp_path / "fleet.db"
    code, rows, _ = await cli(
        capsys,
        db,
        "--create",
        "config",
        "add",
        "app",
        "--path",
        "/etc/app.conf",
        "--template",
        str(tmpl),
        "--restart",
        "app.service",
        "--json",
    )
    assert code == 0 and rows[0]["version"] == 1 and rows[0]["restart"] == "app.service"
    code, rows, _ = await cli(capsys, db, "config", "list", "--json")
    assert [r["name"] for r in rows] == ["app"]
    code = await asyncio.to_thread(main, ["--db", str(db), "config", "show", "app"])
    out = capsys.readouterr().out
    assert (
        code == 0 and "host=${device.hostname}" in out and "\\x1b[31m" in out and "\x1b" not in out
    )
    code, _, err = await cli(
        capsys, db, "--readonly", "config", "add", "x", "--path", "/x", "--template", str(tmpl)
    )
    assert code == 2 and "--readonly" in err
