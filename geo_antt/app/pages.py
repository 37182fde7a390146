"""Two pages of the registry: importing a commune's spreadsheet, and the audit log.

``GET /import`` (admin and officer; a viewer gets a 403 page)
    Choose a unit of the account's area (default: its own commune) and a CSV, XLSX or GeoJSON
    file; "Xem trước" sends it to ``POST /api/registry/import`` (:mod:`geo_antt.app.registry`) and
    ``web/static/js/import.js`` shows the preview: counts (new, updated, unchanged, rejected,
    outside the area), every rejected row with its spreadsheet row number (header = row 1),
    field, value and reason, the old -> new values of updated models, the points outside the
    area. "Ghi vào sổ" is enabled only when nothing is rejected and something would change; it
    sends the file again with the preview's fingerprint, and the API applies exactly that
    preview, all or nothing (409 when the file or the registry changed meanwhile). Re-importing
    the same file shows "nothing to change". Both run as background jobs on the server (202 +
    ``Location``); the page polls ``GET /api/registry/jobs/<id>`` and shows the job's phase and
    rows (Vietnamese or English) until the result comes.

``GET /audit``
    Who changed what, when: newest first, the time in Vietnam time (UTC+7), the account, the
    action, the model (id and current name), the changed fields (old -> new). Filters: model
    id, account name, unit (with the units below it), date range (Vietnam dates, both days
    included); 50 entries a page. Every role may read it, within its scope: the store returns
    only entries of units in the account's area (admins: all, including account changes). A
    viewer may read the audit of its area because it may read the same models on the map; the
    log holds no secret beyond them (no passwords, no tokens).

Text is Vietnamese by default, English with ``?lang=en`` (as the map page); user text goes
through Jinja autoescaping on the server and ``textContent`` in the script. Register with
``app.register_blueprint(pages.bp)`` after :func:`geo_antt.app.registry.init_registry`.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request, url_for

from .._errors import GeoAnttError, PermissionDeniedError
from .._time import VIETNAM_TZ, parse_local_time
from ..i18n import N_, strings_table
from ..numbers import format_number
from ..schema import UNIT_LEVELS
from ..text import fold, nfc
from .auth import current_user, login_required, require_role
from .context import get_catalog, get_store
from .context import request_lang as _lang
from .jobs import warm_parse_pool
from .maps import STRINGS as MAP_STRINGS

__all__ = ["bp", "STRINGS", "AUDIT_PAGE_SIZE", "unit_choices"]

bp = Blueprint("pages", __name__)
AUDIT_PAGE_SIZE = 50
_MAX_UNIT_CHOICES = 3000  # beyond this (an admin of the whole country) hamlets are left out

STRINGS: dict[str, dict[str, str]] = strings_table(
    "pages",
    {
        "import_title": N_("pages", "Import models from a spreadsheet"),
        "import_help": N_(
            "pages",
            "Choose the unit and a CSV, XLSX or GeoJSON file (the header is row 1). Preview it first; the registry changes only on “Write to the registry”, and only when no row is rejected.",
        ),
        "unit": N_("pages", "Unit"),
        "file": N_("pages", "Data file"),
        "preview": N_("pages", "Preview"),
        "commit": N_("pages", "Write to the registry"),
        "working": N_("pages", "Working…"),
        "progress_rows": N_("pages", "{rows} of {total} rows"),
        "choose_file": N_("pages", "Choose a file."),
        "counts": N_("pages", "Preview results"),
        "n_new": N_("pages", "New"),
        "n_update": N_("pages", "Updated"),
        "n_unchanged": N_("pages", "Unchanged"),
        "n_rejected": N_("pages", "Rejected"),
        "n_outside": N_("pages", "Outside the area"),
        "rejected": N_("pages", "Rejected rows"),
        "updates": N_("pages", "Updated models"),
        "new": N_("pages", "New models"),
        "outside": N_("pages", "Points outside the area"),
        "warnings": N_("pages", "Notes"),
        "row": N_("pages", "Row"),
        "id": N_("pages", "Id"),
        "field": N_("pages", "Field"),
        "value": N_("pages", "Value"),
        "reason": N_("pages", "Reason"),
        "old_new": N_("pages", "Old → new"),
        "kind": N_("pages", "Kind"),
        "name": N_("pages", "Name"),
        "unit_code": N_("pages", "Unit"),
        "lon": N_("pages", "Longitude"),
        "lat": N_("pages", "Latitude"),
        "nothing": N_("pages", "Nothing to change: the registry already matches this file."),
        "fix_first": N_("pages", "Some rows are rejected: fix the file and preview again. Nothing was written."),
        "ready": N_("pages", "Ready to write to the registry."),
        "committed": N_("pages", "Written: {new} new, {update} updated, {unchanged} unchanged."),
        "committed_nothing": N_("pages", "Nothing to change: the registry already matches this file."),
        "conflict": N_("pages", "The file or the registry changed since the preview: preview again."),
        "error": N_("pages", "Error"),
        "see_audit": N_("pages", "See the audit log"),
        "more": N_("pages", "… and {n} more rows"),
        "audit_title": N_("pages", "Audit log of changes"),
        "audit_help": N_("pages", "Who changed what, when. Vietnam time (UTC+7), newest first."),
        "time": N_("pages", "Time (UTC+7)"),
        "user": N_("pages", "Account"),
        "action": N_("pages", "Action"),
        "model": N_("pages", "Model"),
        "changes": N_("pages", "Changes"),
        "model_id": N_("pages", "Model id"),
        "date_from": N_("pages", "From"),
        "date_to": N_("pages", "To"),
        "all_units": N_("pages", "— all —"),
        "filter": N_("pages", "Filter"),
        "reset": N_("pages", "Clear"),
        "no_entries": N_("pages", "No entries."),
        "newer": N_("pages", "← Newer"),
        "older": N_("pages", "Older →"),
        "page": N_("pages", "Page"),
        "map": N_("pages", "Map"),
        "import": N_("pages", "Import"),
        "audit": N_("pages", "Audit log"),
        "forbidden_title": N_("pages", "Not allowed"),
        "forbidden": N_("pages", "Your account may not use this page."),
        "act_create": N_("pages", "Created"),
        "act_update": N_("pages", "Edited"),
        "act_retire": N_("pages", "Retired"),
        "act_import": N_("pages", "Imported"),
        "act_import_batch": N_("pages", "Import (summary)"),
        "act_restore": N_("pages", "Backup restored"),
        "act_units": N_("pages", "Boundaries loaded"),
        "act_user_add": N_("pages", "Account added"),
        "act_user_password": N_("pages", "Password changed"),
        "act_user_active": N_("pages", "Account enabled/disabled"),
        "act_user_access": N_("pages", "Account access changed"),
        "act_token_create": N_("pages", "API token created"),
        "act_token_revoke": N_("pages", "API tokens revoked"),
        "detail_source": N_("pages", "File"),
        "detail_counts": N_("pages", "Rows"),
        "detail_version": N_("pages", "Version"),
        "fields_n": N_("pages", "New model – {n} fields"),
    },
)
# Vietnamese for the reasons the reader (geo_antt.io.models) and the store give for a rejected
# row: (regular expression of the whole English reason, replacement with $1... groups; the same
# syntax in Python's re, after $n -> \n, and in JavaScript). The import page shows the
# translation and keeps the English reason as a tooltip; an unknown reason is shown as it is.
_FIELD_KEYS = (
    "name",
    "status",
    "kind",
    "unit_code",
    "direction_deg",
    "fov_deg",
    "range_m",
    "radius_m",
    "resolution_px",
    "lens",
    "owner",
    "data_sharing",
    "host",
    "field",
    "start_date",
    "camera_type",
)


def _field_labels(lang: str) -> dict[str, str]:
    m = MAP_STRINGS[lang]
    labels = {k: m[k] for k in _FIELD_KEYS if k in m}
    labels.update({"geometry": STRINGS[lang]["lon"] + " / " + STRINGS[lang]["lat"], "id": STRINGS[lang]["id"]})
    return labels


def unit_choices(*, lang: str = "vi") -> list[dict[str, str]]:
    """The units the current user may import into or filter by: its area (admins: every unit),
    ordered by level then name; hamlets are left out when there are more than 3000 units. Read
    from the store without boundaries (never waits for the map's catalog to be rebuilt).

    Returns
    -------
    list of dict
        ``{"code", "name", "level", "label"}`` (label: "Xã Hương Mỹ (28903)").
    """
    units = get_store().unit_names(user=current_user())
    if len(units) > _MAX_UNIT_CHOICES:
        units = units[units["level"] != "hamlet"]
    order = {lvl: i for i, lvl in enumerate(UNIT_LEVELS)}
    level_names = MAP_STRINGS[lang]
    rows = sorted(
        (order.get(str(lv), 9), fold(str(n)), nfc(str(n)), str(c), str(lv))
        for c, n, lv in zip(units.index, units["name"], units["level"])
    )
    return [
        {
            "code": c,
            "name": n,
            "level": lv,
            "label": f"{n} ({c})" + (f" – {level_names[lv]}" if lv in level_names else ""),
        }
        for _, _, n, c, lv in rows
    ]


def _nav(lang: str, t: Mapping[str, str]) -> list[dict[str, str]]:
    user = current_user()
    q: dict[str, Any] = {"lang": "en"} if lang == "en" else {}
    items = [{"id": "nav-map", "href": url_for("views.map_page", **q), "text": t["map"]}]
    if user is not None and user.can_edit:
        items.append({"id": "nav-import", "href": url_for("pages.import_page", **q), "text": t["import"]})
    items.append({"id": "nav-audit", "href": url_for("pages.audit_page", **q), "text": t["audit"]})
    return items


def _page(
    template: str, *, lang: str, title: str, endpoint: str, args: Mapping[str, Any] | None = None, **ctx: Any
) -> str:
    t = STRINGS[lang]
    other = "en" if lang == "vi" else "vi"
    other_args = {k: v for k, v in (args or {}).items() if v not in (None, "") and k != "lang"}
    other_args["lang"] = other  # explicit both ways: the language chosen sticks (a cookie)
    return render_template(
        template,
        lang=lang,
        t=t,
        m=MAP_STRINGS[lang],
        title=title,
        nav=_nav(lang, t),
        user=current_user(),
        other_lang_url=url_for(endpoint, **other_args),
        current_nav={"pages.import_page": "nav-import", "pages.audit_page": "nav-audit"}.get(endpoint),
        **ctx,
    )


@bp.errorhandler(PermissionDeniedError)
def _forbidden(exc: PermissionDeniedError) -> Any:
    lang = _lang()
    t = STRINGS[lang]
    body = _page(
        "pages/forbidden.html",
        lang=lang,
        title=t["forbidden_title"],
        endpoint=request.endpoint or "pages.audit_page",
        message=exc.message,
    )
    return body, 403


@bp.errorhandler(GeoAnttError)
def _bad_request(exc: GeoAnttError) -> Any:
    lang = _lang()
    t = STRINGS[lang]
    body = _page(
        "pages/forbidden.html",
        lang=lang,
        title=t["error"],
        endpoint=request.endpoint or "pages.audit_page",
        message=exc.message,
    )
    return body, exc.http_status


@bp.get("/import")
@require_role("admin", "officer")
def import_page() -> Any:
    """The import page (admin, officer)."""
    if int(current_app.config.get("GEO_ANTT_IMPORT_PROCESSES", 1)) > 0:
        warm_parse_pool()
    lang = _lang()
    t = STRINGS[lang]
    user = current_user()
    choices = unit_choices(lang=lang)
    codes = {c["code"] for c in choices}
    default = next((c for c in (user.unit_codes if user else ()) if c in codes), None)
    if default is None:
        default = next((c["code"] for c in choices if c["level"] == "commune"), choices[0]["code"] if choices else "")
    config = {
        "lang": lang,
        "strings": t,
        "fields": _field_labels(lang),
        "urls": {
            "import": url_for("registry.import_file"),
            "jobs": url_for("registry.import_job", job_id="x")[:-1],
            "audit": url_for("pages.audit_page", lang="en" if lang == "en" else None),
        },
        "maxRows": 200,
        "kinds": {k: nfc(s.title(lang)) for k, s in current_app.extensions["geo_antt"].specs.items()},
    }
    return _page(
        "pages/import.html",
        lang=lang,
        title=t["import_title"],
        endpoint="pages.import_page",
        units=choices,
        default_unit=default,
        config=config,
    )


def _to_local(t: Any) -> str:
    if t is None or t != t:
        return ""
    return t.to_pydatetime().astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M:%S")


def _value_text(v: Any, lang: str = "vi") -> str:
    """A stored value as the audit page writes it (numbers as ``import.js`` writes them)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "✓" if v else "✗"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value_text(x, lang) for x in v) or "—"
    if isinstance(v, dict):
        if v.get("type") == "Point" and isinstance(v.get("coordinates"), list):
            x, y = v["coordinates"][:2]
            return f"{format_number(y, lang=lang, digits=6)}, {format_number(x, lang=lang, digits=6)}"
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (int, float)):
        return format_number(v, lang=lang, digits=6)
    return str(v)


