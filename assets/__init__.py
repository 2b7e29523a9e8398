"""Styles, sample site layouts and demo data, shipped inside the wheel."""

from pathlib import Path

ASSETS_DIR = Path(__file__).parent


def asset(name: str) -> Path:
    return ASSETS_DIR / name
