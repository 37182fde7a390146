"""Small hand-checkable fixtures for the store and auth tests (imported by them).

A province ``P`` of two communes ``A`` and ``B`` (0.2 x 0.2 degree squares near Bến Tre), each
with hamlets (``A1``, ``A2``, ``B1``); three models, one per hamlet.
"""

from __future__ import annotations

from typing import Any

import argon2
import geopandas as gpd
import shapely

from geo_antt.store import Store, User

__all__ = ["CHEAP_HASHER", "units_frame", "seed", "model_record", "PASSWORD"]

# Fast argon2 parameters for tests only (the store's default is argon2-cffi's RFC 9106 profile).
CHEAP_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
PASSWORD = "mật-khẩu-123"


def units_frame() -> gpd.GeoDataFrame:
    rows = [
        ("P", "Tỉnh Thử", "province", None, (106.0, 10.0, 106.4, 10.4)),
        ("A", "Xã An", "commune", "P", (106.0, 10.0, 106.2, 10.2)),
        ("B", "Xã Bình", "commune", "P", (106.2, 10.0, 106.4, 10.2)),
        ("A1", "Ấp 1", "hamlet", "A", (106.0, 10.0, 106.1, 10.1)),
        ("A2", "Ấp 2", "hamlet", "A", (106.1, 10.0, 106.2, 10.1)),
        ("B1", "Ấp Đông", "hamlet", "B", (106.2, 10.0, 106.3, 10.1)),
    ]
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "parent_code": [r[3] for r in rows],
            "approximate": [False] * len(rows),
        },
        geometry=[shapely.box(*r[4]) for r in rows],
        crs="EPSG:4326",
    )


def model_record(mid: str, unit: str, lon: float, lat: float, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": mid,
        "kind": "camera",
        "name": f"Camera {mid}",
        "status": "active",
        "unit_code": unit,
        "direction_deg": (90.0,),
        "fov_deg": 60.0,
        "range_m": 25.0,
        "geometry": shapely.Point(lon, lat),
    }
    rec.update(kw)
    return rec


def seed(store: Store) -> dict[str, User]:
    """Units, four accounts (admin, officer and viewer of A, officer of B) and three models."""
    store.put_units(units_frame(), user=None)
    users = {
        "admin": store.add_user("admin", role="admin", password=PASSWORD, user=None),
        "officer": store.add_user("can_bo_a", role="officer", password=PASSWORD, unit_codes=["A"], user=None),
        "viewer": store.add_user("xem_a", role="viewer", password=PASSWORD, unit_codes=["A"], user=None),
        "officer_b": store.add_user("can_bo_b", role="officer", password=PASSWORD, unit_codes=["B"], user=None),
    }
    store.create_model(model_record("a1", "A1", 106.05, 10.05), user=None)
    store.create_model(
        model_record(
            "a2",
            "A2",
            106.15,
            10.05,
            kind="lighting",
            name="Đèn ngõ 3",
            direction_deg=(),
            fov_deg=None,
            range_m=None,
            radius_m=15.0,
        ),
        user=None,
    )
    store.create_model(model_record("b1", "B1", 106.25, 10.05, direction_deg=(0.0, 180.0)), user=None)
    return users


def registry_app(store: Store) -> Any:
    """A bare Flask app with only the login guard and the ``/api/registry`` blueprint on ``store``."""
    from flask import Flask

    from geo_antt.app.auth import init_auth
    from geo_antt.app.registry import init_registry

    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", TESTING=True)
    app.json.sort_keys = False  # as create_app writes JSON: in order, Vietnamese as UTF-8
    app.json.ensure_ascii = False
    init_auth(app, store)
    init_registry(app, store)
    return app


class JobAnswer:
    """What ``POST /api/registry/import`` answered before it ran as a job: the job's result
    (200) or its error (the error's status), with a Flask response's ``status_code`` / ``get_json``.
    """

    def __init__(self, status_code: int, body: Any, job: dict[str, Any]) -> None:
        self.status_code, self._body, self.job = status_code, body, job

    def get_json(self) -> Any:
        return self._body


def post_import(
    client: Any, data: dict[str, Any], headers: dict[str, str] | None = None, *, timeout_s: float = 60
) -> Any:
    """POST an import, follow its job (``Location``) until it ends; a :class:`JobAnswer`, or the
    response itself when the POST is refused at once (400 bad form, 403, 413, 429).
    """
    import time

    r = client.post("/api/registry/import", data=data, headers=headers or {})
    if r.status_code != 202:
        return r
    url = r.headers["Location"]
    assert url.startswith("/api/registry/jobs/"), url
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(url, headers=headers or {}).get_json()
        if job["state"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, f"import job still {job['state']} after {timeout_s} s"
        time.sleep(0.02)
    if job["state"] == "done":
        return JobAnswer(200, job["result"], job)
    return JobAnswer(job["error"]["status"], {k: v for k, v in job["error"].items() if k != "status"}, job)
