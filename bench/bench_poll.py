"""Issue 15: the agent's cold start, and `fleet-tui poll` against Ansible and a naive loop.

    python bench/bench_poll.py [--devices 100] [--repeat 3] [--samples 21] [--no-ansible]
                               [--tier auto|sshd|sim] [--before REV] [--strict]

1. Agent cold CPU, per model: one cold agent process, started as the client starts it
   (`python3 -S -E -c BOOTSTRAP agent-<hash>.pyz serve`), answers hello, facts and health
   against a simulated Pi tree of that model. CPU is user+sys of the agent and of its children
   (the simulator's `vcgencmd` is a shell script) from wait4, median of --samples runs. Beside
   it, measured in the same run: the floor (a bare `python3 -c pass`, and `python3 -S -E -c pass`
   for the agent's flags), how much of the agent's CPU its vcgencmd runs took, the same agent
   started as a plain zipapp (`python3 agent.pyz serve`), and with --before REV the agent of an
   earlier commit started as that commit's client started it.
2. The same simulated Pis polled by three clients, each a cold process, median of --repeat:
   `fleet-tui poll` (the agent already on the Pis: an untimed first poll uploads and pins), a
   naive asyncssh loop doing the same work on each Pi (connect, start the same agent, facts,
   health, close; no store, no pool, no checks), and `ansible all -m setup -f 50` (ansible-core
   from PyPI, installed into a throwaway venv here; pipelining on, the interpreter given, no
   host key checks: its fastest usual settings). Printed as ratios against poll.

The Pis (--tier auto): Debian's OpenSSH, one `sshd` per Pi on 127.0.0.1 with a ForceCommand
wrapper that puts each session in its Pi's fake tree (as tests/netns_lab.py does, without the
namespaces: loopback needs no root), where /usr/sbin/sshd can run; otherwise the asyncssh
simulator (core/sim). The Ansible part is skipped, with the reason printed, when ansible-core
cannot be installed or run. Targets: agent < 30 ms; ansible / poll >= 10. --strict exits 1
when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_connect import LabProcess, busy_fraction  # noqa: E402

from fleet_tui.core.agent.bundle import build_agent, write_agent  # noqa: E402
from fleet_tui.core.agent.client import (  # noqa: E402
    AGENT_FLAGS,
    BOOTSTRAP,
    REMOTE_DIR,
    start_command,
)

SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
AGENT_TARGET_MS = 30.0
ANSIBLE_TARGET = 10.0
CONCURRENCY = 32  # poll's default; the naive loop uses the same
FORKS = 50
STEP_TIMEOUT = 15.0
REQUESTS = b'{"id":1,"method":"facts"}\n{"id":2,"method":"health"}\n'
STATS = b'{"id":3,"method":"stats"}\n'


# ---- part 1: one cold agent process per model ---------------------------------------------------


def device_python(root: Path) -> str:
    """The simulated Pi's python3 (the lab links its bin/python3 to the system one)."""
    link = root / "bin" / "python3"
    return str(link) if link.exists() else shutil.which("python3") or sys.executable


def pi_env(root: Path, home: Path) -> dict[str, str]:
    """What a session on the simulated Pi has (core/sim/sshd.py, tests/netns_lab.py)."""
    return {
        "HOME": str(home),
        "PATH": f"{root / 'bin'}:/usr/bin:/bin",
        "FLEET_AGENT_ROOT": str(root),
        "LANG": "C.UTF-8",
    }


def cold_cpu_ms(argv: list[str], env: dict[str, str], stdin: bytes, cwd: Path) -> float:
    """user+sys of one process and the children it reaped (wait4), in ms."""
    r, w = os.pipe()
    os.write(w, stdin)  # a few bytes: fits the pipe
    os.close(w)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        try:
            os.chdir(cwd)
            os.dup2(r, 0)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(r)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}… exited {status}")
    return (usage.ru_utime + usage.ru_stime) * 1000.0


