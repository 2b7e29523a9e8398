"""`:deploy`: releases, the running deployment (a progress bar per wave, a live per-device
table), pause/resume/abort, the history of deployments, rollback from a past one, and a new
deployment started from a release — the work done by the same core code as `fleet-tui deploy`
(core/deploy/start.py, rollout.py).

A deployment runs on the fleet pipeline in an app worker, so it goes on when the screen is
closed; the screen reads the store twice a second (a deployment run by the CLI in another
pane shows too). Every change asks first; `--readonly` only looks.
"""

from __future__ import annotations

from concurrent.futures import CancelledError
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Label,
    ProgressBar,
    Static,
    TabbedContent,
    TabPane,
)

from fleet_tui.assets import asset
from fleet_tui.core.deploy.overview import Overview, WaveProgress, overview
from fleet_tui.core.deploy.releases import ReleaseError
from fleet_tui.core.deploy.rollout import DeployEvent, DeployRefused, Rollout
from fleet_tui.core.deploy.start import Prepared, preflight_all, prepare
from fleet_tui.core.deploy.steps import OPEN, DeploymentRecord, DeployStatus
from fleet_tui.core.fleet.filters import FilterError
from fleet_tui.core.store.database import StoreError
from fleet_tui.screens.common.context import DEPLOY_WORKERS, ReadOnlyError, fleet_context
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.format import Cell, cell, literal, safe, when
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.common.registry import CommandSpec, register_command
from fleet_tui.screens.deploy.deploy_dialogs import StartChoice, StartDialog
from fleet_tui.screens.deploy.deploy_messages import (
    DeployChecked,
    DeployFailed,
    DeployLoaded,
    DeploymentChanged,
)

MODIFYING = {"deploy", "pause", "resume", "abort", "rollback"}
REFRESH_S = 0.5
RELEASE_COLUMNS = [
    ("name", "Release", 20),
    ("version", "Version", 10),
    ("files", "Files", 5),
    ("size", "Size", 8),
    ("where", "Content", 9),
]
DEVICE_COLUMNS = [
    ("host", "Device", 14),
    ("wave", "Wave", 4),
    ("step", "Step", 9),
    ("status", "Status", 8),
    ("time", "Time", 6),
    ("reason", "Reason", 20),
]
HISTORY_COLUMNS = [
    ("when", "When", 11),
    ("id", "Id", 4),
    ("what", "What", 8),
    ("release", "Release", 18),
    ("status", "Status", 11),
    ("message", "Message", 16),
]
STYLE = {
    "failed": "bold red",
    "refused": "yellow",
    "ok": "green",
    DeployStatus.RUNNING.value: "bold",
    DeployStatus.STOPPED.value: "bold red",
    DeployStatus.FAILED.value: "bold red",
    DeployStatus.PARTIAL.value: "yellow",
    DeployStatus.INTERRUPTED.value: "bold magenta",
    DeployStatus.PAUSED.value: "yellow",
}
NO_RELEASES = (
    "No releases yet. Add one with `fleet-tui release add PATH` (a folder or .tar.gz with a "
    "fleet-release.toml), or merge a snapshot made with `--with-releases`; then `d` deploys it."
)
TABS = {"releases": "#deploy-releases", "running": "#deploy-devices", "history": "#deploy-history"}


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1000  # type: ignore[assignment]
    return str(n)


class WaveBar(Horizontal):
    """One wave: its label, a progress bar, done of total."""

    def __init__(self, wave: WaveProgress) -> None:
        super().__init__(classes="deploy-wave")
        self.wave = wave

    def compose(self) -> ComposeResult:
        yield Label(self.wave.label, classes="wave-label")
        yield ProgressBar(total=self.wave.total, show_eta=False, show_percentage=False)
        yield Label("", classes="wave-counts")

    def on_mount(self) -> None:
        self.show(self.wave)

    def show(self, wave: WaveProgress) -> None:
        self.wave = wave
        self.query_one(ProgressBar).update(total=wave.total, progress=wave.finished)
        failed = f", {wave.failed} failed" if wave.failed else ""
        self.query_one(".wave-counts", Label).update(
            Text(f"{wave.finished}/{wave.total}{failed}", style="red" if wave.failed else "")
        )


