from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geo_antt.cli import build_parser, main
from geo_antt.config import DEFAULT_DATA_DIR


def test_coverage_on_the_embedded_demo(tmp_path: Path, capsys) -> None:
    out, gaps = tmp_path / "hamlets.geojson", tmp_path / "gaps.geojson"
    assert main(["coverage", "--out", str(out), "--gaps", str(gaps)]) == 0
    text = capsys.readouterr().out
    assert "hamlet units" in text and "least covered" in text
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in doc
    props = [f["properties"] for f in doc["features"]]
    assert {
        "unit_code",
        "unit_name",
        "level",
        "parent_code",
        "approximate",
        "area_m2",
        "covered_m2",
        "covered_pct",
        "covered_m2_camera",
        "n_camera",
        "rank",
    } <= set(props[0])
    ranks = sorted(p["rank"] for p in props)
    assert ranks == list(range(1, len(props) + 1))
    uncovered = [p for p in props if p["covered_pct"] == 0]
    assert uncovered, "the demo leaves some hamlets without any coverage"
    g = gpd.read_file(gaps)
    assert len(g) > 0 and g.geometry.is_valid.all() and (g["area_m2"] >= 25).all()
    # every uncovered hamlet is one gap (or more) of its whole area
    full = g.groupby("unit_code")["area_m2"].sum()
    for p in uncovered[:5]:
        assert full[p["unit_code"]] == pytest.approx(p["area_m2"], rel=1e-6)


def test_coverage_from_files_with_hamlet_points(tmp_path: Path, shared_data: Path, capsys) -> None:
    communes = shared_data / "boundaries" / "ham_thuan_nam_communes_pre2025.geojson"
    # hamlet centres (points) in two communes and a camera/light sheet with Vietnamese headers
    c = gpd.read_file(communes).to_crs(32648)
    pts = []
    for _, row in c.head(2).iterrows():
        inner = row.geometry.buffer(-300)
        minx, miny, maxx, maxy = inner.bounds
        for i, (fx, fy) in enumerate([(0.3, 0.3), (0.7, 0.6), (0.5, 0.8)]):
            q = Point(minx + fx * (maxx - minx), miny + fy * (maxy - miny))
            if inner.contains(q):
                pts.append(
                    {
                        "code": f"{row.commune_code_gso}-{i}",
                        "name": f"Thôn {i + 1}",
                        "parent_code": row.commune_code_gso,
                        "geometry": q,
                    }
                )
    hp = gpd.GeoDataFrame(pts, crs=32648).to_crs(4326)
    hamlets = tmp_path / "thon.geojson"
    hp.to_file(hamlets)
    first = hp.geometry.iloc[0]
    csv = tmp_path / "mo_hinh.csv"
    csv.write_text(
        "Mã;Loại;Tên;Vĩ độ;Kinh độ;Hướng;Góc;Tầm xa (m);Bán kính (m);Trạng thái\n"
        f"CAM-1;Camera;Camera ngã ba;{first.y:.6f};{first.x:.6f};Đông Bắc;90;25;;Hoạt động\n"
        f"DEN-1;Đèn chiếu sáng;Đèn đường;{first.y + 0.0005:.6f};{first.x:.6f};;;;25;Hoạt động\n".replace(".", ","),
        encoding="utf-8-sig",
    )
    out = tmp_path / "thon_coverage.gpkg"
    rc = main(
        ["coverage", "--boundaries", str(communes), "--hamlets", str(hamlets), "--models", str(csv), "--out", str(out)]
    )
    assert rc == 0, capsys.readouterr().err
    res = gpd.read_file(out)
    assert set(res["level"]) == {"hamlet"} and res["approximate"].all()
    assert res["covered_m2"].sum() > 0 and res["n_camera"].sum() == 1 and res["n_lighting"].sum() == 1