def _changes(
    action: str, old: Any, new: Any, detail: Any, labels: Mapping[str, str], t: Mapping[str, str], lang: str = "vi"
) -> list[dict[str, str]]:
    """Rows ``{"field", "old", "new"}`` shown for one audit entry."""
    out: list[dict[str, str]] = []
    if isinstance(old, dict) or isinstance(new, dict):
        old_d = old if isinstance(old, dict) else {}
        new_d = new if isinstance(new, dict) else {}
        for k in dict.fromkeys([*old_d, *new_d]):
            if not old_d and new_d.get(k) in (None, "", [], {}):
                continue  # a new model: its filled fields only
            label = "geometry" if k in ("geometry", "geom") else k
            out.append(
                {
                    "field": labels.get(label, k),
                    "old": _value_text(old_d.get(k), lang) if old_d else "",
                    "new": _value_text(new_d.get(k), lang),
                }
            )
    elif isinstance(detail, dict):
        for k, v in detail.items():
            if k == "counts" and isinstance(v, dict):
                v = ", ".join(f"{t.get('n_' + ck, ck)}: {cv}" for ck, cv in v.items())
            out.append({"field": t.get(f"detail_{k}", k), "old": "", "new": _value_text(v, lang)})
    return out


def _date_arg(name: str) -> str:
    v = (request.args.get(name) or "").strip()
    if v:
        try:
            _dt.date.fromisoformat(v)
        except ValueError:
            raise GeoAnttError(f"{name}: {v!r} is not a date (YYYY-MM-DD)") from None
    return v