def agent_children_ms(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """CPU of the agent's children (vcgencmd) in one cold hello+facts+health, from its `stats`."""
    done = subprocess.run(
        argv, input=REQUESTS + STATS, capture_output=True, env=env, cwd=cwd, timeout=30
    )
    for line in done.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("id") == 3:
            return float(msg["result"]["cpu_children_s"]) * 1000.0
    raise RuntimeError(f"no stats reply: {done.stderr.decode(errors='replace')[-300:]}")


def interleaved_ms(
    variants: dict[str, list[str]], env: dict[str, str], cwd: Path, samples: int
) -> dict[str, float]:
    """Median cold CPU of each variant (argv), sampled round-robin so that a burst of load
    from elsewhere on the machine lands on all of them alike."""
    seen: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(samples):
        for name, argv in variants.items():
            stdin = b"" if name.startswith("floor") else REQUESTS
            seen[name].append(cold_cpu_ms(argv, env, stdin, cwd))
    return {name: statistics.median(values) for name, values in seen.items()}


def zip_of_commit(rev: str, dest: Path) -> Path | None:
    """The agent of commit `rev`, bundled as the bundler does (sources and their bytecode)."""
    from fleet_tui.core.agent import bundle

    try:
        tar = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "hardware"],
            capture_output=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    entries = []
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        for member in sorted(tf.getmembers(), key=lambda m: m.name):
            data = tf.extractfile(member) if member.isfile() else None
            if data is not None and member.name.endswith(".py"):
                entries.append((member.name, data.read()))
    dest.write_bytes(bundle._zip(bundle._with_bytecode(entries)))
    return dest


@dataclass
class ModelRow:
    model: str
    agent_ms: float
    children_ms: float
    zipapp_ms: float
    before_ms: float | None


def agent_cold_start(
    trees: dict[str, tuple[Path, Path]], samples: int, work: Path, before: str | None
) -> tuple[list[ModelRow], float, float, str]:
    pyz = work / build_agent().filename
    write_agent(pyz)
    old: Path | None = None
    note = ""
    if before:
        old = zip_of_commit(before, work / "agent-before.pyz")
        note = f"before = commit {before}" if old else f"before: git archive {before} failed"
    rows = []
    floors: list[tuple[float, float]] = []
    for key, (root, home) in trees.items():
        python = device_python(root)
        env = pi_env(root, home)
        variants = {
            "agent": [python, *AGENT_FLAGS.split(), "-c", BOOTSTRAP, str(pyz), "serve"],
            "zipapp": [python, str(pyz), "serve"],
            "floor": [python, "-c", "pass"],
            "floor with flags": [python, *AGENT_FLAGS.split(), "-c", "pass"],
        }
        if old is not None:
            variants["before"] = [python, str(old), "serve"]
        interleaved_ms(variants, env, home, 2)  # warm the page cache and the tree's dentries
        ms = interleaved_ms(variants, env, home, samples)
        children = statistics.median(
            agent_children_ms(variants["agent"], env, home) for _ in range(max(3, samples // 3))
        )
        rows.append(ModelRow(key, ms["agent"], children, ms["zipapp"], ms.get("before")))
        floors.append((ms["floor"], ms["floor with flags"]))
    floor = statistics.median(f for f, _ in floors)
    floor_flags = statistics.median(f for _, f in floors)
    return rows, floor, floor_flags, note


# ---- the simulated Pis: real sshd on loopback, or the asyncssh lab --------------------------------


@dataclass
class Fleet:
    """N simulated Pis reachable at 127.0.0.1:port with `key` as `user`."""

    tier: str
    ports: list[int]
    key: Path
    user: str
    trees: dict[str, tuple[Path, Path]]  # model -> (tree root, home) of one Pi of that model
    stop: list[object] = field(default_factory=list)

    def close(self) -> None:
        for fn in reversed(self.stop):
            assert callable(fn)
            try:
                fn()
            except Exception as e:  # never leave the rest running
                print(f"cleanup: {type(e).__name__}: {e}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sshd_unavailable() -> str | None:
    if not os.access(SSHD, os.X_OK):
        return f"no OpenSSH server at {SSHD}"
    if not os.access(SSH, os.X_OK):
        return f"no OpenSSH client at {SSH}"
    return None


def sshd_fleet(count: int, work: Path) -> Fleet:
    """`count` Pis, each a Debian sshd on 127.0.0.1 whose sessions run in the Pi's fake tree."""
    import asyncssh

    from fleet_tui.core.sim.lab_pis import build_trees, make_pi

    user = getpass.getuser()
    rng = random.Random(1)  # the lab's seed: the same serials, models and names as SimLab(count)
    pis = [make_pi(i, rng, work) for i in range(count)]
    asyncio.run(build_trees(pis))
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = work / "client_ed25519"
    key.write_private_key(str(key_path))
    key_path.chmod(0o600)
    (work / "authorized_keys").write_text(key.export_public_key().decode())
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755)  # sshd's privilege separation dir; left in place
    procs: list[subprocess.Popen[bytes]] = []
    fleet = Fleet("sshd", [], key_path, user, {})
    fleet.stop.append(lambda: _kill_all(procs))
    for pi in pis:
        base = pi.base
        port = free_port()
        pi.host_key.write_private_key(str(base / "ssh_host_ed25519_key"))
        (base / "ssh_host_ed25519_key").chmod(0o600)
        env = " ".join(f"{k}={v}" for k, v in pi_env(pi.root, pi.home).items())
        wrapper = base / "session.sh"
        wrapper.write_text(
            f'#!/bin/sh\ncd {pi.home} || exit 1\nexport {env}\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
        )
        wrapper.chmod(0o755)
        config = base / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress 127.0.0.1:{port}",
                    f"HostKey {base / 'ssh_host_ed25519_key'}",
                    f"PidFile {base / 'sshd.pid'}",
                    f"AuthorizedKeysFile {work / 'authorized_keys'}",
                    f"AllowUsers {user}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "UseDNS no",
                    "StrictModes no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "MaxStartups 200",
                    "LogLevel ERROR",
                    "AllowTcpForwarding no",
                    # The Pi's home from the start: the login shell (bash for root here) reads
                    # the Pi's rc files, not this machine's (pyenv, cargo: 0.2 s per session,
                    # where a Pi's non-interactive shell returns from its .bashrc at once).
                    f"SetEnv HOME={pi.home}",
                    f"ForceCommand {wrapper}",
                    "",
                ]
            )
        )
        procs.append(
            subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=open(base / "sshd.log", "ab"),  # noqa: SIM115 - closed with the process
                start_new_session=True,
            )
        )
        fleet.ports.append(port)
        fleet.trees.setdefault(pi.model.key, (pi.root, pi.home))
    deadline = time.monotonic() + STEP_TIMEOUT
    for proc, port, pi in zip(procs, fleet.ports, pis, strict=True):
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (pi.base / "sshd.log").read_text(errors="replace")[-300:]
                fleet.close()
                raise RuntimeError(f"sshd for {pi.hostname} did not start: {log.strip()}")
            time.sleep(0.02)
    return fleet


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def sim_fleet(count: int, work: Path) -> Fleet:
    """The asyncssh lab (core/sim) in a child process (bench_connect's), for machines without
    an sshd."""
    lab = LabProcess(count)
    fleet = Fleet("sim", lab.ports, lab.key, "pi", {})
    fleet.stop.append(lab.close)
    # Part 1 needs trees of its own (the lab's are in its child): one per model, built as the
    # lab builds them (python3 the system's, as on a Pi).
    from fleet_tui.core.sim.lab_names import MODEL_MIX
    from fleet_tui.core.sim.lab_pis import build_trees, make_pi

    rng = random.Random(1)
    pis = [make_pi(i, rng, work / "trees") for i in range(len(MODEL_MIX))]
    asyncio.run(build_trees(pis))
    for pi in pis:
        fleet.trees[pi.model.key] = (pi.root, pi.home)
    return fleet


