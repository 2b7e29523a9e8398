"""Messages of the `:deploy` screen's workers (screens/deploy/deploy.py)."""

from __future__ import annotations

from textual.message import Message

from fleet_tui.core.deploy.overview import Overview
from fleet_tui.core.deploy.start import Prepared
from fleet_tui.screens.deploy.deploy_dialogs import StartChoice


class DeployLoaded(Message, bubble=False):
    def __init__(self, view: Overview) -> None:
        super().__init__()
        self.view = view


class DeploymentChanged(Message, bubble=False):
    """A deployment this app runs moved on (from the pipeline's thread)."""

    def __init__(self, deployment_id: str) -> None:
        super().__init__()
        self.deployment_id = deployment_id


class DeployChecked(Message, bubble=False):
    """The release, its devices and their pre-flight: ready to ask."""

    def __init__(self, choice: StartChoice, ready: Prepared, refusals: dict[str, str]) -> None:
        super().__init__()
        self.choice, self.ready, self.refusals = choice, ready, refusals


class DeployFailed(Message, bubble=False):
    def __init__(self, what: str, reason: str) -> None:
        super().__init__()
        self.what, self.reason = what, reason
