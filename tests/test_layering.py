"""The layering of DESIGN.md, enforced. Most of it is written down as import-linter contracts in
pyproject.toml ([tool.importlinter]: fleet_tui → screens → core, core → hardware only to
bundle the agent, the agent imports nothing of ours, only the simulator and the demo import
the simulator, CLI commands never import Textual, no cycles in a package) and checked here on
the real import graph. What a graph cannot see is checked beside it: fresh interpreters that
import a layer and look at what got loaded, imports by a folder's bare name, a simulator
module named in a string, and the agent's standard-library-only rule.

Installed, every layer lives under `fleet_tui` (`fleet_tui.core`, `fleet_tui.screens`, …); in
the repository each is a top-level folder. A layer is named here by its folder."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "hardware", "screens", "assets")
OPTIONAL_ON_PI = {"psutil", "gpiozero"}  # used by hardware/ only when installed, imported lazily
SIM = "fleet_tui.core.sim"


def _fresh(code: str) -> Any:
    """Run `code` in a new interpreter from the checkout; what it printed, as JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def _bare_imports(path: Path) -> list[int]:
    """Lines importing a layer by its folder name (`import core`): in a checkout that would
    load a second copy of every module beside the `fleet_tui.core` one."""
    tree = ast.parse(path.read_text(), str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(n.split(".")[0] in LAYERS for n in names):
            lines.append(node.lineno)
    return lines


def _files(package: str) -> list[Path]:
    """The package's own files (not fleet_tui/core etc., the links to the other layers)."""
    root = ROOT / package
    return sorted(
        p for p in root.rglob("*.py") if not (root / p.relative_to(root).parts[0]).is_symlink()
    )


def test_nothing_imports_a_layer_by_its_folder_name() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line}"
        for top in ("fleet_tui", *LAYERS, "tests", "bench")
        for path in _files(top)
        for line in _bare_imports(path)
    ]
    assert not bad, "import fleet_tui.<layer>, not the bare folder name:\n" + "\n".join(bad)


def test_hardware_uses_only_the_standard_library_at_module_level() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = []
    for path in _files("hardware"):
        tree = ast.parse(path.read_text(), str(path))
        module_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue  # relative: the agent's own modules
            for name in (n.split(".")[0] for n in names):
                lazy_optional = id(node) not in module_level and name in OPTIONAL_ON_PI
                if name not in stdlib and not lazy_optional:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not bad, bad


def test_importing_core_does_not_load_textual() -> None:
    loaded = _fresh(
        "import sys, importlib, pkgutil, json\n"
        "from fleet_tui import core, hardware\n"
        "for m in pkgutil.walk_packages(core.__path__, 'fleet_tui.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = ('textual', 'fleet_tui.screens', 'fleet_tui.app')\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.startswith(bad))))\n"
    )
    assert loaded == []


def test_the_command_line_never_loads_textual() -> None:
    """Every headless twin (`poll`, `reboot`, `export`…): building the CLI imports every command
    module, and none of them may pull in Textual, the screens or the app."""
    loaded = _fresh(
        "import sys, json\n"
        "from fleet_tui.cli import build_parser\n"
        "build_parser()\n"
        "bad = ('textual', 'fleet_tui.screens', 'fleet_tui.app', 'fleet_tui.launch')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(bad))))\n"
    )
    assert loaded == []


def _production_core() -> list[Path]:
    return [p for p in _files("core") if p.relative_to(ROOT).parts[1] != "sim"]


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["fleet_tui", *parts])


def _named_modules(path: Path, source: str | None = None) -> list[tuple[str, int]]:
    """Every module an import in the file names (relative ones resolved), anywhere in the file,
    and every string constant that looks like one (importlib.import_module("…"))."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    package = _module_of(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(base, node.lineno)]
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.strip()
            if text.startswith(("fleet_tui.core.sim", "core.sim")):
                found.append((text, node.lineno))
    return found


def _is_sim(module: str) -> bool:
    return module in (SIM, "core.sim") or module.startswith((f"{SIM}.", "core.sim."))


def test_production_core_never_names_the_simulator() -> None:
    files = _production_core()
    assert ROOT / "core" / "fleet" / "runtime.py" in files
    assert not any(p.is_relative_to(ROOT / "core" / "sim") for p in files)
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in files
        for module, line in _named_modules(path)
        if _is_sim(module)
    ]
    assert not bad, "production core must not import core.sim:\n" + "\n".join(bad)


def test_the_static_check_sees_lazy_relative_and_dynamic_imports() -> None:
    source = (
        "def f():\n"
        "    from fleet_tui.core.sim.lab import SimLab\n"
        "    from ..sim import faults\n"
        "    from fleet_tui.core import sim\n"
        "    return __import__('importlib').import_module('fleet_tui.core.sim.lab')\n"
    )
    where = ROOT / "core" / "fleet" / "probe.py"  # relative imports resolve from core/fleet
    found = _named_modules(where, source)
    assert sorted({line for module, line in found if _is_sim(module)}) == [2, 3, 4, 5]


def test_production_code_does_not_load_the_simulator() -> None:
    # Indirect imports too: a fresh interpreter imports every production core module, the
    # app shell, its backend, the TUI launcher and every screen, then looks at sys.modules.
    modules = [_module_of(p) for p in _production_core()]
    problems, loaded = _fresh(
        "import sys, importlib, json\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "for name in ('fleet_tui.app', 'fleet_tui.backend', 'fleet_tui.launch'):\n"
        "    importlib.import_module(name)\n"
        "from fleet_tui.screens.common import registry\n"
        "problems = registry.load_all()\n"
        "bad = ('fleet_tui.core.sim', 'fleet_tui.demo')\n"
        "print(json.dumps([problems, sorted(k for k in sys.modules if k.startswith(bad))]))\n"
    )
    assert problems == [] and loaded == []
    assert len(modules) > 40 and "fleet_tui.core.fleet.runtime" in modules