@bp.get("/audit")
@login_required
def audit_page() -> Any:
    """The audit log page (every role, within its scope)."""
    lang = _lang()
    t = STRINGS[lang]
    args = {
        "model": (request.args.get("model") or "").strip(),
        "user": (request.args.get("user") or "").strip(),
        "unit": (request.args.get("unit") or "").strip(),
        "from": _date_arg("from"),
        "to": _date_arg("to"),
    }
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    df = get_store().audit_frame(
        model_id=args["model"] or None,
        user_name=args["user"] or None,
        unit_code=args["unit"] or None,
        since=parse_local_time(args["from"], what="from") if args["from"] else None,
        until=parse_local_time(args["to"], end=True, what="to") if args["to"] else None,
        limit=AUDIT_PAGE_SIZE + 1,
        offset=(page - 1) * AUDIT_PAGE_SIZE,
        user=current_user(),
    )
    has_older = len(df) > AUDIT_PAGE_SIZE
    df = df.iloc[:AUDIT_PAGE_SIZE]
    labels = _field_labels(lang)
    names = get_catalog().units["name"]
    entries = []
    for r in df.to_dict("records"):
        action = str(r["action"])
        entries.append(
            {
                "id": int(r["id"]),
                "time": _to_local(r["at"]),
                "iso": r["at"].isoformat() if r["at"] == r["at"] else "",
                "user": r["user_name"],
                "action": action,
                "action_text": t.get(f"act_{action}", action),
                "model_id": r["model_id"] or "",
                "model_name": r["model_name"] or "",
                "unit_code": r["unit_code"] or "",
                "unit_name": nfc(str(names.get(r["unit_code"], ""))) if r["unit_code"] else "",
                "changes": _changes(action, r["old"], r["new"], r["detail"], labels, t, lang),
                # a new model (no old values): its fields folded away under a one-line summary
                "created": r["old"] is None and isinstance(r["new"], dict),
            }
        )
    base = {k: v for k, v in args.items() if v}
    if lang == "en":
        base["lang"] = "en"
    path = url_for("pages.audit_page")

    def page_url(n: int) -> str:
        q = dict(base, page=n) if n > 1 else dict(base)
        return path + ("?" + urlencode(q) if q else "")

    return _page(
        "pages/audit.html",
        lang=lang,
        title=t["audit_title"],
        endpoint="pages.audit_page",
        args={**base, "page": page if page > 1 else None},
        entries=entries,
        filters=args,
        units=unit_choices(lang=lang),
        page_no=page,
        newer_url=page_url(page - 1) if page > 1 else None,
        older_url=page_url(page + 1) if has_older else None,
        reset_url=url_for("pages.audit_page", lang="en" if lang == "en" else None),
    )
