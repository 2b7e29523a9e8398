"""The README's "Set up" says what the two set-up commands really need: `make` downloads the
dependencies, and the tests that need root, OpenSSH and tmux (what .ci/run installs) say so."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _section(title: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"\n## {title}\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_set_up_says_that_make_downloads_the_dependencies() -> None:
    setup = _section("Set up")
    assert "Needs only" not in setup
    assert re.search(r"`make` downloads .* from PyPI", setup)


def test_set_up_names_what_ci_installs_for_the_tests() -> None:
    setup = _section("Set up")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    packages = re.findall(r"need\+=\(([\w-]+)\)", ci)
    assert packages, "no packages found in .ci/run: the pattern no longer matches it"
    for package in packages:  # openssh-server -> OpenSSH, iproute2, tmux
        name = "OpenSSH" if package.startswith("openssh") else package
        assert name in setup, f"{package} (installed by .ci/run) is not named in Set up"
    assert '[ "$(id -u)" = 0 ]' in ci and "root" in setup and ".ci/run" in setup
