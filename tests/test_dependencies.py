"""pyproject's runtime dependencies match what the laptop code imports, both ways.

The laptop side is fleet_tui/, core/ and screens/ (hardware/ is the agent: stdlib only, run by
the Pi's own python3, so nothing pip installs reaches it). A dependency no code imports is dead
weight in every install (and its own dependencies with it); a third-party module imported
without being listed works only while something else happens to pull it in, and breaks for
the user whose install does not.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAPTOP = ("fleet_tui", "core", "screens")
# Import names that differ from the distribution name, for when the distribution is not
# installed (when it is, its own metadata says; `-` and `.` become `_` in any case).
IMPORT_NAMES = {"sqlite-utils": {"sqlite_utils"}, "pyyaml": {"yaml"}, "beautifulsoup4": {"bs4"}}


def _normal(dist: str) -> str:
    """PEP 503: `SQLite_Utils` and `sqlite-utils` are one distribution."""
    return re.sub(r"[-_.]+", "-", dist).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, requirement
        names.add(_normal(match.group(1)))
    return names


def _import_names(dist: str) -> set[str]:
    installed = {
        top for top, dists in packages_distributions().items() if dist in map(_normal, dists)
    }
    return installed | IMPORT_NAMES.get(dist, set()) | {dist.replace("-", "_")}


def _laptop_files() -> list[Path]:
    """Every module of the laptop side once (fleet_tui/core etc. are links to the others)."""
    files = []
    for top in LAPTOP:
        base = ROOT / top
        files += [
            p for p in base.rglob("*.py") if not (base / p.relative_to(base).parts[0]).is_symlink()
        ]
    return sorted(files)


def _third_party_imports() -> dict[str, list[str]]:
    """Top-level module -> the files importing it (lazy imports inside functions count)."""
    ours = {"fleet_tui", "__future__", *sys.stdlib_module_names}
    found: dict[str, list[str]] = {}
    for path in _laptop_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in ours:
                    found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_laptop_code_is_read() -> None:
    # A broken file walk would make both tests below pass on nothing.
    assert len(_laptop_files()) > 50 and "textual" in _third_party_imports()


def test_every_runtime_dependency_is_imported_by_the_laptop_code() -> None:
    imported = set(_third_party_imports())
    unused = sorted(d for d in _declared() if not _import_names(d) & imported)
    assert not unused, (
        f"listed in pyproject.toml [project] dependencies but imported nowhere in "
        f"{', '.join(LAPTOP)}: {unused}; remove them (or move them to an extra)"
    )


def test_every_third_party_import_is_a_declared_dependency() -> None:
    declared = _declared()
    distributions = packages_distributions()
    undeclared = {
        module: files
        for module, files in _third_party_imports().items()
        if not {_normal(d) for d in distributions.get(module, [module])} & declared
    }
    assert not undeclared, (
        f"imported but not in pyproject.toml [project] dependencies: {undeclared}"
    )
