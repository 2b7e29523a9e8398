"""fleet-tui: a local-first terminal application for fleets of Raspberry Pis.

Installed, every layer lives in this package: `fleet_tui.core`, `fleet_tui.screens`,
`fleet_tui.hardware` (the Pi agent) and `fleet_tui.assets` (in the repository, links to its
top-level folders). Importing it stays cheap: the agent and every headless module import it.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    if name == "__version__":  # importlib.metadata costs ~5 MB and ~10 ms: only when asked
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("fleet-tui")
        except PackageNotFoundError:  # running from a checkout that was never installed
            return "0.0.0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
