"""Schema migrations: a database made by the first revision, with data in it, upgrades to the
newest revision without losing anything (both backends).
"""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
import sqlalchemy as sa

from geo_antt import GeoAnttError
from geo_antt.store import Store
from geo_antt.store._types import Geometry, UTCDateTime
from tests.storehelp import CHEAP_HASHER, PASSWORD


def _insert_at_first_revision(store: Store) -> None:
    now = dt.datetime(2025, 7, 1, 8, 30, tzinfo=dt.UTC)
    units = sa.table(
        "units",
        sa.column("code"),
        sa.column("name"),
        sa.column("level"),
        sa.column("parent_code"),
        sa.column("approximate", sa.Boolean),
        sa.column("geom", Geometry()),
        sa.column("minx"),
        sa.column("miny"),
        sa.column("maxx"),
        sa.column("maxy"),
    )
    models = sa.table(
        "models",
        sa.column("id"),
        sa.column("kind"),
        sa.column("name"),
        sa.column("status"),
        sa.column("unit_code"),
        sa.column("direction_deg", sa.JSON),
        sa.column("fov_deg"),
        sa.column("range_m"),
        sa.column("geom", Geometry()),
        sa.column("minx"),
        sa.column("miny"),
        sa.column("maxx"),
        sa.column("maxy"),
        sa.column("version"),
        sa.column("created_at", UTCDateTime),
        sa.column("updated_at", UTCDateTime),
        sa.column("created_by"),
        sa.column("updated_by"),
    )
    users = sa.table(
        "users",
        sa.column("id"),
        sa.column("name"),
        sa.column("password_hash"),
        sa.column("role"),
        sa.column("active", sa.Boolean),
        sa.column("created_at", UTCDateTime),
    )
    user_units = sa.table("user_units", sa.column("user_id"), sa.column("unit_code"))
    box = shapely.box(106.0, 10.0, 106.2, 10.2)
    with store._engine.begin() as conn:
        conn.execute(
            units.insert().values(
                code="A",
                name="Xã An",
                level="commune",
                parent_code=None,
                approximate=False,
                geom=shapely.to_wkb(box),
                minx=106.0,
                miny=10.0,
                maxx=106.2,
                maxy=10.2,
            )
        )
        conn.execute(
            models.insert(),
            [
                {
                    "id": "m1",
                    "kind": "camera",
                    "name": "Camera Đình Làng",
                    "status": "active",
                    "unit_code": "A",
                    "direction_deg": [90.0],
                    "fov_deg": 60.0,
                    "range_m": 25.0,
                    "geom": shapely.to_wkb(shapely.Point(106.05, 10.05)),
                    "minx": 106.05,
                    "miny": 10.05,
                    "maxx": 106.05,
                    "maxy": 10.05,
                    "version": 3,
                    "created_at": now,
                    "updated_at": now,
                    "created_by": "an",
                    "updated_by": "an",
                },
                {
                    "id": "m2",
                    "kind": "self_management",
                    "name": None,
                    "status": "inactive",
                    "unit_code": "A",
                    "direction_deg": [],
                    "fov_deg": None,
                    "range_m": None,
                    "geom": None,
                    "minx": None,
                    "miny": None,
                    "maxx": None,
                    "maxy": None,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                    "created_by": "an",
                    "updated_by": "an",
                },
            ],
        )
        uid = conn.execute(
            users.insert()
            .values(name="an", password_hash=CHEAP_HASHER.hash(PASSWORD), role="officer", active=True, created_at=now)
            .returning(users.c.id)
        ).scalar_one()
        conn.execute(user_units.insert().values(user_id=uid, unit_code="A"))