# ---- part 2: the clients --------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    cpu_s: float  # the client process and everything it reaped (ssh, ansible's forks)
    answered: int


def run_client(argv: list[str], env: dict[str, str] | None, timeout: float) -> tuple[Run, str]:
    """Wall time and CPU (user+sys, children included) of one cold client process."""
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=timeout
    )
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    text = done.stdout.decode(errors="replace")
    if done.returncode not in (0, 1, 2):
        text += "\n" + done.stderr.decode(errors="replace")[-2000:]
    return Run(wall, cpu, 0), text


def poll_argv(fleet: Fleet, db: Path, ssh_config: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fleet_tui.cli",
        "--db",
        str(db),
        "poll",
        "--json",
        "--concurrency",
        str(CONCURRENCY),
        "-i",
        str(fleet.key),
        "-l",
        fleet.user,
        "--no-ssh-agent",
        "-F",
        str(ssh_config),
        *[arg for port in fleet.ports for arg in ("--host", f"127.0.0.1:{port}")],
    ]


def poll_answered(text: str) -> int:
    rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return sum(1 for r in rows if r.get("reachable") and r.get("temperature_c") is not None)


async def naive_loop(ports: list[int], user: str, key: str, concurrency: int) -> int:
    """Connect, start the agent, facts + health, close: on every Pi, `concurrency` at once."""
    import asyncssh

    bundle = build_agent()
    command = start_command(f"{REMOTE_DIR}/{bundle.filename}", len(bundle.data))
    gate = asyncio.Semaphore(concurrency)

    async def one(port: int) -> bool:
        async with gate:
            async with asyncssh.connect(
                "127.0.0.1",
                port,
                username=user,
                client_keys=[key],
                known_hosts=None,
                agent_path=None,
                config=None,
            ) as conn:
                proc = await conn.create_process(command, encoding=None)
                hello = await proc.stdout.readline()
                proc.stdin.write(REQUESTS)
                replies = [await proc.stdout.readline() for _ in range(2)]
                proc.stdin.write_eof()
                proc.close()
                return b'"hello"' in hello and all(b'"result"' in r for r in replies)

    results = await asyncio.gather(
        *(asyncio.wait_for(one(p), 60) for p in ports), return_exceptions=True
    )
    return sum(1 for r in results if r is True)


