"""JSON API over the store for the browser and for scripts: ``/api/registry/...``.

Every route works on behalf of :func:`geo_antt.app.auth.current_user` (session + CSRF header, or an
API token); role and unit scope are enforced by the store itself, so for an officer of commune A
a model of commune B answers 404 exactly as an unknown id does (GET, PATCH, retire, audit by
model, import preview) and lists contain only their units; a create with an id in use anywhere
answers 409 with one message naming no unit. Errors are JSON:
``{"error": ..., "message": ...}`` with the status of the error (400, 403, 404, 409).

Routes
------
``GET  /api/registry/models?unit=CODE&bbox=minlon,minlat,maxlon,maxlat&status=active``
    GeoJSON FeatureCollection of the models (properties include ``version``).
``GET  /api/registry/models/<id>``
    One model as a GeoJSON Feature.
``POST /api/registry/models``
    Create (body: a Feature, or properties + ``geometry``); 201 with the stored Feature.
``PATCH /api/registry/models/<id>``
    ``{"version": N, "changes": {...}}`` (geometry as GeoJSON); 409 when N is stale.
``POST /api/registry/models/<id>/retire``
    ``{"version": N}``: status inactive (no deletion).
``GET  /api/registry/audit?model=ID&user=NAME&unit=CODE&since=T&until=T&limit=N&offset=N``
    Audit entries in the reader's scope, newest first (each with the model's current
    ``model_name``). ``since``/``until`` are ISO 8601 dates or times; without a UTC offset they
    are Vietnam time (UTC+7), and a date ``until`` includes that whole day
    (:func:`geo_antt._time.parse_local_time`).
``GET  /api/registry/coverage?level=hamlet&unit=CODE``
    Coverage figures per unit (cached; recomputed only where models changed).
``GET  /api/registry/excluded``
    Admin only: the stored models the map and coverage leave out because a parameter lies
    outside its kind's bounds (``layers/*.toml`` ``[bounds]``; rows written past the checks),
    one ``{"id", "field", "value", "reason"}`` per problem, to fix by a PATCH.
``POST /api/registry/import``
    Multipart ``file`` (+ ``unit``): starts a background job (:mod:`geo_antt.app.jobs`) and
    answers 202 with it and ``Location: /api/registry/jobs/<id>`` (429 when the account or the
    server has too many unfinished jobs). The job's result is the preview with a
    ``fingerprint``; with ``commit=1`` and that ``fingerprint`` the same import is applied, all
    or nothing (the job fails with status 409 if the preview would now differ). The file is
    parsed in a separate process, so request threads keep answering.
``GET  /api/registry/jobs/<id>``
    The job of the current account: ``state`` queued/running/done/failed, ``progress``
    (``phase``, ``text`` vi/en, ``rows``/``total`` where known), and ``result`` (done: the body
    the import answered when it ran in the request) or ``error`` (failed: ``status``,
    ``error``, ``message``, ``problems``). Another account's or an expired job: 404.

Wire it with :func:`init_registry` after :func:`geo_antt.app.auth.init_auth`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import shapely.geometry
from flask import Blueprint, Flask, current_app, jsonify, request, session, url_for
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename

from .._errors import ConflictError, GeoAnttError, PermissionDeniedError, ValidationError
from .._time import parse_local_time
from ..io import json_value
from ..schema import MODEL_COLUMNS, STATUSES
from ..store import Store
from ..store._files import read_models_upload
from ..store._upload import preview_upload
from . import context
from .auth import current_user, error_response
from .jobs import DEFAULT_JOB_LIMITS, Job, JobRegistry, parse_pool, warm_parse_pool

__all__ = ["DEFAULT_BODY_LIMITS", "bp", "init_registry", "model_feature"]

bp = Blueprint("registry", __name__, url_prefix="/api/registry")
_EXT = "geo_antt_registry"
_JOBS_EXT = "geo_antt_jobs"
# Request body limits in bytes (instance config overrides each): an import upload, the login
# form, and every other body (JSON). A body declaring more (Content-Length) is refused with 413
# before it is read; one without Content-Length is cut off at the limit while it is read (413).
DEFAULT_BODY_LIMITS = {
    "GEO_ANTT_MAX_UPLOAD_BYTES": 32 * 1024 * 1024,
    "GEO_ANTT_MAX_FORM_BYTES": 16 * 1024,
    "GEO_ANTT_MAX_JSON_BYTES": 2 * 1024 * 1024,
}
_TOO_LARGE = {
    "vi": "Nội dung gửi lên quá lớn: {size} byte, tối đa {limit} byte ({key}).",
    "en": "The request body is too large: {size} bytes, at most {limit} bytes ({key}).",
}
_UPLOAD_SUFFIXES = (".csv", ".xlsx", ".geojson", ".json", ".gpkg")


def _store() -> Store:
    return current_app.extensions[_EXT]


def model_feature(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A stored model record (``Store.get_model``) as a GeoJSON Feature (RFC 7946)."""
    geom = rec.get("geometry")
    props = {k: json_value(v) for k, v in rec.items() if k != "geometry"}
    return {
        "type": "Feature",
        "id": rec["id"],
        "geometry": None if geom is None else shapely.geometry.mapping(geom),
        "properties": props,
    }


