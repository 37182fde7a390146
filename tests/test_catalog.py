"""Catalog: bbox parsing, unit hierarchy, unit links of derived layers, search folding."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest

from geo_antt._errors import GeoAnttError, NotFoundError
from geo_antt.catalog import Catalog, parse_bbox
from geo_antt.layers import load_layer_specs
from tests.web_fixtures import synthetic_coverage, synthetic_models, synthetic_units


@pytest.fixture(scope="module")
def cat():
    u, m = synthetic_units(), synthetic_models()
    return Catalog(u, m, specs=load_layer_specs(), coverage=synthetic_coverage(u, m))


def test_parse_bbox():
    assert parse_bbox(None) is None and parse_bbox(" ") is None
    assert parse_bbox("106.3,10.1,106.4,10.2") == (106.3, 10.1, 106.4, 10.2)
    assert parse_bbox("106.3,10.1,0,106.4,10.2,100") == (106.3, 10.1, 106.4, 10.2)
    for bad in ("1,2,3", "x,1,2,3", "2,1,1,2", "inf,1,2,3", "-190,0,0,1"):
        with pytest.raises(GeoAnttError, match="bbox"):
            parse_bbox(bad)


def test_descendants_and_ancestors(cat):
    assert cat.descendants("28903") == {"28903", "28903-01", "28903-02"}
    assert cat.descendants("83") == set(synthetic_units().index)
    assert cat.ancestors("28903-02") == ["28903", "835", "83"]
    with pytest.raises(NotFoundError):
        cat.descendants("nope")


def test_spatial_link_when_no_unit_code():
    u, m = synthetic_units(), synthetic_models()
    m.loc["CAM002", "unit_code"] = None  # placed by its point: the deepest unit containing it
    expected = u[(u["level"] == "hamlet") & u.contains(m.loc["CAM002", "geometry"])].index[0]
    c = Catalog(u, m, specs=load_layer_specs())
    assert c.model_links["CAM002"] == expected
    assert "CAM002" in {f.split('"id":"')[1].split('"')[0] for f in c.items("camera", unit=expected).features}


def test_reprojects_to_wgs84():
    u, m = synthetic_units(), synthetic_models()
    c = Catalog(u.to_crs(32648), m[m.geometry.notna()].to_crs(32648), specs=load_layer_specs())
    assert c.get("communes").frame.crs.to_epsg() == 4326
    assert c.get("communes").extent == pytest.approx((106.3, 10.1, 106.308, 10.104), abs=1e-6)
    with pytest.raises(GeoAnttError, match="no CRS"):
        Catalog(gpd.GeoDataFrame(u.drop(columns="geometry"), geometry=list(u.geometry)), m, specs=load_layer_specs())


def test_search_folds_d_and_ranks_exact_first(cat):
    res = cat.search("ap dong xuan")
    assert [r["code"] for r in res] == ["28903-02"]
    assert [r["code"] for r in cat.search("HUONG MY")][:2] == ["28903", "28903-01"]


def test_items_page_counts(cat):
    page = cat.items("camera", bbox=(106.0, 10.0, 107.0, 11.0), limit=3, offset=18)
    assert page.number_matched == 19 and page.number_returned == 1


def test_scoped_reads(cat):
    from geo_antt._errors import NotFoundError, PermissionDeniedError

    a = cat.descendants("28903")
    assert cat.scoped(None, None) is None and cat.scoped(None, a) == a
    assert cat.scoped("835", a) == a  # a larger area: only the allowed part
    with pytest.raises(PermissionDeniedError):
        cat.scoped("28891", a)
    with pytest.raises(NotFoundError):
        cat.scoped("nope", a)
    page = cat.items("camera", allowed=a)
    assert (
        page.number_matched
        == sum(1 for f in page.features if json.loads(f)["properties"]["unit_code"].startswith("28903-"))
        > 0
    )
    with pytest.raises(NotFoundError, match="has no feature 'CAM013'"):  # as an unknown id
        cat.item("camera", "CAM013", allowed=a)  # a camera of Xã An Thạnh
    assert cat.top_units(a) == ["28903"]
    assert [u["code"] for u in cat.children(None, allowed=a)] == ["28903"]
    assert {h["code"] for h in cat.search("ap", allowed=a)} == {"28903-01", "28903-02"}
    assert cat.search("thanh", allowed=a) == [] and len(cat.search("thanh")) == 2  # Xã An Thạnh, Ấp Thạnh Lợi
    st = cat.stats("83", allowed=a)
    assert st["unit"]["path"] == [] and st["coverage"]["hamlets"] == 2  # 83 is above the reader's own units
    assert cat.stats("28903-01", allowed=a)["unit"]["path"] == ["28903", "28903-01"]


def test_a_collection_updated_row_by_row_equals_one_built_from_its_rows():
    """Copy-on-write updates (replace, add, remove; more updates than frames kept apart, and a
    compaction) give the features, order, links, bbox matches and frame of a collection built
    from the final rows; every older version stays as it was.
    """
    import numpy as np
    import pandas as pd
    import shapely

    from geo_antt.catalog._catalog import Collection, _feature_texts

    rng = np.random.default_rng(3)

    def frame(ids, xs):
        return gpd.GeoDataFrame(
            {"name": [f"điểm {i}" for i in ids], "v": np.arange(len(ids), dtype=float)},
            geometry=shapely.points(xs, np.full(len(xs), 10.0)),
            crs="EPSG:4326",
            index=pd.Index(ids, name="id"),
        )

    def build(f):
        keys = f.index.to_numpy(dtype=object)
        return Collection(
            id="c",
            title_vi="c",
            title_en="c",
            group="models",
            frame=f,
            unit_codes=[f"U{i[-1]}" for i in keys],
            features=_feature_texts(f),
            keys=keys,
        )

    rows = frame([f"m{i:03d}" for i in range(0, 1000, 2)], rng.uniform(106, 107, 500))
    col = build(rows)
    history = []
    gathered = False
    for step in range(45):
        ids = sorted(rng.choice([f"m{i:03d}" for i in range(1000)], size=int(rng.integers(1, 4)), replace=False))
        drop = [i for i in ids if i in rows.index and rng.random() < 0.3]
        put = frame([i for i in ids if i not in drop], rng.uniform(106, 107, len(ids) - len(drop)))
        rows = pd.concat([rows.drop(index=[i for i in ids if i in rows.index]), put]).sort_index()
        history.append((col, list(col.features)))
        col = col.with_changes(
            remove=np.array(ids, dtype=object),
            add=put,
            add_keys=put.index.to_numpy(dtype=object),
            add_links=[f"U{i[-1]}" for i in put.index],
            compact_above=None if step != 40 else 0,
        )
        assert len(col._table.x_chunks) <= 32  # the extra rows are gathered now and then
        gathered |= len(col._table.x_chunks) == 1 and col._table.n_extra > 32
        want = build(rows)
        assert list(col.features) == list(want.features)
        assert list(col.unit_codes) == list(want.unit_codes) and col.extent == want.extent
        for bbox in ((106.2, 9.0, 106.6, 11.0), (106.0, 9.0, 107.0, 11.0)):
            got = col.page(bbox=bbox, unit_codes=frozenset({"U0", "U4"}), limit=7, offset=2)
            exp = want.page(bbox=bbox, unit_codes=frozenset({"U0", "U4"}), limit=7, offset=2)
            assert got.features == exp.features and got.number_matched == exp.number_matched
        assert col.frame.index.tolist() == rows.index.tolist() and col.frame["v"].tolist() == rows["v"].tolist()
        for fid in rows.index[:3]:
            assert col.feature(fid) == want.feature(fid)
    assert gathered
    for old, texts in history:
        assert list(old.features) == texts


@pytest.fixture(scope="module")
def demo_cat():
    """The catalog of the embedded demo's units (real commune names of five districts)."""
    from geo_antt.io.dataset import load_dataset

    d = load_dataset("data")
    return Catalog(d.units, d.models.iloc[:0], specs=load_layer_specs())