def naive_argv(fleet: Fleet) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--naive",
        ",".join(map(str, fleet.ports)),
        "--naive-user",
        fleet.user,
        "--naive-key",
        str(fleet.key),
    ]


# ---- ansible --------------------------------------------------------------------------------------


def install_ansible(work: Path) -> tuple[Path | None, str]:
    """ansible-core from PyPI into a throwaway venv: (its `ansible`, "") or (None, why not)."""
    venv = work / "ansible-venv"
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], capture_output=True, timeout=120, check=True
        )
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "ansible-core"],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
    except subprocess.TimeoutExpired:
        return None, "installing ansible-core took more than 10 minutes"
    except (OSError, subprocess.CalledProcessError) as e:
        return None, f"could not make a venv: {e}"
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        return None, "pip could not install ansible-core: " + (lines[-1] if lines else "failed")
    exe = venv / "bin" / "ansible"
    if not exe.exists():
        return None, "ansible-core installed no `ansible` command"
    return exe, ""


def ansible_setup(fleet: Fleet, ansible: Path, work: Path, run: int) -> tuple[Run, str]:
    inventory = work / "inventory.ini"
    inventory.write_text(
        "".join(
            f"pi{i:03d} ansible_host=127.0.0.1 ansible_port={port}\n"
            for i, port in enumerate(fleet.ports)
        )
        + "[all:vars]\n"
        + f"ansible_user={fleet.user}\n"
        + f"ansible_ssh_private_key_file={fleet.key}\n"
        + "ansible_python_interpreter=python3\n"
    )
    home = work / f"ansible-home-{run}"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_TRANSFER_METHOD": "piped",
        # one ssh per host per run, as a cold poll opens one connection per host; no masters
        # left behind by one run for the next to reuse
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o UserKnownHostsFile=/dev/null -F /dev/null",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }
    result, text = run_client(
        [str(ansible), "all", "-i", str(inventory), "-m", "setup", "-f", str(FORKS), "-o"],
        env,
        timeout=900,
    )
    result.answered = sum(1 for line in text.splitlines() if " | SUCCESS" in line)
    return result, text


# ---- report ---------------------------------------------------------------------------------------


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)


def median_run(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.cpu_s for r in runs),
        min(r.answered for r in runs),
    )