def _frame_features(gdf: Any) -> dict[str, Any]:
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    geoms = gdf.geometry.to_numpy()
    feats = []
    for i, rec in enumerate(gdf[cols].to_dict("records")):
        g = geoms[i]
        feats.append(
            {
                "type": "Feature",
                "id": rec["id"],
                "geometry": None if g is None else shapely.geometry.mapping(g),
                "properties": {k: json_value(v) for k, v in rec.items()},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _body() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # json raises it (not a ValueError) for arrays nested ~1,000 deep
        raise GeoAnttError("the request body is JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise GeoAnttError("the request body must be a JSON object")
    return body


def _version(body: Mapping[str, Any]) -> int:
    v = body.get("version")
    if isinstance(v, bool) or not isinstance(v, int):
        raise GeoAnttError("'version' (the version your edit is based on, an integer) is required")
    return v


@bp.errorhandler(GeoAnttError)
def _error(exc: GeoAnttError) -> Any:
    return error_response(exc)


@bp.get("/models")
def list_models() -> Any:
    """The models in the user's scope as a FeatureCollection."""
    bbox = request.args.get("bbox")
    box = None
    if bbox:
        try:
            box = tuple(float(v) for v in bbox.split(","))
        except ValueError:
            raise GeoAnttError(f"bbox must be 'minlon,minlat,maxlon,maxlat', got {bbox!r}") from None
    status = request.args.getlist("status") or None
    unknown = [v for v in status or () if v not in STATUSES]
    if unknown:  # the documented enum: a typo must not look like "no models"
        raise GeoAnttError(f"status {unknown[0]!r} is not one of {', '.join(STATUSES)}")
    gdf = _store().models_frame(
        unit_code=request.args.get("unit") or None, bbox=box, user=current_user(), status=status
    )
    return jsonify(_frame_features(gdf))


@bp.get("/models/<model_id>")
def get_model(model_id: str) -> Any:
    """One model."""
    return jsonify(model_feature(_store().get_model(model_id, user=current_user())))


@bp.post("/models")
def create_model() -> Any:
    """Add a model (Feature or flat properties); 201."""
    body = _body()
    if body.get("type") == "Feature":
        record = dict(body.get("properties") or {})
        record["geometry"] = body.get("geometry")
        if body.get("id") is not None:
            record.setdefault("id", body["id"])
    else:
        record = dict(body)
    record = {k: v for k, v in record.items() if k in MODEL_COLUMNS or k == "geometry"}
    rec = _store().create_model(record, user=current_user())
    _map_follows()
    return jsonify(model_feature(rec)), 201


@bp.patch("/models/<model_id>")
def update_model(model_id: str) -> Any:
    """Change fields of a model; 409 when the version is stale."""
    body = _body()
    changes = body.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise GeoAnttError("'changes' must be an object of fields to change")
    rec = _store().update_model(model_id, changes, expected_version=_version(body), user=current_user())
    _map_follows()
    return jsonify(model_feature(rec))


@bp.post("/models/<model_id>/retire")
def retire_model(model_id: str) -> Any:
    """Retire a model (status inactive)."""
    rec = _store().retire_model(model_id, expected_version=_version(_body()), user=current_user())
    _map_follows()
    return jsonify(model_feature(rec))


def _catalog_update() -> Callable[[], None] | None:
    """What starts the map catalog's update (None for the registry API alone, without maps)."""
    ext = current_app.extensions.get("geo_antt")
    return None if ext is None else ext.live.request_update


def _map_follows() -> None:
    """After a write: answer once the map catalog shows it (read your writes: the page that
    saved reloads its layers next), waiting at most ``CATALOG_WRITE_WAIT_S`` seconds (default
    10; an edit's incremental update takes ~0.1 s); after that the save answers anyway and the
    map follows a moment later.
    """
    ext = current_app.extensions.get("geo_antt")  # None: the registry API alone, without maps
    if ext is None:
        return
    ext.live.wait_until_current(
        timeout_s=float(current_app.config.get("CATALOG_WRITE_WAIT_S", context.CATALOG_WRITE_WAIT_S))
    )


@bp.get("/audit")
def audit() -> Any:
    """Audit entries (scoped, filtered), newest first."""
    try:
        limit = int(request.args.get("limit", 100))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise GeoAnttError("limit and offset must be integers") from None
    since = request.args.get("since") or None
    until = request.args.get("until") or None
    df = _store().audit_frame(
        model_id=request.args.get("model") or None,
        limit=min(limit, 10_000),
        offset=offset,
        user=current_user(),
        user_name=request.args.get("user") or None,
        unit_code=request.args.get("unit") or None,
        since=parse_local_time(since, what="since") if since else None,
        until=parse_local_time(until, end=True, what="until") if until else None,
    )
    return jsonify([{k: json_value(v) for k, v in r.items()} for r in df.to_dict("records")])


@bp.get("/coverage")
def coverage() -> Any:
    """Coverage figures per unit of a level (scoped)."""
    level = request.args.get("level", "hamlet")
    if level not in ("hamlet", "commune"):
        raise GeoAnttError(f"level={level[:40]!r}: use hamlet or commune")
    frame = _store().coverage_frame(level=level, unit_code=request.args.get("unit") or None, user=current_user())
    rows = [
        {"code": code, **{k: json_value(v) for k, v in r.items()}}
        for code, r in zip(frame.index, frame.to_dict("records"))
    ]
    return jsonify({"level": level, "units": rows})


@bp.get("/excluded")
def excluded() -> Any:
    """Models left out of the map and coverage for out-of-bounds parameters (admin only)."""
    user = current_user()
    if user is None or not user.is_admin:
        raise PermissionDeniedError("only an admin sees the models left out of coverage")
    from .context import get_catalog

    return jsonify({"models": list(get_catalog().excluded_models)})


def _import_work(
    store: Store,
    user: Any,
    *,
    tmp: tempfile.TemporaryDirectory[str],
    path: Path,
    filename: str,
    unit: str | None,
    commit: bool,
    fingerprint: str | None,
    skip: bool,
    processes: int,
    on_commit: Callable[[], None] | None = None,
) -> Any:
    """The job of one ``POST /import``: parse (in the parse process), preview, and commit when
    asked; returns the body the synchronous endpoint answered. ``on_commit`` is called after a
    commit (the live catalog starts its update at once, not on the next request).
    """

    def work(job: Job) -> Any:
        store_args = store.reopen_args() if processes > 0 else None
        preview: Any
        try:
            job.progress("reading")
            if store_args is not None:
                # read and check in the parse process: the server's threads keep the GIL
                out, preview, file_problems = (
                    parse_pool()
                    .submit(
                        preview_upload,
                        str(path),
                        filename,
                        store_args=store_args,
                        user=user,
                        unit_code=unit,
                        keep_preview=commit,
                    )
                    .result()
                )
                c = out["counts"]
                n_rows = int(c["new"] + c["update"] + c["unchanged"] + c["rejected"])
                job.progress("checking", n_rows, n_rows)
            else:
                if processes > 0:
                    gdf, file_problems = parse_pool().submit(read_models_upload, str(path), filename).result()
                else:
                    gdf, file_problems = read_models_upload(str(path), filename)
                n_rows = len(gdf) + len({p.row for p in file_problems if p.severity == "error" and p.row is not None})
                job.progress("checking", n_rows, n_rows)
                preview = store.preview_import(gdf, user=user, unit_code=unit, source=filename, problems=file_problems)
                del gdf
                out = preview.to_dict()
                out["file_problems"] = [p.to_dict() for p in file_problems]
                out["fingerprint"] = preview.fingerprint()
        finally:
            tmp.cleanup()
        if not commit:
            return out
        if fingerprint != out["fingerprint"]:
            raise ConflictError(
                "the import differs from the preview you saw (the file or the registry changed): preview again"
            )
        errors = [p for p in file_problems if p.severity == "error"]
        if errors and not skip:
            raise ValidationError(
                errors, message=f"{len(errors)} row(s) of {filename} could not be read; nothing imported"
            )
        total = len(preview.new) + len(preview.updates)
        job.progress("writing", 0, total)
        counts = store.commit_import(
            preview, user=user, skip_rejected=skip, progress=lambda done, n: job.progress("writing", done, n)
        )
        if on_commit is not None:
            on_commit()
        return {"committed": True, "counts": counts, "file": secure_filename(filename) or "upload"}

    return work


def _parse_processes() -> int:
    """Whether the current app parses uploads in the parse process (config
    ``GEO_ANTT_IMPORT_PROCESSES``: 1, the default; 0 parses on the job thread).
    """
    return int(current_app.config.get("GEO_ANTT_IMPORT_PROCESSES", 1))


@bp.post("/import")
def import_file() -> Any:
    """Start an import job: the preview (default) or the commit (``commit=1`` + ``fingerprint``)
    of an uploaded models file; 202 with the job and ``Location: /api/registry/jobs/<id>``.
    """
    user = current_user()
    if user is None or user.role not in ("admin", "officer"):
        raise PermissionDeniedError(
            f"importing needs the role admin or officer (account {getattr(user, 'name', None)!r} "
            f"is {getattr(user, 'role', None)})"
        )
    up = request.files.get("file")
    if up is None or not up.filename:
        raise GeoAnttError("no file uploaded (form field 'file')")
    suffix = Path(up.filename).suffix.lower()
    if suffix not in _UPLOAD_SUFFIXES:
        raise GeoAnttError(f"{up.filename}: use one of {', '.join(_UPLOAD_SUFFIXES)}")
    unit = request.form.get("unit") or None
    commit = request.form.get("commit") in ("1", "true", "yes")
    tmp = tempfile.TemporaryDirectory(prefix="geo-antt-import-")
    try:
        path = Path(tmp.name) / f"upload{suffix}"
        up.save(path)
        work = _import_work(
            _store(),
            user,
            tmp=tmp,
            path=path,
            filename=up.filename,
            unit=unit,
            commit=commit,
            fingerprint=request.form.get("fingerprint"),
            skip=request.form.get("skip_rejected") in ("1", "true", "yes"),
            processes=_parse_processes(),
            on_commit=_catalog_update(),
        )
        lang = request.args.get("lang") or session.get("lang") or "vi"
        job = _jobs().submit(
            user.name, "commit" if commit else "preview", work, lang=lang, info={"file": up.filename, "unit": unit}
        )
    except BaseException:
        tmp.cleanup()
        raise
    location = url_for("registry.import_job", job_id=job.id)
    resp = jsonify(job.to_dict())
    resp.status_code = 202
    resp.headers["Location"] = location
    return resp


@bp.get("/jobs/<job_id>")
def import_job(job_id: str) -> Any:
    """The state of an import job of the current account (404 for others' and unknown ids)."""
    user = current_user()
    job = _jobs().get(user.name if user is not None else "", job_id)
    return current_app.response_class(job.to_json(), mimetype="application/json")


def _jobs() -> JobRegistry:
    return current_app.extensions[_JOBS_EXT]


def _body_limit_key() -> str:
    if request.endpoint == "registry.import_file":
        return "GEO_ANTT_MAX_UPLOAD_BYTES"
    if request.endpoint == "auth.login":
        return "GEO_ANTT_MAX_FORM_BYTES"
    return "GEO_ANTT_MAX_JSON_BYTES"


def _limit_body() -> None:
    """Before every request, ahead of the login guard: the body limit of the endpoint
    (``request.max_content_length``), and 413 at once when Content-Length exceeds it.
    """
    key = _body_limit_key()
    limit = int(current_app.config[key])
    request.max_content_length = limit
    size = request.content_length
    if size is not None and size > limit:
        lang = request.args.get("lang") or session.get("lang") or "vi"
        text = _TOO_LARGE["en" if lang == "en" else "vi"]
        raise RequestEntityTooLarge(text.format(size=size, limit=limit, key=key))


def init_registry(app: Flask, store: Store) -> None:
    """Register the ``/api/registry`` blueprint on ``app`` (after ``auth.init_auth``).

    Also limits every request body of the app, before the login guard reads anything: config
    ``GEO_ANTT_MAX_UPLOAD_BYTES`` (import uploads, default 32 MB), ``GEO_ANTT_MAX_FORM_BYTES``
    (the login form, default 16 KB), ``GEO_ANTT_MAX_JSON_BYTES`` (every other body, default
    2 MB); see :data:`DEFAULT_BODY_LIMITS`.
    """
    app.extensions[_EXT] = store
    for key, value in {**DEFAULT_BODY_LIMITS, **DEFAULT_JOB_LIMITS}.items():
        app.config.setdefault(key, value)
    cfg = app.config
    if int(cfg.get("GEO_ANTT_IMPORT_PROCESSES", 1)) > 0:
        warm_parse_pool()  # the parse process starts with the app, not with its first upload
    app.extensions[_JOBS_EXT] = JobRegistry(
        per_account=cfg["GEO_ANTT_JOBS_PER_ACCOUNT"],
        total=cfg["GEO_ANTT_JOBS_TOTAL"],
        keep_s=cfg["GEO_ANTT_JOBS_KEEP_S"],
        threads=cfg["GEO_ANTT_JOB_THREADS"],
    )
    # first of the before-request functions: the login guard (geo_antt.app.auth) must not be the
    # first to touch an unbounded body
    app.before_request_funcs.setdefault(None, []).insert(0, _limit_body)
    app.register_blueprint(bp)