def test_search_ranks_the_named_unit_before_looser_matches(demo_cat):
    """Searching "an thanh" lists first the two communes named An Thạnh (a bare name: the unit-type word
    left out), then the looser matches where "an" only stands inside a word ("Huyện Thạnh
    Phú", "Xã Bình Thạnh"), the district first.
    """
    res = demo_cat.search("an thanh")
    assert [(r["name"], r["context"].split(",")[0]) for r in res[:2]] == [
        ("Xã An Thạnh", "Huyện Mỏ Cày Nam"),
        ("Xã An Thạnh", "Huyện Thạnh Phú"),
    ]
    assert res[2]["name"] == "Huyện Thạnh Phú"
    # the full name, typed in capitals, finds the same two first
    assert [r["code"] for r in demo_cat.search("XÃ AN THẠNH")][:2] == [r["code"] for r in res[:2]]


def test_search_ranks_word_starts_before_containment_and_finds_codes(demo_cat):
    # "thanh phu": the named units, then hamlets whose words start with both ("Ấp Phú Thạnh")
    # before those that merely contain them ("Ấp Phước Thạnh": "phu" inside "Phước")
    names = [r["name"] for r in demo_cat.search("thanh phu", limit=100)]
    assert names[:2] == ["Huyện Thạnh Phú", "Thị trấn Thạnh Phú"]
    assert names.index("Ấp Phú Thạnh") < names.index("Ấp Phước Thạnh")
    code = demo_cat.units.index[demo_cat.units["name"] == "Xã An Thạnh"][0]
    assert demo_cat.search(code)[0]["code"] == code
    assert {r["code"] for r in demo_cat.search(code)} == {c for c in demo_cat.units.index if c.startswith(code)}