def main(args: argparse.Namespace) -> int:
    background = busy_fraction()
    work = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    missed: list[str] = []
    fleet: Fleet | None = None
    try:
        why_not = sshd_unavailable() if args.tier != "sim" else "--tier sim"
        if why_not is None:
            try:
                fleet = sshd_fleet(args.devices, work)
            except (OSError, RuntimeError) as e:
                why_not = f"sshd did not start ({e})"
        if fleet is None:
            if args.tier == "sshd":
                print(f"bench_poll: real sshd tier unavailable: {why_not}", file=sys.stderr)
                return 2
            fleet = sim_fleet(args.devices, work)
        tier = (
            "Debian OpenSSH sshd per Pi on 127.0.0.1"
            if fleet.tier == "sshd"
            else f"asyncssh simulator (real sshd unavailable: {why_not})"
        )
        print(
            f"{args.devices} simulated Pis: {tier}; {os.cpu_count()} CPUs, "
            f"{background:.0%} busy with other work before the run"
        )

        # -- part 1
        rows, floor, floor_flags, note = agent_cold_start(
            fleet.trees, args.samples, work, args.before
        )
        print(
            f"\nagent cold start: hello + facts + health in one process, user+sys of the agent "
            f"and its children, median of {args.samples}"
        )
        body = []
        for r in rows:
            body.append(
                (
                    r.model,
                    f"{r.agent_ms:.1f}",
                    f"{r.children_ms:.1f}",
                    f"{floor:.1f}",
                    f"{r.agent_ms / floor:.1f}x",
                    f"{r.zipapp_ms:.1f}",
                    f"{r.before_ms:.1f}" if r.before_ms is not None else "-",
                    f"< {AGENT_TARGET_MS:g}",
                )
            )
            if r.agent_ms >= AGENT_TARGET_MS:
                missed.append(f"agent {r.model} {r.agent_ms:.1f} ms >= {AGENT_TARGET_MS:g}")
        print(
            table(
                (
                    "model",
                    "agent ms",
                    "of it vcgencmd ms",
                    "floor ms",
                    "vs floor",
                    "as zipapp ms",
                    "before ms",
                    "target",
                ),
                body,
            )
        )
        print(
            f"floor: bare `python3 -c pass`; with the agent's flags (`python3 {AGENT_FLAGS} -c "
            f"pass`) {floor_flags:.1f} ms. as zipapp: this agent started as `python3 agent.pyz "
            f"serve`. {note}".rstrip()
        )

        # -- part 2
        db = work / "fleet.db"
        ssh_config = work / "ssh_config"
        ssh_config.write_text("")
        first, text = run_client(poll_argv(fleet, db, ssh_config), None, timeout=600)
        first.answered = poll_answered(text)
        if first.answered < len(fleet.ports):
            print(f"first poll: {first.answered}/{len(fleet.ports)} answered\n{text[-1500:]}")
        polls, naives = [], []
        for _ in range(args.repeat):
            run, text = run_client(poll_argv(fleet, db, ssh_config), None, timeout=600)
            run.answered = poll_answered(text)
            polls.append(run)
            run, text = run_client(naive_argv(fleet), None, timeout=600)
            run.answered = int(text.split()[-1]) if text.split() else 0
            naives.append(run)
        poll = median_run(polls)
        naive = median_run(naives)
        ansible_run: Run | None = None
        ansible_note = ""
        if args.no_ansible:
            ansible_note = "skipped (--no-ansible)"
        else:
            exe, why = install_ansible(work)
            if exe is None:
                ansible_note = f"skipped ({why})"
            else:
                runs = []
                for i in range(args.ansible_repeat):
                    try:
                        run, text = ansible_setup(fleet, exe, work, i)
                    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                        ansible_note = f"skipped (ansible did not run: {e})"
                        break
                    if run.answered == 0:
                        tail = " ".join(text.strip().splitlines()[-2:])[-300:]
                        ansible_note = f"skipped (ansible reached no Pi: {tail})"
                        break
                    runs.append(run)
                if runs:
                    ansible_run = median_run(runs)
        n = len(fleet.ports)
        print(
            f"\n`fleet-tui poll` against a naive asyncssh loop and Ansible: the same {n} Pis, "
            f"each client a cold process; median of {args.repeat} (ansible: "
            f"{args.ansible_repeat}); a first, untimed poll uploaded the agent "
            f"({first.wall_s:.1f} s)"
        )
        rows2 = [
            ("fleet-tui poll", poll, "1.00x (baseline)", ""),
            ("naive asyncssh loop", naive, f"poll {poll.wall_s / naive.wall_s:.2f}x its time", ""),
        ]
        if ansible_run is not None:
            ratio = ansible_run.wall_s / poll.wall_s
            rows2.append(
                (
                    f"ansible -m setup -f {FORKS}",
                    ansible_run,
                    f"{ratio:.1f}x poll's time",
                    f">= {ANSIBLE_TARGET:g}x",
                )
            )
            if ratio < ANSIBLE_TARGET:
                missed.append(f"ansible/poll {ratio:.1f}x < {ANSIBLE_TARGET:g}x")
        print(
            table(
                ("client", "wall s", "client CPU s", "answered", "vs poll", "target"),
                [
                    (name, f"{r.wall_s:.2f}", f"{r.cpu_s:.2f}", f"{r.answered}/{n}", vs, target)
                    for name, r, vs, target in rows2
                ],
            )
        )
        if ansible_run is None:
            print(f"ansible: {ansible_note}")
        if poll.answered < n or naive.answered < n:
            missed.append("not every Pi answered")
        print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    finally:
        if fleet is not None:
            fleet.close()
        shutil.rmtree(work, ignore_errors=True)
    sys.stdout.flush()
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="poll and naive-loop runs")
    parser.add_argument("--ansible-repeat", type=int, default=1)
    parser.add_argument("--samples", type=int, default=21, help="cold agent runs per model")
    parser.add_argument("--no-ansible", action="store_true")
    parser.add_argument("--tier", choices=("auto", "sshd", "sim"), default="auto")
    parser.add_argument("--before", metavar="REV", help="also time the agent of this commit")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--naive", metavar="PORTS", help=argparse.SUPPRESS)
    parser.add_argument("--naive-user", help=argparse.SUPPRESS)
    parser.add_argument("--naive-key", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.naive:
        ports = [int(p) for p in ns.naive.split(",")]
        print(asyncio.run(naive_loop(ports, ns.naive_user, ns.naive_key, CONCURRENCY)))
        sys.exit(0)
    sys.exit(main(ns))
