"""fleet-tui: a local-first terminal application for fleets of Raspberry Pis."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fleet-tui")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
