"""The one-way layering of DESIGN.md, enforced: fleet_tui → screens → core; core → hardware
only to bundle the agent; hardware imports nothing of ours and only the standard library.

Inside core, the store never imports core/sync (sync builds on the store), and no module
imports itself through others, not even from inside a function.

Installed, every layer lives under `fleet_tui` (`fleet_tui.core`, `fleet_tui.screens`, …); in
the repository each is a top-level folder. A layer is named here by its folder."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "hardware", "screens", "assets")
OURS = {"fleet_tui", *LAYERS}
ALLOWED = {
    "core": {"core", "hardware"},
    "hardware": {"hardware"},
    "screens": {"screens", "core", "assets"},
    "fleet_tui": {"fleet_tui", "screens", "core", "assets"},
}
OPTIONAL_ON_PI = {"psutil", "gpiozero"}  # used by hardware/ only when installed, imported lazily


def _layer(module: str) -> str:
    """`fleet_tui.core.store.base` -> core; `fleet_tui.app` -> fleet_tui; `textual` -> textual."""
    parts = module.split(".")
    if parts[0] == "fleet_tui" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return parts[0]


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(layer or top-level module, line, at module level?) for every import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int, bool]] = []
    module_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            base = node.module
            names = [f"{base}.{a.name}" if base == "fleet_tui" else base for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:  # relative: its own layer
            names = [path.relative_to(ROOT).parts[0]]
        for name in names:
            found.append((_layer(name), node.lineno, id(node) in module_level))
    return found


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


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _files(package)
        for name, line, _ in _imports(path)
        if name in OURS and name not in ALLOWED[package]
    ]
    assert not bad, "layering violated:\n" + "\n".join(bad)


def test_core_uses_hardware_only_to_bundle_the_agent() -> None:
    users = {
        str(path.relative_to(ROOT))
        for path in _files("core")
        for name, _, _ in _imports(path)
        if name == "hardware"
    }
    assert users <= {"core/agent/bundle.py"}, users


@pytest.mark.parametrize("package", ["core", "hardware"])
def test_headless_packages_never_import_textual(package: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _files(package)
        for name, line, _ in _imports(path)
        if name in {"textual", "screens"}
    ]
    assert not bad, bad


def test_hardware_uses_only_the_standard_library_at_module_level() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _files("hardware")
        for name, line, module_level in _imports(path)
        if name not in stdlib | {"hardware"} and (module_level or name not in OPTIONAL_ON_PI)
    ]
    assert not bad, bad


def test_importing_core_does_not_load_textual() -> None:
    # The static check above misses indirect imports; a fresh interpreter catches them.
    code = (
        "import sys, importlib, pkgutil\n"
        "from fleet_tui import core, hardware\n"
        "for m in pkgutil.walk_packages(core.__path__, 'fleet_tui.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = ('textual', 'fleet_tui.screens', 'fleet_tui.app')\n"
        "print(__import__('json').dumps(sorted(k for k in sys.modules if k.startswith(bad))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def _core_modules() -> dict[str, Path]:
    """`fleet_tui.core.store.database` -> its file, for every module of core."""
    out = {}
    for path in _files("core"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(["fleet_tui", *parts])] = path
    return out


def _core_edges(path: Path, modules: dict[str, Path]) -> set[str]:
    """The core modules a file imports anywhere in it (module level or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found & set(modules)


def test_the_store_never_imports_sync() -> None:
    # core/sync builds on the store (merge, exchange); the other way round would be a cycle
    modules = _core_modules()
    bad = [
        f"{path.relative_to(ROOT)} imports {target}"
        for name, path in modules.items()
        if name.startswith("fleet_tui.core.store")
        for target in _core_edges(path, modules)
        if target.startswith("fleet_tui.core.sync")
    ]
    assert not bad, bad


def test_core_has_no_import_cycles() -> None:
    """Function-level imports count too: one placed to dodge a cycle still is one."""
    modules = _core_modules()
    graph = {name: _core_edges(path, modules) - {name} for name, path in modules.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


# ---- the simulator stays out of production code ----------------------------------------------
# core/sim is the demo's and the tests' simulated fleet. Production core (everything else in
# core/) never imports it, not even lazily: `fleet-tui demo` hands the pipeline its lab through
# core/fleet/lab.py. The app shell and the screens know nothing of it either.

SIM = "fleet_tui.core.sim"


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
    # app shell, its backend, the TUI command and every screen, then looks at sys.modules.
    modules = [_module_of(p) for p in _production_core()]
    code = (
        "import sys, importlib, json\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "for name in ('fleet_tui.app', 'fleet_tui.backend', 'fleet_tui.commands.tui'):\n"
        "    importlib.import_module(name)\n"
        "from fleet_tui.screens import registry\n"
        "problems = registry.load_all()\n"
        "bad = ('fleet_tui.core.sim', 'fleet_tui.demo')\n"
        "print(json.dumps([problems, sorted(k for k in sys.modules if k.startswith(bad))]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    problems, loaded = json.loads(out.stdout)
    assert problems == [] and loaded == []
    assert len(modules) > 40 and "fleet_tui.core.fleet.runtime" in modules


def test_the_import_contracts_hold() -> None:
    """pyproject.toml's [tool.importlinter] contracts (layers, the simulator, the agent, the
    CLI without Textual, no cycles in a package), checked by import-linter on the real graph."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_the_command_line_never_loads_textual() -> None:
    """Every headless twin (`poll`, `reboot`, `export`…): building the CLI imports every command
    module, and none of them may pull in Textual, the screens or the app."""
    code = (
        "import sys, json\n"
        "from fleet_tui.cli import build_parser\n"
        "build_parser().parse_args(['poll', '--help'][:1])\n"
        "bad = ('textual', 'fleet_tui.screens', 'fleet_tui.app', 'fleet_tui.launch')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(bad))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
