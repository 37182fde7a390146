"""Crosswalk pre-2025 → 2025 communes (vietnamadminunits) against the shared 2025 polygons."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from geo_antt._errors import NotFoundError
from geo_antt.crosswalk import aggregate_to_2025, crosswalk_table, new_communes
from geo_antt.text import fold

DEMO_DISTRICTS = {
    "mo_cay_nam": "Mỏ Cày Nam",
    "thanh_phu": "Thạnh Phú",
    "go_cong_tay": "Gò Công Tây",
    "ham_thuan_nam": "Hàm Thuận Nam",
    "khanh_son": "Khánh Sơn",
}


@pytest.mark.parametrize("district", list(DEMO_DISTRICTS.values()))
def test_every_demo_commune_maps_to_exactly_one_2025_commune(district):
    table = crosswalk_table(old_district=district)
    assert len(table) >= 8
    assert table.index.is_unique
    assert table["new_code"].notna().all(), table.loc[table["new_code"].isna(), "old_name"].tolist()
    # exactly one successor: a scalar code that is a real 2025 commune
    assert table["new_code"].map(lambda c: isinstance(c, str) and len(c) == 5).all()
    assert table["new_code"].isin(new_communes().index).all()
    # whole merges have exactly one target; split ones list the chosen one among theirs
    assert ((table["n_targets"] == 1) | table["split"]).all()
    assert all(new in targets for new, targets in zip(table["new_code"], table["targets"]))


def _pred_names(s: str) -> list[str]:
    return [fold(re.sub(r"\s*\(.*?\)", "", p)) for p in s.split(",")]


@pytest.mark.parametrize("stem", ["mo_cay_nam", "thanh_phu", "go_cong_tay", "ham_thuan_nam"])
def test_crosswalk_agrees_with_predecessors_of_shared_2025_polygons(shared_data, stem):
    old = gpd.read_file(shared_data / "boundaries" / f"{stem}_communes_pre2025.geojson")
    new = gpd.read_file(shared_data / "boundaries" / f"{stem}_communes_2025.geojson")
    table = crosswalk_table(old_district=DEMO_DISTRICTS[stem])
    # every GSO code of the shared pre-2025 file is in the crosswalk of that district
    codes = old["commune_code_gso"].astype(str).str.zfill(5)
    assert set(codes) == set(table.index)
    # successor by the predecessor lists of the 2025 polygons
    by_name: dict[str, set[str]] = {}
    for code2025, preds in zip(new["commune_code_2025"].astype(str).str.zfill(5), new["predecessors_pre2025"]):
        for name in _pred_names(preds):
            by_name.setdefault(name, set()).add(code2025)
    checked = 0
    for code, name in zip(codes, old["commune"]):
        expected = by_name.get(fold(name))
        if expected is None:  # successor lies mostly outside the old district: not in the file
            continue
        assert table.loc[code, "new_code"] in expected, (code, name, expected)
        checked += 1
    assert checked >= len(old) - 2


def test_aggregate_sums_counts_and_weights_means():
    figs = pd.DataFrame(
        {"n_models": [3, 4, 1], "area_m2": [100.0, 300.0, 50.0], "covered_pct": [10.0, 50.0, 80.0]},
        index=["23110", "23137", "23113"],
    )
    out = aggregate_to_2025(figs, mean_columns=["covered_pct"], weight_column="area_m2")
    assert out.loc["23110", "n_models"] == 7
    assert out.loc["23110", "n_old"] == 2
    assert out.loc["23110", "covered_pct"] == pytest.approx((10 * 100 + 50 * 300) / 400)
    assert out.loc["23122", "n_models"] == 1
    assert out.loc["23110", "new_name"] == "Xã Hàm Thuận Nam"
    assert out["n_models"].sum() == figs["n_models"].sum()


def test_split_commune_allocation_rules_pick_one_of_the_targets():
    table = crosswalk_table()
    split = table.loc[table["split"]]
    assert len(split) > 100
    cen = crosswalk_table(split.index[:50], allocation="centroid")
    assert all(n in t for n, t in zip(cen["new_code"], cen["targets"]))
    assert (cen["rule"] == "split: nearest centre").all()


def test_unknown_codes_are_reported():
    with pytest.raises(NotFoundError, match="99999"):
        crosswalk_table(["99999"])
    with pytest.raises(NotFoundError, match="district"):
        crosswalk_table(old_district="Huyện Không Có")


DEMO_COMMUNES = Path(__file__).resolve().parent.parent / "data" / "boundaries" / "communes.geojson"


@pytest.mark.skipif(not DEMO_COMMUNES.is_file(), reason="demo dataset not built")
def test_demo_communes_all_map_once_and_agree_with_their_successor_field():
    demo = gpd.read_file(DEMO_COMMUNES)
    codes = demo["code"].astype(str)
    assert len(codes) == 68  # 16 + 18 + 13 + 13 + 8 communes of the five districts
    table = crosswalk_table(codes)
    assert table["new_code"].notna().all() and len(table) == len(codes)
    assert (table["new_code"].to_numpy() == demo["successor_code_2025"].astype(str).str.zfill(5).to_numpy()).all()
    # aggregating the demo's communes conserves any count
    figs = pd.Series(1, index=codes, name="n_communes")
    agg = aggregate_to_2025(figs)
    assert agg["n_communes"].sum() == 68 and agg.index.is_unique
