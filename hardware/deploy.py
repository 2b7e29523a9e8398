"""Deploy methods of the agent: receive a release file by file, switch under a dead-man
watchdog, commit, report. Imported on the first deploy request (``agent.DEPLOY_METHODS``).

    app_have   {name, hashes}                      -> which contents this Pi already has
    app_stage  {name, version, manifest, files}    -> start receiving; what is still missing
    app_put    {name, version, sha256, offset, data(base64), last}
    app_finish {name, version}                     -> verified, renamed into releases/
    app_switch {name, version, confirm_s}          -> watchdog armed, switched, restarted, checked
    app_commit {name, version, token}              -> watchdog disarmed, old releases pruned
    app_status {name}                              -> current, kept, pending, rollback reports
    app_ack    {name, ids}                         -> reports the laptop has recorded

Everything a version receives goes to ``staging/`` first and is renamed into ``releases/``
only when every file is there with its sha256: a full disk mid-transfer leaves the running
release as it was, and the error says so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shutil
import time

from . import apps, protocol
from .protocol import ProtocolError, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

MAX_FILES = 20000
SHA_LEN = 64


def _app(req: Request) -> apps.App:
    try:
        return apps.App(req.params.get("name"))  # type: ignore[arg-type]
    except ProtocolError as e:
        raise ProtocolError(e.code, e.message, req.id) from None


def _version(req: Request) -> str:
    try:
        return apps.check_name(req.params.get("version"), "version")
    except ProtocolError as e:
        raise ProtocolError(e.code, e.message, req.id) from None


def _sha(value: object, req: Request) -> str:
    if not isinstance(value, str) or len(value) != SHA_LEN or value.strip("0123456789abcdef"):
        raise ProtocolError(protocol.BAD_REQUEST, "bad sha256 %r" % str(value)[:80], req.id)
    return value


def _rel_path(value: object, req: Request) -> str:
    if not isinstance(value, str) or not value or value.startswith("/") or "\x00" in value:
        raise ProtocolError(protocol.BAD_REQUEST, "bad file path %r" % str(value)[:80], req.id)
    parts = value.split("/")
    if any(p in ("", ".", "..") for p in parts) or value == apps.META:
        raise ProtocolError(protocol.BAD_REQUEST, "bad file path %r" % value[:80], req.id)
    return value


def _disk_error(app: apps.App, version: str, e: OSError, req: Request) -> ProtocolError:
    shutil.rmtree(_staging(app, version), ignore_errors=True)
    running = app.current()
    return ProtocolError(
        protocol.FAILED,
        "could not write %s %s on the Pi (%s): nothing was switched%s"
        % (
            app.name,
            version,
            e.strerror or e,
            "; %s still runs" % running if running else "",
        ),
        req.id,
    )


def _staging(app: apps.App, version: str) -> str:
    return app.sub("staging", version)


def _hash_file(p: str) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- receiving ----------------------------------------------------------------------------------


def app_have(req: Request) -> dict[str, Any]:
    app = _app(req)
    hashes = req.params.get("hashes") or []
    if not isinstance(hashes, list) or len(hashes) > MAX_FILES:
        raise ProtocolError(protocol.BAD_REQUEST, "'hashes' must be a list", req.id)
    have = app.hashes()
    return {"have": [h for h in hashes if h in have]}


def app_stage(req: Request) -> dict[str, Any]:
    app, version = _app(req), _version(req)
    manifest = req.params.get("manifest")
    files = req.params.get("files")
    if not isinstance(manifest, dict) or not isinstance(files, list) or len(files) > MAX_FILES:
        raise ProtocolError(protocol.BAD_REQUEST, "'manifest' and 'files' are needed", req.id)
    entries = []
    for f in files:
        if not isinstance(f, dict):
            raise ProtocolError(protocol.BAD_REQUEST, "each file is an object", req.id)
        mode = f.get("mode", 0o644)
        if not isinstance(mode, int) or not 0 <= mode <= 0o777:
            raise ProtocolError(protocol.BAD_REQUEST, "bad mode", req.id)
        entries.append(
            {
                "path": _rel_path(f.get("path"), req),
                "sha256": _sha(f.get("sha256"), req),
                "mode": mode,
                "size": f.get("size"),
            }
        )
    if app.meta(version) is not None:
        return {"ready": True, "missing": [], "reused": len(entries)}
    stage = _staging(app, version)
    try:
        shutil.rmtree(stage, ignore_errors=True)
        os.makedirs(os.path.join(stage, ".blobs"))
        have = app.hashes()
        missing: list[str] = []
        reused = 0
        for e in entries:
            sha = str(e["sha256"])
            src = have.get(sha)
            if src is not None and _place_copy(src, stage, e):
                reused += 1
            elif sha not in missing:
                missing.append(sha)
        app.write_json(
            os.path.join("staging", version + ".json"),
            {"manifest": manifest, "files": entries, "started": time.time()},
        )
    except OSError as e:
        raise _disk_error(app, version, e, req) from None
    return {"ready": False, "missing": missing, "reused": reused}


def _place_copy(src: str, stage: str, entry: dict[str, Any]) -> bool:
    """Copy a file this Pi has into the staging tree, if it still has the content wanted."""
    dest = os.path.join(stage, entry["path"])
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    try:
        shutil.copyfile(src, dest)
    except FileNotFoundError:
        return False
    if _hash_file(dest) != entry["sha256"]:  # edited on the Pi by hand since: send it again
        os.remove(dest)
        return False
    os.chmod(dest, entry["mode"])
    return True


def _stage_plan(app: apps.App, version: str, req: Request) -> dict[str, Any]:
    plan = app.read_json(os.path.join("staging", version + ".json"))
    if not isinstance(plan, dict) or not os.path.isdir(_staging(app, version)):
        raise ProtocolError(
            protocol.BAD_REQUEST,
            "%s %s is not being received (app_stage first)" % (app.name, version),
            req.id,
        )
    return plan


def app_put(req: Request) -> dict[str, Any]:
    app, version = _app(req), _version(req)
    sha = _sha(req.params.get("sha256"), req)
    offset = req.params.get("offset", 0)
    data = req.params.get("data", "")
    if not isinstance(offset, int) or offset < 0 or not isinstance(data, str):
        raise ProtocolError(protocol.BAD_REQUEST, "'offset' and 'data' (base64) are needed", req.id)
    plan = _stage_plan(app, version, req)
    wanted = [e for e in plan["files"] if e["sha256"] == sha]
    if not wanted:
        raise ProtocolError(
            protocol.BAD_REQUEST, "no file of %s has sha256 %s" % (version, sha[:12]), req.id
        )
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ProtocolError(protocol.BAD_REQUEST, "'data' is not base64", req.id) from None
    blob = os.path.join(_staging(app, version), ".blobs", sha)
    try:
        have = os.path.getsize(blob) if os.path.exists(blob) else 0
        if offset != have:
            raise ProtocolError(
                protocol.BAD_REQUEST,
                "offset %d, but %d bytes of %s are here" % (offset, have, sha[:12]),
                req.id,
            )
        with open(blob, "ab") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        size = have + len(raw)
        if not req.params.get("last"):
            return {"received": size, "done": False}
        got = _hash_file(blob)
        if got != sha:
            os.remove(blob)
            raise ProtocolError(
                protocol.FAILED,
                "content of %s arrived damaged (sha256 %s): send it again" % (sha[:12], got[:12]),
                req.id,
            )
        for i, e in enumerate(wanted):
            dest = os.path.join(_staging(app, version), e["path"])
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if i == len(wanted) - 1:
                os.replace(blob, dest)
            else:
                shutil.copyfile(blob, dest)
            os.chmod(dest, e["mode"])
    except OSError as e:
        raise _disk_error(app, version, e, req) from None
    return {"received": size, "done": True}


def app_finish(req: Request) -> dict[str, Any]:
    app, version = _app(req), _version(req)
    if app.meta(version) is not None:
        return {"version": version, "ready": True}
    plan = _stage_plan(app, version, req)
    stage = _staging(app, version)
    missing = [
        e["path"] for e in plan["files"] if not os.path.isfile(os.path.join(stage, e["path"]))
    ]
    if missing:
        raise ProtocolError(
            protocol.FAILED,
            "%d file(s) of %s not received yet, e.g. %s" % (len(missing), version, missing[0]),
            req.id,
        )
    try:
        shutil.rmtree(os.path.join(stage, ".blobs"), ignore_errors=True)
        meta = {"manifest": plan["manifest"], "files": plan["files"], "finished": time.time()}
        with open(os.path.join(stage, apps.META), "w") as f:
            f.write(protocol.dumps(meta))
            f.flush()
            os.fsync(f.fileno())
        os.makedirs(app.sub("releases"), exist_ok=True)
        final = app.release_dir(version)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(stage, final)
        app.remove(os.path.join("staging", version + ".json"))
    except OSError as e:
        raise _disk_error(app, version, e, req) from None
    return {"version": version, "ready": True, "files": len(plan["files"])}


# ---- switching -----------------------------------------------------------------------------------


def app_switch(req: Request) -> dict[str, Any]:
    """Arm the watchdog, switch ``current``, restart, check health. A failing check rolls back
    at once; a passing one waits for ``app_commit`` (else the watchdog rolls back)."""
    app, version = _app(req), _version(req)
    confirm_s = req.params.get("confirm_s", 30)
    if (
        isinstance(confirm_s, bool)
        or not isinstance(confirm_s, (int, float))
        or not 0 < confirm_s <= 3600
    ):
        raise ProtocolError(protocol.BAD_REQUEST, "'confirm_s' must be in (0, 3600]", req.id)
    meta = app.meta(version)
    if meta is None:
        raise ProtocolError(
            protocol.FAILED, "%s %s is not on this Pi (send it first)" % (app.name, version), req.id
        )
    manifest = meta.get("manifest") or {}
    from . import watchdog

    watchdog.settle_overdue(app)
    with app.lock():
        previous = app.current()
        if app.read_json("pending.json") is not None:
            raise ProtocolError(
                protocol.FAILED,
                "%s: another switch waits for its commit; try again after it" % app.name,
                req.id,
            )
        if previous == version:
            running = apps.service_running(app)
            return {"switched": False, "already": True, "version": version, "running": running}
        hooks = manifest.get("hooks") or {}
        if hooks.get("pre"):
            code, out = apps.run_hook(hooks["pre"], app.release_dir(version))
            if code != 0:
                raise ProtocolError(
                    protocol.FAILED,
                    "pre hook exited %d, nothing switched: %s" % (code, out.strip()[-400:]),
                    req.id,
                )
        deadline_s = float((manifest.get("health") or {}).get("deadline_s") or 30.0)
        window = deadline_s + float(confirm_s)
        token = os.urandom(12).hex()
        pending = {
            "token": token,
            "version": version,
            "previous": previous,
            "armed": time.time(),
            "deadline": time.time() + window,
            "window_s": window,
        }
        app.write_json("pending.json", pending)
        from . import watchdog

        watchdog.spawn(app.name, token)  # armed before anything changes
        old_manifest = (app.meta(previous) or {}).get("manifest") if previous else None
        how = "systemd" if apps.uses_systemd(manifest) else "process"
        try:
            if how == "process" and previous is not None:
                apps.stop_service(app, old_manifest, previous)
            app.point_current(version)
            apps.start_service(app, version, manifest)
            ok, said = apps.health_check(app, version, manifest)
            if ok and hooks.get("post"):
                code, out = apps.run_hook(hooks["post"], app.release_dir(version))
                ok, said = code == 0, "post hook exited %d: %s" % (code, out.strip()[-300:])
        except ProtocolError as e:
            ok, said = False, e.message
        except Exception as e:
            ok, said = False, "%s: %s" % (type(e).__name__, e)
        if ok:
            return {
                "switched": True,
                "healthy": True,
                "version": version,
                "previous": previous,
                "token": token,
                "service": how,
                "health": said[: apps.OUTPUT_LIMIT],
                "commit_by": pending["deadline"],
            }
        report = apps.roll_back(app, pending, "health check failed: " + said, "agent")
        return {
            "switched": True,
            "healthy": False,
            "version": version,
            "previous": previous,
            "service": how,
            "health": said[: apps.OUTPUT_LIMIT],
            "rolled_back": report,
        }


def app_commit(req: Request) -> dict[str, Any]:
    app, version = _app(req), _version(req)
    token = req.params.get("token")
    with app.lock():
        pending = app.read_json("pending.json")
        if not isinstance(pending, dict) or pending.get("token") != token:
            late = [r for r in app.reports() if r.get("from") == version]
            reason = late[-1].get("reason") if late else "no switch to commit"
            raise ProtocolError(
                protocol.FAILED, "too late: %s was rolled back (%s)" % (version, reason), req.id
            )
        app.remove("pending.json")  # the watchdog sees its token gone and exits
        pruned = app.prune()
    return {"committed": True, "version": version, "pruned": pruned, "kept": app.versions()}


def app_status(req: Request) -> dict[str, Any]:
    app = _app(req)
    from . import watchdog

    watchdog.settle_overdue(app)
    pending = app.read_json("pending.json")
    return {
        "name": app.name,
        "current": app.current(),
        "versions": app.versions(),
        "pending": (
            {k: pending.get(k) for k in ("version", "previous", "deadline")}
            if isinstance(pending, dict)
            else None
        ),
        "reports": app.reports(),
        "systemd": apps.has_systemd(),
        "running": apps.service_running(app),
    }


def app_ack(req: Request) -> dict[str, Any]:
    app = _app(req)
    ids = req.params.get("ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ProtocolError(protocol.BAD_REQUEST, "'ids' must be a list of strings", req.id)
    with app.lock():
        return {"acked": app.ack(ids)}


def methods() -> dict[str, Callable[[Request], Optional[dict[str, Any]]]]:
    return {
        "app_have": app_have,
        "app_stage": app_stage,
        "app_put": app_put,
        "app_finish": app_finish,
        "app_switch": app_switch,
        "app_commit": app_commit,
        "app_status": app_status,
        "app_ack": app_ack,
    }