class DeployScreen(Screen[None]):
    CSS_PATH = asset("deploy.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="deploy.back", key_display="esc"),
        Binding("d", "deploy", "Deploy", id="deploy.start", tooltip="deploy the release"),
        Binding("p", "pause", "Pause", id="deploy.pause", tooltip="pause after this wave"),
        Binding("u", "resume", "Resume", id="deploy.resume", tooltip="go on with a paused one"),
        Binding("A", "abort", "Abort", id="deploy.abort", tooltip="stop it; Pis roll back"),
        Binding("b", "rollback", "Rollback", id="deploy.rollback", tooltip="roll back a past one"),
        Binding("r", "reload", "Reload", id="deploy.reload", show=False),
        Binding("1", "tab('releases')", "Releases", id="deploy.tab_releases", show=False),
        Binding("2", "tab('running')", "Deployment", id="deploy.tab_running", show=False),
        Binding("3", "tab('history')", "History", id="deploy.tab_history", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="deploy")
        self.view: Overview = Overview()
        self.shown_id: str | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="deploy-tabs", initial="releases"):
            with TabPane("1 Releases", id="releases"):
                yield Static(NO_RELEASES, id="deploy-no-releases", classes="hidden")
                yield KeyedTable(RELEASE_COLUMNS, id="deploy-releases", flex="name")
            with TabPane("2 Deployment", id="running"):
                yield Static(id="deploy-status")
                yield Vertical(id="deploy-waves")
                yield KeyedTable(DEVICE_COLUMNS, id="deploy-devices", flex="reason")
            with TabPane("3 History", id="history"):
                yield KeyedTable(HISTORY_COLUMNS, id="deploy-history", flex="message")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "fleet-tui"
        self.sub_title = "deploy"
        self.set_interval(REFRESH_S, self.load)
        self.load()
        self.query_one("#deploy-releases", KeyedTable).focus()

    # ---- reading -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="deploy-load", exit_on_error=False)
    def load(self) -> None:
        store = fleet_context(self.app).read_store()
        if store is None:
            return
        self.post_message(DeployLoaded(overview(store, self.shown_id)))

    def on_deploy_loaded(self, message: DeployLoaded) -> None:
        self.view = message.view
        with self.app.batch_update():
            self._show_releases()
            self._show_deployment()
            self._show_history()

    def on_deployment_changed(self, message: DeploymentChanged) -> None:
        if self.shown_id != message.deployment_id:
            self.shown_id = message.deployment_id
        self.load()

    def _show_releases(self) -> None:
        lines = {r.record.id: r for r in self.view.releases}

        def cells(key: str) -> list[Cell]:
            r = lines[key]
            rec = r.record
            style = "" if r.here else "yellow"
            return [
                cell(rec.name),
                cell(rec.version),
                cell(rec.files),
                cell(_size(rec.size)),
                cell(r.where, style),
            ]

        self.query_one("#deploy-releases", KeyedTable).sync(list(lines), cells, set(lines))
        self.query_one("#deploy-no-releases", Static).set_class(bool(lines), "hidden")

    def _show_deployment(self) -> None:
        d = self.view.shown
        status = self.query_one("#deploy-status", Static)
        if d is None:
            status.update(Text("No deployment yet: 1, pick a release, d to deploy it.", "dim"))
        else:
            line = Text()
            line.append(f"{d.id}  {d.kind} ", style="bold")
            line.append_text(literal(d.release_id, "bold", 60))
            line.append(f"  {d.status.value}", style=STYLE.get(d.status.value, ""))
            if d.status is DeployStatus.RUNNING:
                line.append(f" · wave {d.wave + 1} of {len(d.plan.waves)}")
            line.append("\n")
            line.append_text(literal(d.message or f"by {d.who}", "dim", 300))
            status.update(line)
        self._show_waves()
        states = {s.serial: s for s in self.view.devices}

        def cells(key: str) -> list[Cell]:
            s = states[key]
            return [
                cell(s.hostname),
                cell(s.wave + 1),
                cell(s.step or "-"),
                cell(s.status, STYLE.get(s.status, "")),
                cell(f"{s.duration:.1f}s"),
                cell(s.rollback if s.rollback and s.step == "rollback" else s.message),
            ]

        self.query_one("#deploy-devices", KeyedTable).sync(list(states), cells, set(states))

    def _show_waves(self) -> None:
        box = self.query_one("#deploy-waves", Vertical)
        waves = self.view.waves()
        bars = list(box.query(WaveBar))
        if [b.wave.index for b in bars] != [w.index for w in waves]:
            box.remove_children()
            box.mount_all([WaveBar(w) for w in waves])
            return
        for bar, wave in zip(bars, waves, strict=True):
            bar.show(wave)

    def _show_history(self) -> None:
        records = {d.id: d for d in self.view.history}
        now = fleet_context(self.app).options.now()

        def cells(key: str) -> list[Cell]:
            d = records[key]
            return [
                cell(when(d.created, now)),
                cell(d.id[-4:]),
                cell(d.kind),
                cell(d.release_id),
                cell(d.status.value, STYLE.get(d.status.value, "")),
                cell(d.message),
            ]

        self.query_one("#deploy-history", KeyedTable).sync(list(records), cells, set(records))

    # ---- keys ----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MODIFYING and fleet_context(self.app).options.readonly:
            return False
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()

    def action_tab(self, tab: str) -> None:
        self.query_one("#deploy-tabs", TabbedContent).active = tab
        self.query_one(TABS[tab], DataTable).focus()

    def _say(self, text: str, title: str = "Deploy") -> None:
        self.app.notify(text, title=title, severity="warning", markup=False)

    def _release_under_cursor(self) -> str | None:
        key = self.query_one("#deploy-releases", KeyedTable).cursor_key
        return key

    def _history_under_cursor(self) -> DeploymentRecord | None:
        key = self.query_one("#deploy-history", KeyedTable).cursor_key
        return next((d for d in self.view.history if d.id == key), None)

    @on(DataTable.RowSelected, "#deploy-history")
    def _history_selected(self) -> None:
        d = self._history_under_cursor()
        if d is not None:
            self.shown_id = d.id
            self.action_tab("running")
            self.load()

    @on(DataTable.RowSelected, "#deploy-releases")
    def _release_selected(self) -> None:
        self.action_deploy()

    def action_deploy(self) -> None:
        ref = self._release_under_cursor()
        line = next((r for r in self.view.releases if r.record.id == ref), None)
        if line is None:
            self._say("No release: add one with fleet-tui release add PATH")
            return
        if not line.here:
            self._say(
                f"{line.record.id}: its content is elsewhere (sync with the technician who "
                "added it, or merge a snapshot made with --with-releases)"
            )
            return
        dialog = StartDialog("deploy", line.record.name, line.record.version)
        self.app.push_screen(dialog, self._chosen)

    def action_rollback(self) -> None:
        d = self._history_under_cursor() if self._tab() == "history" else self.view.shown
        if d is None:
            self._say("Pick a past deployment in 3 History first", "Rollback")
            return
        name, _, version = d.release_id.partition("@")
        older = _older(self.view, name, version)
        dialog = StartDialog("rollback", name, older, target=d.plan.filter or "*", ask_version=True)
        self.app.push_screen(dialog, self._chosen)

    def _tab(self) -> str:
        return str(self.query_one("#deploy-tabs", TabbedContent).active)

    def _chosen(self, choice: StartChoice | None) -> None:
        if choice is not None:
            self._check(choice)

    @work(thread=True, exclusive=True, group="deploy-check", exit_on_error=False)
    def _check(self, choice: StartChoice) -> None:
        """The release, its devices and each one's pre-flight, before asking."""
        ctx = fleet_context(self.app)
        kind = choice.options.kind

        if kind == "rollback" and "@" not in choice.release:
            self.post_message(
                DeployFailed(
                    "Rollback",
                    "give the version; each Pi back to its own previous one: "
                    f"fleet-tui rollback {choice.release} --to FILTER",
                )
            )
            return

        async def check() -> tuple[Prepared, dict[str, str]]:
            rollout = ctx.deployer()
            try:
                ready = prepare(rollout.store, choice.release, choice.options.filter, kind)
                return ready, await preflight_all(rollout.store, rollout.caller, ready)
            finally:
                await rollout.close()

        try:
            ready, refusals = ctx.run_on_pipeline(check)
        except CancelledError:
            return
        except (
            DeployRefused,
            ReleaseError,
            FilterError,
            StoreError,
            ReadOnlyError,
            RuntimeError,
        ) as e:
            self.post_message(DeployFailed(kind.capitalize(), str(e)))
            return
        self.post_message(DeployChecked(choice, ready, refusals))

    def on_deploy_checked(self, message: DeployChecked) -> None:
        ready, refusals, options = message.ready, message.refusals, message.choice.options
        kind = options.kind
        body = Text()
        body.append(
            f"{len(ready.chosen)} device(s), canary {options.canary}, batch {options.batch}"
            f"{', by ' + ('rack' if options.by_rack else 'outlet') if options.by_rack or options.by_outlet else ''}"
            "; each is switched, restarted and health-checked.\n"
        )
        if refusals:
            body.append(f"Pre-flight refuses {len(refusals)} (they will be skipped):\n", "yellow")
            names = {c.device.serial: c.name for c in ready.chosen}
            for serial, why in list(refusals.items())[:8]:
                body.append_text(literal(f"  {names.get(serial, serial)}: {why}", limit=200))
                body.append("\n")
        else:
            body.append("Pre-flight: every device is ready.\n", "green")
        body.append_text(literal(", ".join(ready.names[:12]), "dim", 300))

        def answered(yes: bool | None) -> None:
            if yes:
                release, chosen = ready.release, ready.chosen
                launch(
                    self.app,
                    f"{kind} {release.id}",
                    lambda r: r.create(release, chosen, options).id,
                )
                self.action_tab("running")

        self.app.push_screen(
            ConfirmDialog(
                f"{kind.capitalize()} {ready.release.id}?",
                body,
                kind.capitalize(),
                danger=True,
                typed=ready.word,
            ),
            answered,
        )

    def _shown_open(self, verb: str) -> DeploymentRecord | None:
        d = self.view.shown
        if d is None or d.status not in OPEN:
            self._say(f"Nothing to {verb}: no deployment is running, paused or interrupted")
            return None
        return d

    def action_pause(self) -> None:
        self._control("pause", "Pause", "It stops after the wave that runs now.")

    def action_abort(self) -> None:
        self._control(
            "abort",
            "Abort",
            "The wave running is cancelled; a Pi left uncommitted rolls back by itself.",
        )

    def _control(self, verb: str, title: str, what: str) -> None:
        d = self._shown_open(verb)
        if d is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._request(d.id, verb)

        body = literal(f"{d.kind} {d.release_id} ({d.id}). {what}", limit=300)
        self.app.push_screen(
            ConfirmDialog(f"{title} {d.id}?", body, title, danger=verb == "abort"), answered
        )

    @work(thread=True, group="deploy-control", exit_on_error=False)
    def _request(self, dep_id: str, verb: str) -> None:
        ctx = fleet_context(self.app)

        async def ask() -> DeploymentRecord:
            rollout = ctx.deployer()
            try:
                return rollout.request(dep_id, verb)
            finally:
                await rollout.close()

        try:
            done = ctx.run_on_pipeline(ask)
        except CancelledError:
            return
        except (DeployRefused, LookupError, StoreError, ReadOnlyError, RuntimeError) as e:
            self.post_message(DeployFailed(verb.capitalize(), str(e)))
            return
        self.app.call_from_thread(
            self.app.notify, f"{done.id}: {verb} asked ({done.status.value})", markup=False
        )
        self.load()

    def action_resume(self) -> None:
        d = self._shown_open("resume")
        if d is None:
            return
        if d.status is DeployStatus.RUNNING:
            self._say(f"{d.id} is running already")
            return
        left = [s.hostname for s in self.view.devices if not s.done]

        def answered(yes: bool | None) -> None:
            if yes:
                launch(self.app, f"resume {d.id}", lambda r: d.id)

        body = literal(f"Go on with {d.kind} {d.release_id} on: {', '.join(left)}", limit=400)
        self.app.push_screen(ConfirmDialog(f"Resume {d.id}?", body, "Resume"), answered)

    def on_deploy_failed(self, message: DeployFailed) -> None:
        self.app.notify(
            safe(message.reason, 500),
            title=f"{message.what}: refused",
            severity="error",
            markup=False,
        )


