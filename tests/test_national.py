"""The national run (geo_antt.national) on two real provinces on both sides of 108°E.

Huế (province 46, 107.03-108.21°E, 40 communes) and Đà Nẵng (48, 107.21-112.74°E with Hoàng
Sa, 94 communes) from ../shared/data/national/vn_communes_2025.gpkg; hamlets are Voronoi cells of
points inside every commune; cameras and lights around the hamlet centres, plus 200 cameras of
the largest range (300 m) on the border between the two provinces
(bench/national_bench.py builds the case). The distributed run (a LocalCluster of two worker
processes) must give, for every hamlet, the figures of one plain ``compute_coverage`` over the
units of its partition with every model of the case.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import CRS

from bench.national_bench import area_errors, build_case, read_communes
from geo_antt.coverage import compute_coverage
from geo_antt.crs import utm_area_error
from geo_antt.national import (
    AREA_ERROR_BOUND,
    compute_national_coverage,
    footprint_halo_m,
    partition_units,
)

distributed = pytest.importorskip("distributed")

HUE, DA_NANG = "46", "48"
FIGURES = (
    "area_m2",
    "covered_m2",
    "covered_m2_camera",
    "covered_m2_lighting",
    "uncovered_m2",
    "covered_pct",
    "n_camera",
    "n_lighting",
    "n_models",
    "n_inactive",
)


@pytest.fixture(scope="module")
def case(shared_data: Path, tmp_path_factory) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    communes = read_communes(shared_data / "national" / "vn_communes_2025.gpkg", provinces=(HUE, DA_NANG))
    units, models, _ = build_case(
        communes,
        tmp_path_factory.mktemp("national"),
        n_hamlets=600,
        n_cameras=3000,
        n_lights=300,
        seed=20,
        border=(HUE, DA_NANG, 200),
    )
    return units, models


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=0,
            env={"GEO_ANTT_THREADS": "1"},
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _relative(a: pd.Series, b: pd.Series) -> float:
    a, b = a.astype(float), b.astype(float)
    scale = np.maximum(np.abs(b.to_numpy()), 1e-300)
    return float(np.max(np.where(b.to_numpy() == 0, np.abs(a - b), np.abs(a - b) / scale)))


def test_partitions_are_provinces_split_where_one_zone_would_misstate_areas(case) -> None:
    units, _ = case
    parts = partition_units(units)
    # Huế lies in UTM 48N (its box's centre 107.62°E); Đà Nẵng's box, with Hoàng Sa, spans
    # 107.2-112.7°E: from UTM 49N's meridian (111°E) its west edge is 3.8° away, +0.33 % in area
    assert [p.key for p in parts] == ["46", "48-32648", "48-32649"]
    assert [p.crs for p in parts] == ["EPSG:32648", "EPSG:32648", "EPSG:32649"]
    dn = units.loc[(units["level"] == "commune").to_numpy() & (units["parent_code"] == DA_NANG).to_numpy()]
    assert utm_area_error(tuple(dn.total_bounds), CRS.from_epsg(32649)) > AREA_ERROR_BOUND
    assert all(p.area_error <= AREA_ERROR_BOUND for p in parts)
    hamlets = units.loc[units["level"] == "hamlet"]
    assert sorted(c for p in parts for c in p.codes) == sorted(hamlets.index)
    province_of = hamlets["parent_code"].map(units["parent_code"])
    assert set(province_of.loc[list(parts[0].codes)]) == {HUE}
    # bisection keeps the group's CRS; vn2000: Huế's official TM-3 meridian is 107°00' (the
    # one nearest its centre would be 107°30', EPSG:9216)
    small = partition_units(units, max_units=100)
    assert {p.key.rsplit("-", 1)[0] for p in small if p.province == HUE} == {HUE}
    assert all(len(p.codes) <= 100 for p in small) and len(small) > 3
    assert {p.crs for p in small if p.province == HUE} == {"EPSG:32648"}
    vn = partition_units(units, crs_system="vn2000")
    assert vn[0].key == HUE and vn[0].crs == "EPSG:9214"
    # Đà Nẵng with Hoàng Sa is wider than its zone (107°45'): split by the nearest zones
    assert all(p.area_error <= AREA_ERROR_BOUND for p in vn) and len(vn) > 2


def test_vn2000_partitions_take_their_province_official_zone(shared_data: Path, case) -> None:
    units, _ = case
    hanoi = read_communes(shared_data / "national" / "vn_communes_2025.gpkg", provinces=("01",))
    (p,) = partition_units(hanoi, crs_system="vn2000")
    assert (p.province, p.crs) == ("01", "EPSG:5897")  # 105°00' (nearest its centre: 105°45')
    assert p.area_error <= AREA_ERROR_BOUND
    communes = units.loc[(units["level"] == "commune").to_numpy()]
    mainland = communes.loc[
        (communes["parent_code"] == DA_NANG).to_numpy() & (communes.bounds["maxx"] < 109).to_numpy()
    ]
    (p,) = partition_units(mainland, crs_system="vn2000")
    assert (p.province, p.crs) == (DA_NANG, "EPSG:5899")  # 107°45'
    assert p.area_error <= AREA_ERROR_BOUND


def test_distributed_run_equals_single_process_runs_per_partition(case, client) -> None:
    units, models = case
    res = compute_national_coverage(units, models, client=client, max_units=120)
    assert len(res.partitions) > 3  # the provinces bisected: their parts share the group's CRS
    hamlets = units.loc[units["level"] == "hamlet"]
    assert list(res.units.index) == list(hamlets.index)
    groups = {p.key: p for p in partition_units(units)}
    worst = 0.0
    for key, part in groups.items():
        one = compute_coverage(units.loc[list(part.codes)], models)  # every model of the case
        assert f"EPSG:{one.metric_crs.to_epsg()}" == part.crs
        got = res.units.loc[one.units.index]
        for col in FIGURES:
            worst = max(worst, _relative(got[col], one.units[col]))
        mine = [k for k in res.gaps if k == key or k.startswith(f"{key}-")]
        gaps = pd.concat([res.gaps[k] for k in mine])
        ref = one.gaps
        assert len(gaps) == len(ref)
        a = gaps.groupby("unit_code")["area_m2"].sum()
        b = ref.groupby("unit_code")["area_m2"].sum()
        assert _relative(a.loc[b.index], b) <= 1e-9
    assert worst <= 1e-9
    # every active located model's footprint once, in EPSG:4326
    fp = res.all_footprints()
    active = models.loc[models["status"] == "active"]
    assert fp.index.is_unique and set(fp.index) == set(active.index) and fp.crs == "EPSG:4326"
    # ranks over the whole case
    assert sorted(res.units["rank"]) == list(range(1, len(res.units) + 1))


def test_the_halo_matters_at_the_province_border(case) -> None:
    # without the models of the other province, the border hamlets lose the footprints that
    # reach across: the check above would fail for a run that gave each province its own
    # models only
    units, models = case
    hue = partition_units(units)[0]
    hue_units = units.loc[list(hue.codes)]
    full = compute_coverage(hue_units, models, with_gaps=False).units
    province = units.loc[(units["parent_code"] == HUE).to_numpy()].union_all()
    inside = models.loc[models.geometry.intersects(province).to_numpy()]
    assert 0 < len(inside) < len(models)
    alone = compute_coverage(hue_units, inside, with_gaps=False).units
    short = full["covered_m2"] - alone["covered_m2"]
    assert (short > 1.0).sum() >= 3
    # the halo is the largest footprint bound of any kind: a camera's range_m of 300 m
    assert footprint_halo_m(_specs(), models) == pytest.approx(300 * 1.01 + 1)


def _specs():
    from geo_antt.layers import load_layer_specs

    return load_layer_specs()


def test_commune_areas_within_a_quarter_percent_of_equal_area(case) -> None:
    units, models = case
    res = compute_national_coverage(units, models, level="commune", with_gaps=False)
    err = area_errors(res.units, units)
    assert len(err) == 134
    assert err.abs().max() <= AREA_ERROR_BOUND
    # VN-2000 TM-3 zones (k0 = 0.9999, 3° wide): closer still
    vn = compute_national_coverage(units, models, level="commune", with_gaps=False, crs_system="vn2000")
    assert set(vn.units["metric_crs"]) <= {f"EPSG:{c}" for c in (*range(5896, 5900), *range(9205, 9219), 3406)}
    assert area_errors(vn.units, units).abs().max() <= AREA_ERROR_BOUND
    assert _relative(vn.units["n_models"], res.units["n_models"]) == 0.0
    # one UTM zone for both provinces (49N, the centre of 107.0-112.7°E) misses the bound on
    # Huế's west (under the 1 % that makes metric_crs_for warn)
    one = compute_coverage(units, models, level="commune", with_gaps=False)
    one_err = area_errors(one.units, units)
    assert one.metric_crs.to_epsg() == 32649 and one_err.abs().max() > AREA_ERROR_BOUND


class _KillOnce(distributed.WorkerPlugin):
    """Ends its worker process the first time a task of ``key`` starts there (marker file)."""

    def __init__(self, marker: str, key: str) -> None:
        self.marker = marker
        self.key = key

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "executing" and key == self.key and not os.path.exists(self.marker):
            Path(self.marker).write_text("killed", encoding="utf-8")
            os._exit(1)


def test_a_worker_killed_mid_run_is_retried_with_the_same_result(case, client, tmp_path: Path) -> None:
    units, models = case
    before = compute_national_coverage(units, models, with_gaps=False)
    marker = tmp_path / "killed"
    client.register_plugin(_KillOnce(str(marker), "geo-antt-partition-48-32649"), name="kill-once")
    try:
        res = compute_national_coverage(units, models, client=client, with_gaps=False, max_units=1500)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert marker.read_text(encoding="utf-8") == "killed"
    for col in FIGURES:
        assert _relative(res.units[col], before.units[col]) <= 1e-9
    client.wait_for_workers(2, timeout=60)


def _case_files(case, tmp_path: Path) -> list[str]:
    from geo_antt import io

    units, models = case
    paths = tmp_path / "communes.parquet", tmp_path / "hamlets.parquet", tmp_path / "models.parquet"
    io.write_layer(units.loc[units["level"] == "commune"], paths[0])
    io.write_layer(units.loc[units["level"] == "hamlet"], paths[1])
    io.write_layer(models, paths[2])
    return ["--boundaries", str(paths[0]), "--hamlets", str(paths[1]), "--models", str(paths[2])]


def test_cli_on_dask_writes_geoparquet_equal_to_the_in_process_run(case, client, tmp_path: Path, capsys) -> None:
    # --scheduler: the module's cluster (a --workers run starts its own LocalCluster the same way)
    from geo_antt.cli import main

    inputs = _case_files(case, tmp_path)
    runs = {}
    for name, how in (("dask", ["--scheduler", client.scheduler.address]), ("here", ["--crs", "utm"])):
        out, gaps = tmp_path / f"{name}.parquet", tmp_path / f"{name}-gaps"
        rc = main(["coverage", *inputs, *how, "--out", str(out), "--gaps", str(gaps), "-q"])
        text = capsys.readouterr()
        assert rc == 0, text.err
        assert "EPSG:32648 (" in text.out and "EPSG:32649 (" in text.out
        stems = sorted(p.stem for p in gaps.iterdir())
        if name == "here":  # one partition per province and zone
            assert "3 partitions" in text.out and stems == ["46", "48-32648", "48-32649"]
        else:  # on a cluster of two one-thread workers, at most a quarter of the units per thread
            groups = {re.sub(r"-\d{1,3}$", "", s) for s in stems}  # 48-32649-2: a bisected part
            assert groups == {"46", "48-32648", "48-32649"}
            assert len(stems) > 3 and f"{len(stems)} partitions" in text.out
        runs[name] = (gpd.read_parquet(out).set_index("unit_code"), gpd.read_parquet(gaps))
    # a partitioned output is what dask-geopandas reads as partitions
    dask_geopandas = pytest.importorskip("dask_geopandas")
    lazy = dask_geopandas.read_parquet(tmp_path / "dask-gaps")
    assert lazy.npartitions == len(list((tmp_path / "dask-gaps").iterdir()))
    assert len(lazy.compute()) == len(runs["dask"][1])
    (a, ga), (b, gb) = runs["dask"], runs["here"]
    units, _ = case
    assert sorted(a.index) == sorted(units.index[units["level"] == "hamlet"]) and a.crs == "EPSG:4326"
    for col in FIGURES:
        assert _relative(a.loc[b.index, col], b[col]) <= 1e-9
    assert len(ga) == len(gb) > 0 and ga.crs == "EPSG:4326"
    assert abs(ga["area_m2"].sum() - gb["area_m2"].sum()) <= 1e-9 * gb["area_m2"].sum()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "must be from 1 to 256"),
        (["--workers", "two"], "not a whole number"),
        (["--scheduler", "localhost:8786"], "not a scheduler address"),
        (["--scheduler", "tcp://host:99999"], "not a scheduler address"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not allowed with argument"),
    ],
)
def test_cli_refuses_bad_cluster_arguments(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    from geo_antt.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["coverage", *argv, "--out", str(tmp_path / "x.parquet")])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_cli_refuses_one_crs_for_a_dask_run(case, tmp_path: Path, capsys) -> None:
    from geo_antt.cli import main

    inputs = _case_files(case, tmp_path)
    rc = main(["coverage", *inputs, "--workers", "2", "--crs", "EPSG:32648", "--out", str(tmp_path / "x.parquet")])
    assert rc == 1 and "its own metric CRS" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_partitioned_output_replaces_only_a_previous_output(case, tmp_path: Path) -> None:
    from geo_antt import io
    from geo_antt._errors import GeoAnttError

    units, _ = case
    communes = units.loc[units["level"] == "commune"]
    out = tmp_path / "gaps"
    io.write_partitioned({"46": communes.iloc[:3], "48-32649": communes.iloc[3:5]}, out)
    assert len(gpd.read_parquet(out)) == 5
    io.write_partitioned({"46": communes.iloc[:2]}, out)  # a previous output: replaced whole
    assert [p.name for p in out.iterdir()] == ["46.parquet"] and len(io.read_layer(out)) == 2
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(GeoAnttError, match="other files than .parquet"):
        io.write_partitioned({"46": communes.iloc[:2]}, out)
    with pytest.raises(GeoAnttError, match="not a file name"):
        io.write_partitioned({"../x": communes.iloc[:2]}, tmp_path / "other")
    assert (out / "notes.txt").exists() and not (tmp_path / "other").exists()


def test_a_unit_wider_than_any_zone_is_computed_equal_area(shared_data: Path, case) -> None:
    # Đặc khu Trường Sa (Khánh Hoà) spans 109.5-117.8°E: 0.32 % too large in UTM 49N, whose
    # meridian (111°E) the rest of the province keeps
    from geo_antt.crs import EQUAL_AREA_PROJ

    _, models = case  # none of them near Khánh Hoà: its partitions get no model
    kh = read_communes(shared_data / "national" / "vn_communes_2025.gpkg", provinces=("56",))
    parts = {p.key: p for p in partition_units(kh)}
    assert set(parts) == {"56", "56-aea"} and parts["56-aea"].codes == ("22736",)
    assert parts["56"].crs == "EPSG:32649" and parts["56-aea"].crs == EQUAL_AREA_PROJ
    res = compute_national_coverage(kh, models, with_gaps=False)
    err = area_errors(res.units, kh)
    assert abs(err.loc["22736"]) <= 1e-9 and err.abs().max() <= AREA_ERROR_BOUND
    assert res.units["covered_m2"].sum() == 0 and res.units["n_models"].sum() == 0
    with pytest.warns(UserWarning, match="wider than one UTM zone"):  # its own UTM zone (49N)
        alone = compute_coverage(kh.loc[["22736"]], models.iloc[:0], with_gaps=False)
    assert area_errors(alone.units, kh).loc["22736"] > AREA_ERROR_BOUND


def test_a_partitioned_run_ranges_cameras_for_the_tier_asked(case, tmp_path: Path, capsys) -> None:
    """--tier applies to a partitioned run as to one run: each partition's figures equal the
    in-process tier run's (the cameras' ranges are set before the partitions take them), and
    the tier-unknown count is printed; --dem is refused there with a clear message.
    """
    from geo_antt.cli import main

    units, models = case
    models = models.copy()
    cams = models.index[models["kind"] == "camera"]
    models["resolution_px"] = float("nan")
    models.loc[cams[::2], "resolution_px"] = 1920.0  # every other camera rated 2MP; the rest tier unknown
    inputs = _case_files((units, models), tmp_path)
    out = {}
    for name, extra in (("plain", []), ("identify", ["--tier", "identify"])):
        path = tmp_path / f"{name}.parquet"
        assert main(["coverage", *inputs, "--crs", "utm", *extra, "--out", str(path), "-q"]) == 0
        text = capsys.readouterr().out
        if extra:
            assert "tier identify:" in text and "tier unknown" in text
        out[name] = gpd.read_parquet(path).set_index("unit_code")
    plain, tier = out["plain"], out["identify"]
    # identification reaches a few metres where the recorded ranges reach tens: less is covered
    assert tier["covered_m2"].sum() < plain["covered_m2"].sum()
    # and what one in-process run with the tier's ranges covers, unit by unit, up to the scale
    # difference of its one UTM zone against each partition's own (up to ~2 % across 108°E)
    from geo_antt.coverage import compute_coverage
    from geo_antt.layers import load_layer_specs
    from geo_antt.tiers import apply_tier

    ranged, _ = apply_tier(models, "identify", load_layer_specs())
    hamlets = units[units["level"] == "hamlet"]
    one = _warned_free(compute_coverage, units, ranged, level="hamlet").units
    assert _relative(tier.loc[hamlets.index, "covered_m2"], one.loc[hamlets.index, "covered_m2"]) < 0.025
    rc = main(
        ["coverage", *inputs, "--crs", "utm", "--dem", str(tmp_path / "none.tif"), "--out", str(tmp_path / "d.parquet")]
    )
    assert rc == 1 and "--dem is not available in a partitioned run" in capsys.readouterr().err


def _warned_free(fn, *args, **kwargs):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)
