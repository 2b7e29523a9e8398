"""`fleet-tui release add|list|show`: manifests validated (field and reason, nothing written
when refused), content stored by sha256 beside the database, the same file stored once."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from fleet_tui.cli import main

MANIFEST = """name = "sensor-app"
version = "{version}"
[service]
start = "python3 app.py"
[health]
http = "http://127.0.0.1:8080/health"
deadline_s = 5
"""


def make_release(folder: Path, version: str, app: str = "print('hi')\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fleet-release.toml").write_text(MANIFEST.format(version=version))
    (folder / "app.py").write_text(app)
    (folder / "static").mkdir(exist_ok=True)
    (folder / "static" / "run.sh").write_text("#!/bin/sh\necho run\n")
    (folder / "static" / "run.sh").chmod(0o755)
    return folder


def run(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_show_folder_and_tarball(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    v1 = make_release(tmp_path / "v1", "1.0.0")
    code, out, _ = run(capsys, db, "--create", "release", "add", str(v1))
    assert code == 0 and "sensor-app@1.0.0: stored; 3 files" in out
    # the same folder again: nothing new
    code, out, _ = run(capsys, db, "release", "add", str(v1))
    assert code == 0 and "already stored" in out
    # v2 as a .tar.gz in a top folder, one file changed
    v2 = make_release(tmp_path / "v2" / "sensor-app-2", "2.0.0", app="print('v2')\n")
    archive = tmp_path / "v2.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(v2, arcname="sensor-app-2")
    code, out, _ = run(capsys, db, "release", "add", str(archive))
    assert code == 0 and "sensor-app@2.0.0: stored" in out

    code, out, _ = run(capsys, db, "release", "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["sensor-app@1.0.0", "sensor-app@2.0.0"]
    assert all(r["content_here"] for r in rows)
    code, out, _ = run(capsys, db, "release", "show", "sensor-app", "--json")
    shown = json.loads(out)
    assert shown["version"] == "2.0.0"  # no version: the newest
    files = {f["path"]: f for f in shown["file_list"]}
    assert files["static/run.sh"]["mode"] == 0o755 and files["app.py"]["mode"] == 0o644
    # content-addressed: run.sh is the same in both versions, stored once
    blobs = [p for p in (tmp_path / "releases" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 5  # manifest x2, app.py x2, run.sh x1
    code, out, _ = run(capsys, db, "release", "show", "sensor-app@1.0.0")
    assert code == 0 and "python3 app.py" in out and "static/run.sh" in out
    code, _, err = run(capsys, db, "release", "show", "sensor-app@9")
    assert code == 2 and "no release 'sensor-app@9'" in err


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('name = "Sensor_App"\nversion = "1"\n[service]\nstart = "x"\n', "name: only a-z"),
        ('name = "a"\n[service]\nstart = "x"\n', "version: missing"),
        (
            'name = "a"\nversion = "1"\ncolour = "red"\n[service]\nstart = "x"\n',
            "colour: unknown key",
        ),
        ('name = "a"\nversion = "1"\n', "service: needs unit"),
        (
            'name = "a"\nversion = "1"\n[service]\nstart = "x"\n[health]\ndeadline_s = -1\n',
            "health.deadline_s",
        ),
        (
            'name = "a"\nversion = "1"\n[service]\nstart = "x"\n[health]\nhttp = "ftp://x"\n',
            "health.http",
        ),
        ('name = "a" version', "not TOML"),
    ],
)
def test_bad_manifests_refused_with_field_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, said: str
) -> None:
    folder = tmp_path / "rel"
    folder.mkdir()
    (folder / "fleet-release.toml").write_text(toml)
    (folder / "app.py").write_text("x")
    db = tmp_path / "fleet.db"
    code, _, err = run(capsys, db, "--create", "release", "add", str(folder))
    assert code == 2 and said in err and "fleet-release.toml" in err
    assert not db.exists() and not (tmp_path / "releases").exists()


def test_unsafe_archives_and_missing_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    folder = tmp_path / "nomanifest"
    folder.mkdir()
    (folder / "app.py").write_text("x")
    code, _, err = run(capsys, db, "--create", "release", "add", str(folder))
    assert code == 2 and "no fleet-release.toml" in err
    rel = make_release(tmp_path / "rel", "1.0")
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(rel / "fleet-release.toml", arcname="fleet-release.toml")
        tar.add(rel / "app.py", arcname="../escape.py")
    code, _, err = run(capsys, db, "--create", "release", "add", str(evil))
    assert code == 2 and "'..'" in err
    (rel / "link").symlink_to("/etc/passwd")
    code, _, err = run(capsys, db, "--create", "release", "add", str(rel))
    assert code == 2 and "symbolic links" in err
    code, _, _ = run(capsys, db, "--readonly", "release", "add", str(tmp_path / "rel"))
    assert code == 2
