"""Pack the Pi agent (the `hardware` package) into a zipapp named by its content hash.

The zip is built in memory from the installed package, with fixed timestamps and sorted
entries, so the same agent source always gives the same bytes and the same hash. The hash
decides whether a device needs an upload.

Next to each module the zip carries its bytecode for the Python building it (an unchecked
hash-based .pyc, which zipimport prefers): a zipapp cannot cache bytecode, and compiling the
agent's source at every start cost more than everything else it does before saying hello.
A Pi whose python3 is another version ignores that .pyc (wrong magic) and uses the source.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import marshal
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fleet_tui import hardware

_MAIN = "import sys\nfrom hardware.agent import main\nsys.exit(main())\n"
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class AgentBundle:
    data: bytes
    sha256: str

    @property
    def filename(self) -> str:
        return f"agent-{self.sha256[:16]}.pyz"


def _sources() -> list[tuple[str, bytes]]:
    root = Path(hardware.__file__).parent
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return [(f"hardware/{p.relative_to(root).as_posix()}", p.read_bytes()) for p in files]


def _with_bytecode(entries: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Each module plus its .pyc (PEP 552 unchecked hash-based: deterministic, no mtime)."""
    out: list[tuple[str, bytes]] = []
    for name, data in entries:
        out.append((name, data))
        if name.endswith(".py"):
            code = compile(data, name, "exec", dont_inherit=True)
            header = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
            out.append(
                (name + "c", header + importlib.util.source_hash(data) + marshal.dumps(code))
            )
    return out


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    buf.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in [("__main__.py", _MAIN.encode()), *entries]:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


@lru_cache(maxsize=1)
def build_agent() -> AgentBundle:
    data = _zip(_with_bytecode(_sources()))
    return AgentBundle(data=data, sha256=hashlib.sha256(data).hexdigest())


def write_agent(path: Path) -> AgentBundle:
    bundle = build_agent()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(bundle.data)
    tmp.chmod(0o755)
    tmp.replace(path)
    return bundle
