"""`:walk RACK` in the real app (pilot): answers with y / n / e, the scanner path (keys typed
fast ending in Enter), resume, reverse identification, the fixes at the end, read-only."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import command_line, make_app, wait_for
from walk_support import LOOSE, PI1, PI2, PI3, PI4, build_rack

from fleet_tui.core.racks.audits import AuditLog
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.store.database import Store
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.racks.walkthrough import SCANNER_GAP_S, WalkScreen


def _db(tmp_path: Path) -> Path:
    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        build_rack(store)
    return db


def _results(db: Path) -> list[tuple[int, int | None, str, str, str]]:
    with Store.open(db, readonly=True) as store:
        return [(a.unit, a.slot, a.face, a.result, a.scanned) for a in AuditLog(store).rows()]


def _text(screen: WalkScreen, widget: str) -> str:
    return str(screen.query_one(widget).render())


async def _walk(pilot: object, app: object, rack: str) -> WalkScreen:
    """`:walk RACK` typed; the walkthrough screen once it is up."""
    await command_line(pilot, f"walk {rack}")
    assert await wait_for(pilot, lambda: isinstance(app.screen, WalkScreen))  # type: ignore[attr-defined]
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, WalkScreen)
    return screen


async def _key(pilot: object, key: str) -> None:
    await pilot.press(key)  # type: ignore[attr-defined]
    await pilot.pause(SCANNER_GAP_S * 3)  # type: ignore[attr-defined]


async def test_walk_answers_scans_resume_and_fixes(tmp_path: Path) -> None:
    db = _db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _walk(pilot, app, "R2")
        assert await wait_for(pilot, lambda: "R2 U10 slot 1" in _text(screen, "#walk-where"))
        assert "position 1 of 6" in _text(screen, "#walk-where")
        assert "pi-4b-017" in _text(screen, "#walk-expected")
        assert PI1 in _text(screen, "#walk-expected")
        await _key(pilot, "y")
        assert await wait_for(pilot, lambda: "R2 U10 slot 2" in _text(screen, "#walk-where"))
        # a code that starts with an answer letter is a scan, not an answer: nothing known
        await pilot.press(*"e-NOPE-7", "enter")
        assert await wait_for(pilot, lambda: "R2 U10 slot 3" in _text(screen, "#walk-where"))
        assert "'e-NOPE-7'" in _text(screen, "#walk-last")
        assert "matches no known device" in _text(screen, "#walk-last")
        await _key(pilot, "e")  # pi-5-002 is not in slot 3 ...
        assert await wait_for(pilot, lambda: "R2 U10 slot 4" in _text(screen, "#walk-where"))
        # ... it is in slot 4: the scanner types its serial (leading zeros, upper case), Enter
        await pilot.press(*("00" + PI2.upper()), "enter")
        assert await wait_for(pilot, lambda: "R2 U8" in _text(screen, "#walk-where"))
        assert "moved: this is pi-5-002, which should be in R2 U10 slot 3" in _text(
            screen, "#walk-last"
        )
        # s stops: the walk resumes where it stood
        await _key(pilot, "s")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, WalkScreen))
    assert _results(db) == [
        (10, 1, "front", "ok", ""),
        (10, 2, "front", "unknown", "e-NOPE-7"),
        (10, 3, "front", "missing", ""),
        (10, 4, "front", "moved", "00" + PI2.upper()),
    ]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _walk(pilot, app, "R2")
        assert await wait_for(pilot, lambda: "R2 U8" in _text(screen, "#walk-where"))
        assert "resumed: 4 of 6 answered" in _text(screen, "#walk-last")
        await pilot.press(*"ASSET-O-3", "enter")  # the asset tag of the Pi expected at U8
        assert await wait_for(pilot, lambda: "R2 U8 rear" in _text(screen, "#walk-where"))
        # n: not the blinking one — no evidence of what is there: the walk stays and asks
        await _key(pilot, "n")
        assert await wait_for(
            pilot,
            lambda: (
                "not pi-rear-4: scan what is there, or r to find it by blinking"
                in _text(screen, "#walk-last")
            ),
        )
        assert "R2 U8 rear" in _text(screen, "#walk-where")
        # ↓ past the last position: the summary; n left the position unresolved, no fix
        await pilot.press("down")
        assert await wait_for(pilot, lambda: "Summary" in _text(screen, "#walk-summary"))
        summary = _text(screen, "#walk-summary")
        assert "unresolved — check R2 U8 rear: not pi-rear-4 (n)" in summary
        assert "unresolved — check R2 U10 slot 2: 'e-NOPE-7' matches no known device" in summary
        assert "pi-rear-4" not in summary.split("unresolved")[0]  # no fix unplaces it
        assert "place pi-5-002 in R2 U10 slot 4 (the records say R2 U10 slot 3)" in summary
        # back to the rear of U8; r blinks candidates, the unplaced one first; y places it now
        await pilot.press("up")
        assert await wait_for(pilot, lambda: "R2 U8 rear" in _text(screen, "#walk-where"))
        await _key(pilot, "r")
        assert await wait_for(pilot, lambda: "pi-loose" in _text(screen, "#walk-expected"))
        await _key(pilot, "y")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "place pi-loose in R2 U8 rear (placed nowhere); pi-rear-4 out of here" in str(
            app.screen.query_one(".dialog-body").render()
        )
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: "fixed: place pi-loose" in _text(screen, "#walk-last"))
        assert await wait_for(pilot, lambda: "Summary" in _text(screen, "#walk-summary"))
        summary = _text(screen, "#walk-summary")
        assert "Placements to fix (1; f applies the first)" in summary
        # f fixes the next placement, confirmed
        await _key(pilot, "f")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: "fixed: place pi-5-002" in _text(screen, "#walk-last"))
        assert await wait_for(
            pilot, lambda: "No placement to fix" in _text(screen, "#walk-summary")
        )
    with Store.open(db, readonly=True) as store:
        book = RackBook(store)
        where = {s: book.placement_of(s) for s in (PI2, PI3, PI4, LOOSE)}
        assert where[PI4] is None and where[PI3] is not None  # n alone unplaced nothing
        assert (where[LOOSE].unit, where[LOOSE].face) == (8, "rear")  # type: ignore[union-attr]
        assert (where[PI2].unit, where[PI2].slot) == (10, 4)  # type: ignore[union-attr]
        walks = store.rows("walkthroughs")
        assert [w["status"] for w in walks] == ["finished"] and walks[0]["who"]


async def test_read_only_walk_looks_and_records_nothing(tmp_path: Path) -> None:
    db = _db(tmp_path)
    app = make_app(db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _walk(pilot, app, "R2")
        assert await wait_for(pilot, lambda: "R2 U10 slot 1" in _text(screen, "#walk-where"))
        assert "read-only: look only" in _text(screen, "#walk-ro")
        await _key(pilot, "y")
        await pilot.press(*PI1, "enter")
        await pilot.pause(0.2)
        assert "R2 U10 slot 1" in _text(screen, "#walk-where")
    assert _results(db) == []
    with Store.open(db, readonly=True) as store:
        assert store.rows("walkthroughs") == []


async def test_unknown_rack_is_one_line(tmp_path: Path) -> None:
    app = make_app(_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, "walk R9")
        assert await wait_for(
            pilot, lambda: any("unknown rack 'R9'" in str(n.message) for n in app._notifications)
        )
        screen = app.screen
        assert isinstance(screen, WalkScreen)
        assert "unknown rack 'R9'" in _text(screen, "#walk-where")
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, WalkScreen))
