"""``geo-antt validate``: check boundary and model files and print every problem at once."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
import warnings
from pathlib import Path
from typing import Any

import pyogrio

from .._errors import GeoAnttError, Problem, ValidationError
from ..i18n import msg, translate
from ..io.dataset import DATASET_FILE
from ..io.models import load_models
from ..io.vector import _read_unit_frame

__all__ = ["register", "validate_file"]

_TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls")

HELP = """\
Check files before using them and print every problem found, one per line, grouped by file:
file, spreadsheet row (header = row 1), column, value and reason. Nothing is written.

  * model files (CSV, XLSX; GeoJSON/GPKG of points): missing coordinates, latitude and
    longitude swapped, point outside Vietnam, direction outside 0-360, field of view outside
    (0, 360], non-positive range/radius, duplicate id, unknown kind or status, malformed
    numbers, an ambiguous "N" direction;
  * boundary files (GeoJSON, Shapefile, GPKG of polygons): missing or duplicate codes, empty or
    non-polygon geometry, repaired invalid polygons, CRS problems, text encoding guesses.

Exit status 1 when any file has an error, 0 otherwise (warnings alone do not fail).

examples:
  geo-antt validate models/camera.xlsx models/den.csv
  geo-antt validate --crs EPSG:9210 toa_do_vn2000.csv
  geo-antt validate --kind-lang vi --json boundaries/xa.shp models/*.csv
  geo-antt validate data/                  every file listed in data/dataset.toml
"""


def _looks_like_units(path: Path) -> bool:
    """Polygons -> a boundary file; points with a kind-like column -> models."""
    try:
        info = pyogrio.read_info(
            path, layer=str(pyogrio.list_layers(path)[0][0]) if path.suffix.lower() == ".gpkg" else None
        )
    except Exception:  # unreadable: let read_units report it
        return True
    gtype = str(info.get("geometry_type") or "")
    if "Polygon" in gtype:
        return True
    if "Point" in gtype or "Line" in gtype:
        from ..text import fold_key

        keys = {fold_key(str(f)) for f in info.get("fields", [])}
        return not (keys & {"kind", "loai", "loaimohinh", "type", "mohinh"})
    return True


def validate_file(
    path: str | Path,
    *,
    crs: str | None = None,
    lang: str | None = None,
    what: str = "auto",
    level: str | None = None,
    columns: dict[str, str] | None = None,
    sheet: str | None = None,
) -> dict[str, Any]:
    """Validate one file; return ``{"file", "type", "rows_ok", "problems": [Problem...],
    "defaults": {kind: {field: {"value", "rows"}}}}`` (the layer defaults blank cells get).
    """
    path = Path(path)
    kind = what
    if kind == "auto":
        kind = (
            "models"
            if path.suffix.lower() in _TABLE_SUFFIXES or not path.exists()
            else ("units" if _looks_like_units(path) else "models")
        )
    problems: list[Problem] = []
    rows_ok = 0
    defaults: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if kind == "models":
                gdf, problems = load_models(path, crs=crs, lang=lang, sheet=sheet)
                rows_ok = len(gdf)
                defaults = dict(gdf.attrs.get("defaults", {}))
            else:
                # polygons of any level, or hamlet centre points
                rows_ok = len(
                    _read_unit_frame(
                        path, level=level, columns=columns, crs=crs, encoding=None, layer=None, points=None
                    )
                )
        except ValidationError as exc:
            problems.extend(exc.problems)
        except GeoAnttError as exc:
            problems.append(Problem(str(path), None, None, None, exc.message))
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            problems.append(Problem(str(path), None, None, None, f"{exc.strerror}"))
    for w in caught:
        if issubclass(w.category, UserWarning):
            msg = str(w.message)
            prefix = f"{path}: "
            problems.append(
                Problem(str(path), None, None, None, msg[len(prefix) :] if msg.startswith(prefix) else msg, "warning")
            )
    return {"file": str(path), "type": kind, "rows_ok": rows_ok, "problems": problems, "defaults": defaults}


def _line(p: Problem, lang: str = "en") -> str:
    where = []
    if p.row is not None:
        where.append(translate(msg("row {row}", row=p.row), lang))
    if p.field:
        where.append(translate(msg("field '{field}'", field=p.field), lang))
    head = ", ".join(where)
    val = "" if p.value is None else " (" + translate(msg("value {value}", value=repr(p.value)), lang) + ")"
    tag = translate(msg("error") if p.severity == "error" else msg("warning"), lang)
    return f"  {tag}: {head + ': ' if head else ''}{translate(p.reason, lang)}{val}"


def _expand(files: list[str], *, what: str) -> list[tuple[Path, str, dict[str, Any]]]:
    """FILE arguments as (path, type, options); a dataset directory stands for the files its
    dataset.toml lists (units and models, with their options).
    """
    out: list[tuple[Path, str, dict[str, Any]]] = []
    for f in files:
        p = Path(f)
        toml_path = p / DATASET_FILE
        if p.is_dir() and toml_path.is_file():
            try:
                meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise GeoAnttError(f"{toml_path}: invalid TOML: {exc}") from None
            for key, typ in (("units", "units"), ("models", "models")):
                for item in meta.get(key, []):
                    rel, opts = (
                        (item, {})
                        if isinstance(item, str)
                        else (item.get("path", ""), {k: v for k, v in item.items() if k != "path"})
                    )
                    out.append((p / rel, typ, opts))
        else:
            out.append((p, what, {}))
    return out


def _run(args: argparse.Namespace) -> int:
    reports = [
        validate_file(
            p,
            crs=opts.get("crs", args.crs),
            lang=opts.get("lang", args.kind_lang),
            what=typ,
            level=opts.get("level"),
            columns=opts.get("columns"),
            sheet=opts.get("sheet", args.sheet),
        )
        for p, typ, opts in _expand(args.files, what=args.type)
    ]
    n_err = sum(1 for r in reports for p in r["problems"] if p.severity == "error")
    n_warn = sum(1 for r in reports for p in r["problems"] if p.severity != "error")
    if args.json:
        out = {
            "files": [
                {
                    "file": r["file"],
                    "type": r["type"],
                    "rows_ok": r["rows_ok"],
                    "problems": [p.to_dict() for p in r["problems"]],
                    "defaults": r["defaults"],
                }
                for r in reports
            ],
            "errors": n_err,
            "warnings": n_warn,
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        lang = getattr(args, "lang_messages", "en")
        vi = lang != "en"  # Vietnamese has no plural forms: one template each (the catalog's)
        for r in reports:
            e = sum(1 for p in r["problems"] if p.severity == "error")
            w = len(r["problems"]) - e
            noun = "rows" if r["type"] == "models" else "units"
            if vi:
                what = msg("models") if r["type"] == "models" else msg("units")
                status = msg("OK") if not e else msg("{n} errors", n=e)
                line = msg(
                    "{file} ({what}): {status}, {warnings} warnings, {valid} valid rows",
                    file=r["file"],
                    what=what,
                    status=status,
                    warnings=w,
                    valid=r["rows_ok"],
                )
                print(translate(line, lang))
            else:
                status_en = "OK" if not e else f"{e} error{'s' if e != 1 else ''}"
                print(
                    f"{r['file']} ({r['type']}): {status_en}, {w} warning{'s' if w != 1 else ''}, "
                    f"{r['rows_ok']} valid {noun}"
                )
            for p in sorted(r["problems"], key=lambda p: (p.row or 0, p.severity != "error")):
                print(_line(p, lang))
            for kind, fields in sorted(r["defaults"].items()):
                for fld, d in fields.items():
                    many = d["rows"] != 1
                    if vi:
                        note = msg(
                            "note: {n} {kind} rows without {field} use the layer default {value:g}",
                            n=d["rows"],
                            kind=kind,
                            field=fld,
                            value=d["value"],
                        )
                        print("  " + translate(note, lang))
                    else:
                        print(
                            f"  note: {d['rows']} {kind} row{'s' if many else ''} without {fld} "
                            f"use{'' if many else 's'} the layer default {d['value']:g}"
                        )
        files = len(reports)
        if vi:
            total = msg(
                "{files} files: {errors} errors, {warnings} warnings", files=files, errors=n_err, warnings=n_warn
            )
            print(translate(total, lang))
        else:
            print(
                f"{files} file{'s' if files != 1 else ''}: {n_err} error{'s' if n_err != 1 else ''}, "
                f"{n_warn} warning{'s' if n_warn != 1 else ''}"
            )
    return 1 if n_err else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``validate`` to the ``geo-antt`` command line."""
    p = subparsers.add_parser(
        "validate",
        help="check boundary and model files; print every problem (file, row, field, reason)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="CSV, XLSX, GeoJSON, GPKG or Shapefile; or a dataset directory (its dataset.toml files)",
    )
    p.add_argument(
        "--input-crs",
        "--crs",
        dest="crs",
        metavar="EPSG:NNNN",
        help="CRS of x/y columns or of a file without one (e.g. EPSG:3405, EPSG:9210 for VN-2000); "
        "--crs is the same option",
    )
    p.add_argument(
        "--kind-lang",
        choices=("vi", "en"),
        default=None,
        help="language of compass letters: a lone N is North (en) or Nam = South (vi); default: the headers' language",
    )
    p.add_argument("--sheet", metavar="NAME", help="worksheet of XLSX files (default: the first)")
    p.add_argument(
        "--type",
        choices=("auto", "models", "units"),
        default="auto",
        help="what the files hold (default: guess from format and geometry)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)
