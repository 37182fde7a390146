"""Shared fixtures: hand-checkable metric fixtures and the real data in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# A corner of UTM 48N in the Mekong delta (about 105.0 E, 9.95 N): coordinates checkable by hand.
X0, Y0 = 500_000.0, 1_100_000.0


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data (real boundaries). Skips when absent, except in CI where it fails."""
    if not (SHARED_DATA / "boundaries").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: the real data folder {SHARED_DATA} is missing")
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


def make_units(rows: list[tuple[str, str, str, str | None, object]], *, crs: str = "EPSG:32648") -> gpd.GeoDataFrame:
    """Units frame from (code, name, level, parent_code, geometry) rows."""
    gdf = gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "parent_code": [r[3] for r in rows],
            "approximate": False,
            "valid_from": None,
            "valid_to": None,
        },
        geometry=[r[4] for r in rows],
        crs=crs,
    )
    return gdf.set_index("code", drop=False)


def make_models(rows: list[dict], *, crs: str = "EPSG:32648") -> gpd.GeoDataFrame:
    """Models frame from dicts with at least id, kind, x, y (metres; None for non-spatial)."""
    recs = []
    geoms = []
    for r in rows:
        d = {
            "id": r["id"],
            "kind": r["kind"],
            "name": r.get("name", r["id"]),
            "field": r.get("field"),
            "host": r.get("host"),
            "status": r.get("status", "active"),
            "unit_code": r.get("unit_code"),
            "direction_deg": tuple(r.get("direction_deg", ())),
            "fov_deg": r.get("fov_deg", np.nan),
            "range_m": r.get("range_m", np.nan),
            "radius_m": r.get("radius_m", np.nan),
        }
        recs.append(d)
        geoms.append(r.get("geometry") or (Point(r["x"], r["y"]) if r.get("x") is not None else None))
    cols = ["id", "kind", "name", "field", "host", "status", "unit_code", "direction_deg", "fov_deg", "range_m", "radius_m"]
    gdf = gpd.GeoDataFrame(pd.DataFrame(recs, columns=cols), geometry=geoms, crs=crs)
    return gdf.set_index("id", drop=False)


@pytest.fixture
def square_hamlet() -> gpd.GeoDataFrame:
    """One commune of two 100 m x 100 m hamlets side by side (EPSG:32648)."""
    return make_units(
        [
            ("C1", "Xã Thử", "commune", None, box(X0, Y0, X0 + 200, Y0 + 100)),
            ("H1", "Ấp 1", "hamlet", "C1", box(X0, Y0, X0 + 100, Y0 + 100)),
            ("H2", "Ấp 2", "hamlet", "C1", box(X0 + 100, Y0, X0 + 200, Y0 + 100)),
        ]
    )


# -- web app on a small synthetic dataset (tests/web_fixtures.py) ------------------------------


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A dataset directory (dataset.toml + GeoJSON) of the synthetic Mỏ Cày Nam case."""
    from tests.web_fixtures import synthetic_models, synthetic_units, write_dataset

    return write_dataset(tmp_path_factory.mktemp("dataset"), synthetic_units(), synthetic_models())


@pytest.fixture(scope="session")
def synthetic_cov():
    """Coverage frames (units, gaps, footprints) of the synthetic case."""
    from tests.web_fixtures import synthetic_coverage, synthetic_models, synthetic_units

    return synthetic_coverage(synthetic_units(), synthetic_models())


@pytest.fixture()
def app(synthetic_dir, synthetic_cov):
    """The web app (flaskr style) on the synthetic dataset, with its coverage frames."""
    from geo_antt.app import create_app

    return create_app({"TESTING": True, "DATA_DIR": str(synthetic_dir), "COVERAGE": synthetic_cov})


@pytest.fixture()
def client(app):
    return app.test_client()
