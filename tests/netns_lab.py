"""Network namespaces with Debian's OpenSSH sshd: the real-SSH-server tier of the tests.

Topology (every address lives inside namespaces made here; the host's own network is never
touched, nothing is sent outside these namespaces):

    laptop ns  ── bridge brA 10.231.1.1/24 ──┬── pi-a1 10.231.1.11 (sshd, mDNS)
                                             ├── pi-a2 10.231.1.12 (sshd, mDNS)
                                             └── jump  10.231.1.254 (sshd)
    jump ns    ── bridge brB 10.231.2.1/24 ──── pi-b1 10.231.2.11 (sshd, mDNS)

The jump namespace does not forward packets, so pi-b1 is reachable only through the jump
host's sshd. Each Pi's sshd runs a ForceCommand wrapper that gives the session the Pi's fake
filesystem (FLEET_AGENT_ROOT, a `vcgencmd` on PATH) and a home of its own; the jump host's
wrapper only gives it a home (its agent sees the jump namespace's real /proc/net/arp).

`NetnsLab.stop()` kills every process in every namespace, deletes the namespaces (their veths
and bridges go with them) and the directory; it runs from a fixture finalizer, also when
setup failed half-way.
"""

from __future__ import annotations

import itertools
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree

REPO = Path(__file__).resolve().parent.parent
_RUNS = itertools.count(1)


def _new_tag() -> str:
    """This process's pid and a run number: each lab of one test run has its own names."""
    return f"{os.getpid()}r{next(_RUNS)}"


SSHD = "/usr/sbin/sshd"
STEP_TIMEOUT = 10.0


def sweep_stale() -> list[str]:
    """Namespaces left by a test run that was killed outright (its pid is gone): remove them."""
    listed = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=10
    ).stdout
    removed = []
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"^ft(\d+)(?:r\d+)?-(laptop|jump|a1|a2|b1)$", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            _remove_namespace(name)
            removed.append(name)
    return removed


def _other_runs(tag: str) -> bool:
    listed = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=10
    ).stdout
    for line in listed.splitlines():
        m = re.match(r"^ft(\d+)(?:r\d+)?-", line)
        if m and m.group(1) != tag.partition("r")[0] and os.path.exists(f"/proc/{m.group(1)}"):
            return True
    return False


