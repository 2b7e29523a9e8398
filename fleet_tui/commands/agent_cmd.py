"""`fleet-tui agent build --output PATH`: write the agent zipapp and print its hash."""

from __future__ import annotations

import argparse
from pathlib import Path

from fleet_tui.commands._common import EXIT_OK, fail, output_problem
from fleet_tui.core.agent.bundle import write_agent


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("agent", help="the agent that runs on each Pi")
    agent_sub = p.add_subparsers(dest="agent_command", required=True, metavar="ACTION")
    build = agent_sub.add_parser("build", help="write the agent zipapp (agent-<hash>.pyz)")
    build.add_argument("--output", required=True, type=Path, metavar="PATH")
    build.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    out = args.output.expanduser()
    if problem := output_problem(out):
        return fail(f"agent build: {problem}")
    try:
        bundle = write_agent(out)
    except OSError as e:
        return fail(f"agent build: {out}: {e.strerror or e}")
    print(bundle.sha256)
    return EXIT_OK
