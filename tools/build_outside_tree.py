"""The build backend (PEP 517): setuptools' own, building outside the source tree.

pip builds a project in its own folder, and setuptools leaves `build/` and
`fleet_tui.egg-info/` there (`pip install .` in a checkout, `make venv`'s editable install).
Each hook here runs setuptools' hook with an extra distutils config file
(`DIST_EXTRA_CONFIG`, read after setup.cfg) that points both into a temporary folder,
removed when the hook returns: the checkout stays as git left it. tests/test_wheel.py proves it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from setuptools import build_meta as _setuptools

_HOOKS = (
    "get_requires_for_build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_editable",
    "prepare_metadata_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "build_wheel",
    "build_sdist",
    "build_editable",
)


@contextlib.contextmanager
def _outside_the_tree() -> Iterator[None]:
    with tempfile.TemporaryDirectory(prefix="fleet-tui-build-") as tmp:
        config = os.path.join(tmp, "outside.cfg")
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"[build]\nbuild_base = {tmp}/build\n[egg_info]\negg_base = {tmp}\n")
        before = os.environ.get("DIST_EXTRA_CONFIG")
        os.environ["DIST_EXTRA_CONFIG"] = config
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("DIST_EXTRA_CONFIG", None)
            else:
                os.environ["DIST_EXTRA_CONFIG"] = before


def _outside(name: str) -> Callable[..., Any]:
    hook = getattr(_setuptools, name)

    def run(*args: Any, **kwargs: Any) -> Any:
        with _outside_the_tree():
            return hook(*args, **kwargs)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = hook.__doc__
    return run


for _name in _HOOKS:
    globals()[_name] = _outside(_name)