def _older(view: Overview, name: str, version: str) -> str:
    """The version just before `version` among the known releases of `name`, or ''."""
    versions = [r.record.version for r in view.releases if r.record.name == name]
    if version in versions:
        i = versions.index(version)
        return versions[i - 1] if i > 0 else ""
    return versions[-2] if len(versions) > 1 else ""


def launch(app: App[Any], title: str, start: Any) -> None:
    """Run a deployment on the fleet pipeline in an app worker (it goes on when the screen
    closes): `start(rollout)` gives the deployment's id (a new one, or one to resume)."""
    ctx = fleet_context(app)

    def nudge(event: DeployEvent) -> None:  # on the pipeline's thread: messages are safe
        for screen in list(app.screen_stack):
            if isinstance(screen, DeployScreen):
                screen.post_message(DeploymentChanged(event.deployment.id))

    def body() -> None:
        async def go() -> DeploymentRecord:
            rollout: Rollout = ctx.deployer(nudge)
            try:
                return await rollout.run(start(rollout))
            finally:
                await rollout.close()

        try:
            done = ctx.run_on_pipeline(go)
        except CancelledError:
            return
        except Exception as e:
            ctx.report_error(title.capitalize(), str(e) or type(e).__name__)
            return
        app.call_from_thread(
            app.notify,
            safe(f"{done.status.value}: {done.message}", 300),
            title=safe(f"{done.kind.capitalize()} {done.release_id}", 80),
            markup=False,
        )

    app.run_worker(body, thread=True, group=DEPLOY_WORKERS, exit_on_error=False, description=title)


def _open_deploy(app: App[Any], arg: str) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(DeployScreen())


register_command(
    CommandSpec(
        "deploy",
        ("dep", "releases"),
        "Releases and deployments",
        "releases, the running deployment by wave and device, pause/abort, history, rollback",
        _open_deploy,
    )
)