def test_upgrade_from_first_revision_keeps_data(store_url):
    with Store.open(store_url, upgrade=False, password_hasher=CHEAP_HASHER) as store:
        assert store.revision() is None
        assert store.upgrade("0001") == "0001"
        _insert_at_first_revision(store)
        assert "api_tokens" not in sa.inspect(store._engine).get_table_names()
    with Store.open(store_url, password_hasher=CHEAP_HASHER) as store:  # opening upgrades to head
        assert store.revision() == store.head_revision() == "0008"
        f = store.models_frame()
        assert f.index.tolist() == ["m1", "m2"]
        assert f.loc["m1", "version"] == 3 and f.loc["m1", "name"] == "Camera Đình Làng"
        assert f.loc["m1", "direction_deg"] == (90.0,) and f.loc["m1", "geometry"].equals(shapely.Point(106.05, 10.05))
        assert f.loc["m2", "geometry"] is None and f.loc["m2", "status"] == "inactive"
        assert f.loc["m1", "updated_at"].isoformat() == "2025-07-01T08:30:00+00:00"
        with store._engine.connect() as conn:  # the new column was backfilled
            folded = dict(conn.execute(sa.text("SELECT id, search_name FROM models")).all())
        assert folded == {"m1": "camera dinh lang", "m2": None}
        user = store.authenticate("an", PASSWORD)
        assert user is not None and user.unit_codes == ("A",)
        assert store.create_token("an", user=None).startswith("gat_")  # the new table works
        sid = store.start_session("an", lifetime_s=3600)  # 0006: server-side web sessions
        assert store.user_for_session(sid).name == "an"
        store.update_model("m1", {"range_m": 30.0}, expected_version=3, user=user)
        # downgrade and upgrade again: still everything there
        assert store.downgrade("0001") == "0001"
        store.upgrade()
        f2 = store.models_frame()
        assert f2.loc["m1", "range_m"] == 30.0 and f2.loc["m1", "version"] == 4


def test_open_is_idempotent(store_url):
    for _ in range(2):
        with Store.open(store_url, password_hasher=CHEAP_HASHER) as store:
            assert store.revision() == "0008"


def test_a_newer_schema_is_refused_clearly(tmp_path):
    url = f"sqlite:///{tmp_path / 'future.sqlite'}"
    with Store.open(url, password_hasher=CHEAP_HASHER) as store:
        with store._engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(GeoAnttError, match="newer geo-antt"):
        Store.open(url, password_hasher=CHEAP_HASHER)


def test_web_sessions_revision_up_and_down(store_url):
    with Store.open(store_url, password_hasher=CHEAP_HASHER) as store:
        store.add_user("an", role="viewer", password=PASSWORD, user=None)
        sid = store.start_session("an", lifetime_s=60)
        assert store.downgrade("0005") == "0005"
        assert "web_sessions" not in sa.inspect(store._engine).get_table_names()
        store.upgrade()
        assert store.revision() == "0008"
        assert store.user_for_session(sid) is None  # sessions do not survive a downgrade
        sid = store.start_session("an", lifetime_s=60)
        assert store.user_for_session(sid).name == "an"
        assert store.end_session(sid) and store.user_for_session(sid) is None


def test_context_features_revision_up_and_down(store_url):
    """0007 adds the roads and buildings table; a downgrade drops it (and them), an upgrade
    brings an empty one back, and a load works again.
    """
    import geopandas as gpd

    from tests.storehelp import units_frame

    with Store.open(store_url, password_hasher=CHEAP_HASHER) as store:
        store.put_units(units_frame(), user=None)
        road = gpd.GeoDataFrame(
            {"osm_id": ["w1"], "highway": ["primary"], "name": ["Quốc lộ"]},
            geometry=[shapely.LineString([(106.05, 10.05), (106.15, 10.05)])],
            crs="EPSG:4326",
        )
        assert store.put_context_layer("roads", road, unit_code="A", user=None)["inserted"] == 1
        assert store.downgrade("0006") == "0006"
        assert "context_features" not in sa.inspect(store._engine).get_table_names()
        store.upgrade()
        assert store.revision() == "0008" and store.context_counts() == {"roads": 0, "buildings": 0}
        assert store.put_context_layer("roads", road, unit_code="A", user=None)["inserted"] == 1


def test_camera_resolution_revision_up_and_down(store_url):
    """0008 adds a camera's resolution and lens (NULL for the rows already there); a downgrade
    drops both columns and keeps the models, an upgrade brings them back empty.
    """
    from tests.storehelp import units_frame

    with Store.open(store_url, password_hasher=CHEAP_HASHER) as store:
        store.put_units(units_frame(), user=None)
        rec = {
            "id": "c1",
            "kind": "camera",
            "status": "active",
            "direction_deg": (90.0,),
            "fov_deg": 90.0,
            "resolution_px": 2560.0,
            "lens": "fisheye",
            "geometry": shapely.Point(106.05, 10.05),
        }
        store.create_model(rec, user=None)
        got = store.get_model("c1", user=None)
        assert got["resolution_px"] == 2560.0 and got["lens"] == "fisheye"
        assert store.downgrade("0007") == "0007"
        with store._engine.connect() as conn:
            cols = set(conn.execute(sa.text("SELECT * FROM models")).keys())
        assert "resolution_px" not in cols and "lens" not in cols
        store.upgrade()
        assert store.revision() == "0008"
        got = store.get_model("c1", user=None)
        assert got["resolution_px"] is None and got["lens"] is None and got["fov_deg"] == 90.0