def _remove_namespace(ns: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10)
    for pid in pids.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def unavailable() -> str | None:
    """Why this tier cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces); CI runs it as root"
    if shutil.which("ip") is None:
        return "needs iproute2 (`ip`)"
    if not os.access(SSHD, os.X_OK):
        return f"needs Debian's OpenSSH server ({SSHD}); .ci/run installs openssh-server"
    probe = f"ftprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
    if made.returncode != 0:
        return f"cannot create network namespaces here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


def run(*argv: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip() or done.returncode}")
    return done


@dataclass
class Node:
    name: str  # also its hostname and mDNS name
    ns: str
    address: str
    serial: str | None = None
    model_key: str | None = None
    base: Path = Path()
    host_key: asyncssh.SSHKey | None = None
    sshd: subprocess.Popen[bytes] | None = None
    responder: subprocess.Popen[str] | None = None

    @property
    def model_string(self) -> str:
        return MODELS[self.model_key].model_string if self.model_key else ""


@dataclass
class NetnsLab:
    tag: str = field(default_factory=_new_tag)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fleet-netns-")))
    namespaces: list[str] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    made_run_sshd: bool = False

    # ---- naming ---------------------------------------------------------------------------
    def ns(self, role: str) -> str:
        return f"ft{self.tag}-{role}"

    @property
    def laptop(self) -> str:
        return self.ns("laptop")

    @property
    def client_key(self) -> Path:
        return self.workdir / "client_ed25519"

    # ---- build ----------------------------------------------------------------------------
    def start(self) -> None:
        if not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755)
            self.made_run_sshd = True
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(self.client_key))
        self.client_key.chmod(0o600)
        (self.workdir / "authorized_keys").write_text(key.export_public_key().decode())
        (self.workdir / "ssh_config").write_text("")
        for role in ("laptop", "jump", "a1", "a2", "b1"):
            name = self.ns(role)
            run("ip", "netns", "add", name)
            self.namespaces.append(name)
            run("ip", "-n", name, "link", "set", "lo", "up")
        self._bridge(self.laptop, "brA", "10.231.1.1/24")
        self._bridge(self.ns("jump"), "brB", "10.231.2.1/24")
        self._attach(self.laptop, "brA", self.ns("a1"), "10.231.1.11/24", "va1")
        self._attach(self.laptop, "brA", self.ns("a2"), "10.231.1.12/24", "va2")
        self._attach(self.laptop, "brA", self.ns("jump"), "10.231.1.254/24", "vjA")
        self._attach(self.ns("jump"), "brB", self.ns("b1"), "10.231.2.11/24", "vb1")
        self.nodes = {
            "a1": Node("pi-a1", self.ns("a1"), "10.231.1.11", "10000000a1a1a1a1", "4b"),
            "a2": Node("pi-a2", self.ns("a2"), "10.231.1.12", "2c0ffee0a2a2a2a2", "5"),
            "b1": Node("pi-b1", self.ns("b1"), "10.231.2.11", "10000000b1b1b1b1", "3b+"),
            "jump": Node("jump", self.ns("jump"), "10.231.1.254"),
        }
        for node in self.nodes.values():
            self._prepare(node)
            self.start_sshd(node)
        for node in self.nodes.values():  # the responders start in parallel ...
            if node.serial:
                self._advertise(node)
        for node in self.nodes.values():  # ... and are waited for together
            if node.responder is not None:
                self._wait_ready(node)

    def _bridge(self, ns: str, name: str, cidr: str) -> None:
        run("ip", "-n", ns, "link", "add", name, "type", "bridge", "mcast_snooping", "0")
        run("ip", "-n", ns, "addr", "add", cidr, "dev", name)
        run("ip", "-n", ns, "link", "set", name, "up")

    def _attach(self, bridge_ns: str, bridge: str, ns: str, cidr: str, port: str) -> None:
        run(
            "ip",
            "-n",
            bridge_ns,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns,
        )
        run("ip", "-n", bridge_ns, "link", "set", port, "master", bridge, "up")
        run("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")

    def _prepare(self, node: Node) -> None:
        node.base = self.workdir / node.name
        home = node.base / "home"
        home.mkdir(parents=True)
        env = f"export HOME={home} LANG=C.UTF-8 PATH=/usr/bin:/bin"
        if node.serial and node.model_key:
            root = node.base / "root"
            state = SimPiState(temperature_c=47.5, uptime_s=12345.0)
            build_pi_tree(root, MODELS[node.model_key], node.name, node.serial, state)
            (root / "bin").mkdir(exist_ok=True)
            python = (
                "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
            )
            if not (root / "bin" / "python3").exists():
                (root / "bin" / "python3").symlink_to(python)
            env = f"export HOME={home} LANG=C.UTF-8 PATH={root}/bin:/usr/bin:/bin FLEET_AGENT_ROOT={root}"
            # The namespace's eth0 gets the MAC the fake tree reports, as on a real Pi: the
            # laptop's neighbour table then shows the hardware address the agent told us.
            mac = (root / "sys/class/net/eth0/address").read_text().strip()
            run("ip", "-n", node.ns, "link", "set", "eth0", "address", mac)
        wrapper = node.base / "session.sh"
        wrapper.write_text(
            f'#!/bin/sh\ncd {home} || exit 1\n{env}\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
        )
        wrapper.chmod(0o755)
        self.new_host_key(node)

    def new_host_key(self, node: Node) -> None:
        node.host_key = asyncssh.generate_private_key("ssh-ed25519")
        path = node.base / "ssh_host_ed25519_key"
        path.unlink(missing_ok=True)
        node.host_key.write_private_key(str(path))
        path.chmod(0o600)

    def start_sshd(self, node: Node) -> None:
        jump = node.serial is None
        config = node.base / "sshd_config"
        pidfile = node.base / "sshd.pid"
        pidfile.unlink(missing_ok=True)
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress {node.address}:22",
                    f"HostKey {node.base / 'ssh_host_ed25519_key'}",
                    f"PidFile {pidfile}",
                    f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "PrintMotd no",
                    "MaxStartups 100",
                    "LogLevel ERROR",
                    f"AllowTcpForwarding {'yes' if jump else 'no'}",
                    f"ForceCommand {node.base / 'session.sh'}",
                    "",
                ]
            )
        )
        node.sshd = subprocess.Popen(
            ["ip", "netns", "exec", node.ns, SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(node.base / "sshd.log", "ab"),  # noqa: SIM115 - closed with the process
            start_new_session=True,
        )
        deadline = time.monotonic() + STEP_TIMEOUT
        while not pidfile.exists():
            if node.sshd.poll() is not None or time.monotonic() > deadline:
                log = (node.base / "sshd.log").read_text(errors="replace")[-500:]
                raise RuntimeError(f"sshd for {node.name} did not start: {log}")
            time.sleep(0.05)

    def stop_sshd(self, node: Node) -> None:
        if node.sshd is not None:
            _kill_group(node.sshd)
            node.sshd = None

    def restart_with_new_host_key(self, node: Node) -> None:
        """The card is re-imaged: same Pi, same serial, new host key."""
        self.stop_sshd(node)
        self.new_host_key(node)
        self.start_sshd(node)

    def _advertise(self, node: Node) -> None:
        node.responder = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                node.ns,
                sys.executable,
                str(REPO / "tests" / "netns_responder.py"),
                node.address,
                node.name,
                "22",
                node.serial or "",
                node.model_string,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def _wait_ready(self, node: Node) -> None:
        assert node.responder is not None and node.responder.stdout is not None
        ready, _, _ = select.select([node.responder.stdout], [], [], STEP_TIMEOUT)
        if not ready or node.responder.stdout.readline().strip() != "ready":
            raise RuntimeError(f"mDNS responder for {node.name} did not start")

    # ---- use ------------------------------------------------------------------------------
    def cli(
        self, *argv: str, ssh: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """`fleet-tui` run on the laptop namespace, with its own empty HOME and config."""
        ssh_args = [
            "-i",
            str(self.client_key),
            "-l",
            "root",
            "--no-ssh-agent",
            "-F",
            str(self.workdir / "ssh_config"),
        ]
        env = {
            "HOME": str(self.workdir),
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO),
        }
        cmd = [
            "ip",
            "netns",
            "exec",
            self.laptop,
            sys.executable,
            "-m",
            "fleet_tui.cli",
            "--db",
            str(self.workdir / "fleet.db"),
            *argv,
            *(ssh_args if ssh else []),
        ]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO
        )

    # ---- teardown -------------------------------------------------------------------------
    def stop(self) -> None:
        for node in self.nodes.values():
            if node.responder is not None:
                try:
                    if node.responder.stdin is not None:
                        node.responder.stdin.close()
                    node.responder.wait(timeout=3)
                except (OSError, subprocess.TimeoutExpired):
                    pass
                _kill_group(node.responder)
            self.stop_sshd(node)
        for ns in reversed(self.namespaces):
            _remove_namespace(ns)
        self.namespaces.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)
        # sshd needs /run/sshd for every new connection: leave it while another run of this
        # tier (another engineer's, on the same machine) still has namespaces up.
        if self.made_run_sshd and not _other_runs(self.tag):
            shutil.rmtree("/run/sshd", ignore_errors=True)

    def leftovers(self) -> list[str]:
        listed = subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, timeout=10
        ).stdout
        ours = [
            line.split()[0] for line in listed.splitlines() if line.startswith(f"ft{self.tag}-")
        ]
        return ours + ([str(self.workdir)] if self.workdir.exists() else [])


def _kill_group(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if proc.stdout is not None:
        proc.stdout.close()


def module_lab() -> Iterator[NetnsLab]:
    """A whole test module's lab (a module-scoped fixture yields from this): skipped with the
    reason where the tier cannot run; stopped, and checked to leave nothing, afterwards."""
    import pytest

    why = unavailable()
    if why:
        pytest.skip(f"real-sshd tier skipped: {why}")
    sweep_stale()
    lab = NetnsLab()
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()
        assert lab.leftovers() == [], "namespaces or files left behind"
