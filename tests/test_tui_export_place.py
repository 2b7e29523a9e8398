"""Where `x` writes: the documented place (the config's `export_dir`, else
`$XDG_DOCUMENTS_DIR/fleet-tui-exports`, else `~/fleet-tui-exports`), never the current
directory; the notification names the file in full; a file that exists is replaced only after
asking."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_tui_support import exported_csv, make_app, post_fleet, seed_store, utc, wait_for
from textual.widgets import Input

from fleet_tui.config import load_config
from fleet_tui.core.export import default_export_dir
from fleet_tui.screens.common.dialogs import ConfirmDialog, ExportDialog
from fleet_tui.screens.fleet.fleet import FleetScreen

_ = utc


def _problem(app: object) -> str:
    screen = app.screen  # type: ignore[attr-defined]
    return str(screen.query_one("#export-problem").render())


def test_the_default_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "Documents"))
    assert default_export_dir() == tmp_path / "Documents" / "fleet-tui-exports"
    monkeypatch.delenv("XDG_DOCUMENTS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_export_dir() == tmp_path / "home" / "fleet-tui-exports"


def test_export_dir_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('export_dir = "~/reports"\n')
    cfg, problems = load_config(config)
    assert problems == [] and cfg.export_folder() == Path("~/reports").expanduser()
    config.write_text('export_dir = "reports"\n')  # relative to what? said, not guessed
    cfg, problems = load_config(config)
    assert cfg.export_folder() is None and "export_dir" in problems[0]
    assert "absolute" in problems[0]


async def test_x_writes_to_the_default_place_and_asks_before_replacing(
    tmp_path: Path, utc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "Documents"))
    exports = tmp_path / "Documents" / "fleet-tui-exports"
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app)
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(pilot, lambda: fleet.table.row_count == 10)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        field = app.screen.query_one("#export-path", Input)
        assert Path(field.value).parent == exports  # the folder is made on first use
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: exported_csv(exports) is not None)
        out = exported_csv(exports)
        assert out is not None and list(cwd.iterdir()) == []
        assert await wait_for(pilot, lambda: len(app._notifications) == 1)
        (note,) = app._notifications
        assert note.title == "Exported" and note.message == f"10 rows written to {out}"
        first = out.read_text(encoding="utf-8")

        # the same name again (the app's clock is frozen): said at once, asked on Export
        await pilot.press("slash", *"pi-5-002", "enter", "x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        assert await wait_for(pilot, lambda: "exists" in _problem(app))
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # the focus starts on Cancel: enter keeps the file
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        await pilot.pause(0.2)
        assert out.read_text(encoding="utf-8") == first
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")  # Replace
        assert await wait_for(pilot, lambda: len(app._notifications) == 2)
        assert list(app._notifications)[-1].message == f"{out} replaced: 1 row"
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [r["hostname"] for r in rows] == ["pi-5-002"]
        assert sorted(p.name for p in exports.iterdir()) == [out.name]  # no temporary left


async def test_x_uses_export_dir_and_never_makes_it(
    tmp_path: Path, utc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "Documents"))
    mine = tmp_path / "reports"
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db, export_dir=mine)
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        assert await wait_for(pilot, lambda: f"{mine} is not a folder" in _problem(app))
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ExportDialog) and not mine.exists()
        await pilot.press("escape")
        mine.mkdir()
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: exported_csv(mine) is not None)
    assert not (tmp_path / "Documents").exists()