def test_bad_rows_stop_the_run_unless_skipped(tmp_path: Path, shared_data: Path, capsys) -> None:
    communes = shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson"
    csv = tmp_path / "models.csv"
    csv.write_text(
        "id,kind,name,lat,lon,direction_deg,fov_deg,range_m,status\n"
        "A,camera,ok,10.13,106.33,90,90,20,active\n"
        "B,camera,bad direction,10.13,106.33,400,90,20,active\n"
        "C,camera,swapped,106.33,10.13,90,90,20,active\n",
        encoding="utf-8",
    )
    out = tmp_path / "u.geojson"
    assert main(["coverage", "--boundaries", str(communes), "--models", str(csv), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "models.csv" in err and "row 3" in err and "direction_deg" in err and "row 4" in err
    assert not out.exists()  # nothing written on failure
    assert (
        main(["coverage", "--boundaries", str(communes), "--models", str(csv), "--out", str(out), "--skip-invalid"])
        == 0
    )
    err = capsys.readouterr().err
    assert err.count("skipped:") >= 2
    assert gpd.read_file(out)["n_camera"].sum() == 1


def test_other_levels_and_missing_boundaries(tmp_path: Path, capsys) -> None:
    assert (
        main(["coverage", "--data", str(DEFAULT_DATA_DIR), "--level", "district", "--out", str(tmp_path / "d.geojson")])
        == 0
    )
    assert main(["coverage", "--models", "x.csv", "--out", str(tmp_path / "x.geojson")]) == 1
    assert "--boundaries" in capsys.readouterr().err


def test_ranking_weighted_by_a_demand_layer(tmp_path: Path, capsys) -> None:
    """Households as demand points: a hamlet whose households all sit under a camera is covered
    by weight even though its area is almost uncovered.
    """
    base = tmp_path / "area.geojson"
    assert main(["coverage", "--out", str(base)]) == 0
    units = gpd.read_file(base)
    capsys.readouterr()
    fp_path = tmp_path / "fp.geojson"
    assert main(["coverage", "--out", str(tmp_path / "x.geojson"), "--footprints", str(fp_path)]) == 0
    fps = gpd.read_file(fp_path)
    covered_hamlet = units.sort_values("covered_pct", ascending=False).iloc[0]
    # 10 households inside the footprints of that hamlet, 1 in an uncovered hamlet
    inside = fps[fps.intersects(covered_hamlet.geometry)].geometry.to_crs(32648).representative_point().to_crs(4326)
    inside = inside[inside.within(covered_hamlet.geometry)].head(1)
    bare = units[units["covered_pct"] == 0].iloc[0]
    demand = gpd.GeoDataFrame(
        {"households": [10, 1]}, geometry=[inside.iloc[0], bare.geometry.representative_point()], crs=4326
    )
    dpath = tmp_path / "ho_dan.geojson"
    demand.to_file(dpath)
    out = tmp_path / "ranked.geojson"
    assert (
        main(
            [
                "coverage",
                "--out",
                str(out),
                "--demand",
                str(dpath),
                "--weight-column",
                "households",
                "--threshold",
                "50",
            ]
        )
        == 0
    )
    assert "weighted by" in capsys.readouterr().out
    r = gpd.read_file(out).set_index("unit_code")
    assert r.loc[covered_hamlet["unit_code"], "weighted_covered_pct"] == pytest.approx(100.0)
    assert not r.loc[covered_hamlet["unit_code"], "uncovered"]
    assert r.loc[bare["unit_code"], "uncovered"] and r.loc[bare["unit_code"], "weighted_covered_pct"] == 0.0
    assert r.loc[bare["unit_code"], "need_rank"] < r.loc[covered_hamlet["unit_code"], "need_rank"]
    assert main(["coverage", "--out", str(out), "--demand", str(dpath), "--weight-column", "nope"]) == 1
    assert "nope" in capsys.readouterr().err


def test_csv_models_read_alongside_the_boundaries_report_in_file_order(
    tmp_path: Path, shared_data: Path, capsys
) -> None:
    """CSV model files are parsed on a second thread while the boundaries are read: their
    warnings still come in file order, and a boundary error still wins over a model error.
    """
    communes = shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson"
    first, second, bad = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "bad.csv"
    first.write_text("kind,lat,lon,radius_m\nlighting,10.13,106.33,20\n", encoding="utf-8")  # no id column: a warning
    second.write_text(
        "id,kind,lat,lon,radius_m,field\nL2,lighting,10.131,106.331,20,spaceflight\n", encoding="utf-8"
    )  # unknown field: a warning
    bad.write_text("id,kind,lat,lon,radius_m\nX,lighting,106.33,10.13,20\n", encoding="utf-8")
    out = tmp_path / "u.geojson"
    assert (
        main(["coverage", "--boundaries", str(communes), "--models", str(first), str(second), "--out", str(out)]) == 0
    )
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert (
        len(warned) == 2
        and "a.csv" in warned[0]
        and "no id column" in warned[0]
        and "b.csv" in warned[1]
        and "spaceflight" in warned[1]
    )
    assert gpd.read_file(out)["n_lighting"].sum() == 2
    assert (
        main(["coverage", "--boundaries", str(tmp_path / "missing.geojson"), "--models", str(bad), "--out", str(out)])
        == 1
    )
    err = capsys.readouterr().err
    assert "missing.geojson" in err and "bad.csv" not in err
    assert main(["coverage", "--boundaries", str(communes), "--models", str(first), str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 2" in err and "swapped" in err


def _mo_cay_nam_case(tmp_path: Path, shared_data: Path) -> tuple[Path, Path, Path]:
    """Real communes (Mỏ Cày Nam, pre-2025: neighbours overlap), 8 hamlet points each and 100
    cameras/lights per hamlet around its centre, seeded: (communes, hamlets, models) files.
    """
    import numpy as np
    import pandas as pd
    import shapely

    from geo_antt import io

    communes = shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson"
    rng = np.random.default_rng(0)
    cm = io.read_units(communes).to_crs(32648)
    pts, parent = [], []
    for code, geom in cm.geometry.items():
        minx, miny, maxx, maxy = geom.bounds
        cand = shapely.points(rng.uniform(minx, maxx, 60), rng.uniform(miny, maxy, 60))
        cand = cand[shapely.contains(geom, cand)][:8]
        pts.extend(cand)
        parent.extend([code] * len(cand))
    hamlets = tmp_path / "thon.geojson"
    gpd.GeoDataFrame(
        {"code": [f"{p}-{i}" for i, p in enumerate(parent)], "name": "Thôn", "parent_code": parent},
        geometry=pts,
        crs=32648,
    ).to_crs(4326).to_file(hamlets)
    cx, cy = shapely.get_coordinates(np.asarray(pts)).T
    n = 100 * len(pts)
    h, d, a = rng.integers(0, len(cx), n), rng.exponential(120.0, n), rng.uniform(0, 2 * np.pi, n)
    lonlat = gpd.GeoSeries(shapely.points(cx[h] + d * np.sin(a), cy[h] + d * np.cos(a)), crs=32648).to_crs(4326)
    light = rng.random(n) < 0.1
    models = tmp_path / "mo_hinh.csv"
    pd.DataFrame(
        {
            "id": [f"M{i}" for i in range(n)],
            "kind": np.where(light, "lighting", "camera"),
            "lat": lonlat.y.round(7),
            "lon": lonlat.x.round(7),
            "direction_deg": np.where(light, np.nan, rng.uniform(0, 360, n).round(1)),
            "fov_deg": np.where(light, np.nan, rng.uniform(80, 110, n).round()),
            "range_m": np.where(light, np.nan, rng.uniform(10, 30, n).round(1)),
            "radius_m": np.where(light, rng.uniform(15, 30, n).round(1), np.nan),
        }
    ).to_csv(models, index=False)
    return communes, hamlets, models


def test_written_gaps_stay_valid_once_rounded(tmp_path: Path, shared_data: Path, capsys) -> None:
    """Real communes, 8 hamlet points each and 100 cameras/lights per hamlet around its centre:
    a few gap holes come within millimetres of their hamlet's border, where plain rounding to
    7 decimals makes the rings cross (4 of the 254 gaps of this seeded case). The written gaps
    and units are all valid.
    """
    import numpy as np
    import shapely

    from geo_antt.cli.inputs import load_inputs
    from geo_antt.coverage import compute_coverage
    from geo_antt.crs import to_wgs84

    communes, hamlets, models = _mo_cay_nam_case(tmp_path, shared_data)
    out, gaps = tmp_path / "thon_coverage.geojson", tmp_path / "gaps.geojson"
    args = [
        "coverage",
        "--boundaries",
        str(communes),
        "--hamlets",
        str(hamlets),
        "--models",
        str(models),
        "--out",
        str(out),
        "--gaps",
        str(gaps),
    ]
    assert main(args) == 0, capsys.readouterr().err
    written = gpd.read_file(gaps)
    assert len(written) > 100 and written.geometry.is_valid.all()
    assert gpd.read_file(out).geometry.is_valid.all()
    # the case does hold gaps that plain rounding breaks (if a library update moves them, pick
    # another seed: the test must keep exercising the repair)
    ns = build_parser().parse_args(args)
    res = compute_coverage(*load_inputs(ns)[:2])
    g = to_wgs84(res.gaps_metric).geometry.to_numpy()
    plain = shapely.set_coordinates(g.copy(), np.round(shapely.get_coordinates(g), 7))
    assert shapely.is_valid(g).all() and not shapely.is_valid(plain).all()
    assert len(written) == len(g) and written["area_m2"].sum() == pytest.approx(res.gaps_metric["area_m2"].sum())


def test_the_coverage_command_gives_the_same_bytes_under_any_hash_seed(tmp_path: Path, shared_data: Path) -> None:
    """Outputs, summary and warnings do not depend on hash seed or thread timing: the program run
    under four hash seeds (those that once lost a warning among them) writes identical files and
    prints identical text. The case has a hamlet point in the overlap of two real communes.
    """
    import os
    import subprocess
    import sys

    communes, hamlets, models = _mo_cay_nam_case(tmp_path, shared_data)
    seen = set()
    for seed in ("0", "6", "8", "11"):
        out, gaps = tmp_path / f"cov-{seed}.geojson", tmp_path / f"gaps-{seed}.geojson"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "geo_antt",
                "coverage",
                "--boundaries",
                str(communes),
                "--hamlets",
                str(hamlets),
                "--models",
                str(models),
                "--out",
                str(out),
                "--gaps",
                str(gaps),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert proc.returncode == 0, proc.stderr
        text = (proc.stdout.replace(str(out), "OUT").replace(str(gaps), "GAPS"), proc.stderr)
        seen.add((text, out.read_bytes(), gaps.read_bytes()))
    assert len(seen) == 1
    (stdout, stderr), _, _ = next(iter(seen))
    assert "outside their parent commune" not in stderr and "least covered" in stdout


def test_the_program_ends_at_once_with_its_outputs_and_messages_complete(tmp_path: Path) -> None:
    """As the geo-antt program, a finished coverage run leaves its results to the operating
    system (no teardown): the files, the printed summary and the exit code are all there. An
    error still exits 1 with its message.
    """
    import subprocess
    import sys

    out, gaps = tmp_path / "hamlets.geojson", tmp_path / "gaps.geojson"
    proc = subprocess.run(
        [sys.executable, "-m", "geo_antt", "coverage", "--out", str(out), "--gaps", str(gaps)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "least covered" in proc.stdout and proc.stdout.rstrip().endswith(f"wrote {out}, {gaps}")
    assert len(json.loads(out.read_text(encoding="utf-8"))["features"]) > 0
    assert len(gpd.read_file(gaps)) > 0
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo_antt",
            "coverage",
            "--boundaries",
            str(tmp_path / "none.geojson"),
            "--models",
            str(tmp_path / "none.csv"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "none.geojson" in proc.stderr


def test_only_the_program_keeps_results_until_exit() -> None:
    from geo_antt import cli

    assert cli.leave_for_exit(object()) is False and cli._main._LEFT_FOR_EXIT == []
