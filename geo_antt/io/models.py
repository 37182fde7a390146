"""Security models (mô hình) from CSV, XLSX, GeoJSON and GeoPackage, validated row by row.

Public through :mod:`geo_antt.io` (:func:`load_models`, :func:`read_models`). The work is done
column by column: a file of 100,000 cameras holds a handful of kinds, statuses and directions,
each parsed once; numbers are parsed in bulk.
"""

from __future__ import annotations

import codecs
import csv
import io as io_mod
import itertools
import json
import math
import operator
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from .._errors import CRSError, GeoAnttError, Problem, ValidationError
from ..crs import VIETNAM_BOUNDS, WGS84, parse_crs, to_wgs84
from ..i18n import msg
from ..layers import (
    DEFAULT_BOUNDS,
    MAX_DIRECTIONS,
    TEXT_MAX_LENGTH,
    LayerSpec,
    bound_problem,
    load_layer_specs,
    resolve_kind,
    text_problem,
)
from ..schema import FIELDS, HOSTS, LENSES, STATUSES, lookup_vocab
from ..text import fold, fold_key, nfc
from ._readers import (
    _NATIONAL_BOX,
    _SWAPPED_BOX,
    _as_code,
    _as_text,
    _check_lonlat,
    _in_box,
    _looks_projected,
    _object_array,
    _read_vector,
    _warn,
)
from .cells import (
    ParseError,
    is_blank,
    parse_bool,
    parse_coordinate,
    parse_date,
    parse_directions,
    parse_number,
    parse_resolution,
)

__all__ = ["load_models", "read_models"]

# Suffixes of the files read as CSV text (no warning is issued while they are read).
CSV_SUFFIXES = (".csv", ".txt", ".tsv")

# --------------------------------------------------------------------------------------------
# security models

# field -> (English header aliases, Vietnamese header aliases); matched with fold_key.
_MODEL_HEADERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "id": (
        ("id", "model_id", "code", "ref", "identifier", "@id"),
        ("ma", "ma_mo_hinh", "ma_so", "ma_camera", "so_hieu", "ky_hieu"),
    ),
    "row_no": (("no", "row", "#"), ("stt", "so_thu_tu", "tt")),
    "kind": (
        ("kind", "type", "model_type", "category", "layer"),
        ("loai", "loai_mo_hinh", "mo_hinh", "kieu", "loai_hinh", "phan_loai"),
    ),
    "name": (("name", "title", "label"), ("ten", "ten_mo_hinh", "ten_goi", "ten_camera", "ten_diem")),
    "lat": (("lat", "latitude", "y_lat", "lat_deg"), ("vi_do", "vido", "vd")),
    "lon": (("lon", "lng", "long", "longitude", "x_lon", "lon_deg"), ("kinh_do", "kinhdo", "kd")),
    "x": (("x", "easting", "x_m"), ("toa_do_x", "x_vn2000")),
    "y": (("y", "northing", "y_m"), ("toa_do_y", "y_vn2000")),
    "coordinates": (
        ("coordinates", "coords", "location", "latlon", "lat_lon", "position"),
        ("toa_do", "vi_tri", "toa_do_gps", "dinh_vi"),
    ),
    "direction_deg": (
        ("direction_deg", "direction", "bearing", "heading", "azimuth", "camera:direction", "azimuth_deg"),
        ("huong", "huong_camera", "huong_quay", "huong_nhin", "goc_huong", "phuong_huong", "huong_do"),
    ),
    "fov_deg": (
        ("fov_deg", "fov", "angle", "camera:angle", "field_of_view", "view_angle", "angle_deg"),
        ("goc", "goc_nhin", "goc_quan_sat", "goc_quay", "goc_mo", "goc_do"),
    ),
    "range_m": (
        ("range_m", "range", "distance", "distance_m", "view_distance"),
        ("tam_xa", "tam_nhin", "tam_quan_sat", "khoang_cach", "tam_xa_m", "cu_ly"),
    ),
    "radius_m": (
        ("radius_m", "radius", "radius_meters"),
        ("ban_kinh", "ban_kinh_m", "ban_kinh_chieu_sang", "ban_kinh_bao_ve"),
    ),
    "height_m": (
        ("height_m", "height", "camera:height", "elevation_m"),
        ("chieu_cao", "do_cao", "chieu_cao_m", "do_cao_lap_dat"),
    ),
    "resolution_px": (
        (
            "resolution_px",
            "resolution",
            "camera:resolution",
            "horizontal_resolution",
            "megapixel",
            "megapixels",
            "pixels",
            "mp",
        ),
        ("do_phan_giai", "phan_giai", "do_phan_giai_camera", "so_diem_anh", "diem_anh", "so_cham"),
    ),
    "lens": (("lens", "lens_type", "camera:lens"), ("ong_kinh", "loai_ong_kinh", "kieu_ong_kinh")),
    "status": (("status", "state", "operational_status"), ("trang_thai", "tinh_trang", "tinh_trang_hoat_dong")),
    "field": (("field", "domain", "sector", "area_of_work"), ("linh_vuc", "linh_vuc_hoat_dong")),
    "host": (
        ("host", "host_type", "location_type", "placed_at", "setting"),
        (
            "noi",
            "noi_lap_dat",
            "noi_trien_khai",
            "don_vi_chu_quan",
            "dia_ban",
            "loai_dia_ban",
            "mo_hinh_tai",
            "noi_xay_dung",
        ),
    ),
    "unit_code": (
        ("unit_code", "hamlet_code", "commune_code", "unit"),
        ("ma_don_vi", "ma_thon", "ma_ap", "ma_xa", "ma_to_dan_pho", "ma_dia_ban"),
    ),
    "camera_type": (
        ("camera_type", "camera:type", "camera_mount", "camera:mount"),
        ("loai_camera", "kieu_camera", "chung_loai_camera"),
    ),
    "owner": (
        ("owner", "operator", "owned_by"),
        ("chu_so_huu", "chu_dau_tu", "nguoi_quan_ly", "don_vi_quan_ly", "so_huu"),
    ),
    "data_sharing": (
        ("data_sharing", "sharing", "shared", "connected"),
        ("chia_se_du_lieu", "chia_se", "ket_noi", "ket_noi_du_lieu", "cam_ket_chia_se"),
    ),
    "start_date": (
        ("start_date", "date", "installed", "install_date", "start", "since"),
        ("ngay", "ngay_lap_dat", "ngay_bat_dau", "ngay_trien_khai", "ngay_thanh_lap", "thoi_gian"),
    ),
    "end_date": (("end_date", "end", "removed", "until"), ("ngay_ket_thuc", "ngay_ngung", "ngay_thao_do")),
    "notes": (("notes", "note", "remarks", "description", "comment"), ("ghi_chu", "mo_ta", "chu_thich")),
}
_HEADER_INDEX: dict[str, tuple[str, str]] = {}
for _field, (_en, _vi) in _MODEL_HEADERS.items():
    for _a in _en:
        _HEADER_INDEX.setdefault(fold_key(_a), (_field, "en"))
    for _a in _vi:
        _HEADER_INDEX.setdefault(fold_key(_a), (_field, "vi"))

_CAMERA_TYPES = {
    "fixed": ("fixed", "bullet", "box", "co dinh", "than", "camera than", "thân"),
    "ptz": ("ptz", "xoay", "quay quet", "xoay 360", "speed dome", "camera xoay"),
    "dome": ("dome", "ban cau", "camera ban cau", "cau"),
}

_CSV_SUFFIXES = CSV_SUFFIXES
_XLSX_SUFFIXES = (".xlsx", ".xlsm")

# Limits of a table file (CSV or a sheet), checked while it is read so that a small hostile file
# (a cell at row 1,000,000, at column XFD, 100,000 columns) cannot hold the server for minutes.
MAX_TABLE_ROWS = 200_000
"""At most this many rows (the sheet's row numbers / the CSV's records, blank ones included)."""
MAX_TABLE_COLUMNS = 200
"""At most this many columns holding a value."""
MAX_CELL_CHARS = 10_000
"""At most this many characters in one cell."""

_VOCAB_NAMES = {"status": msg("status"), "field": msg("field"), "host": msg("host")}
"""The names of the vocabularies in messages (translated with them)."""

_LIMIT_TEXT = {
    "rows": ("more than {n:,} rows", "quá {n_vi} dòng"),
    "columns": ("more than {n:,} columns", "quá {n_vi} cột"),
    "cell": ("a cell longer than {n:,} characters", "một ô dài quá {n_vi} ký tự"),
}


def _table_limit_error(path: Path, what: str, where: str = "") -> GeoAnttError:
    """The error for a table file over a limit, in English and Vietnamese, naming all limits."""
    n = {"rows": MAX_TABLE_ROWS, "columns": MAX_TABLE_COLUMNS, "cell": MAX_CELL_CHARS}[what]
    en, vi = _LIMIT_TEXT[what]
    n_vi = f"{n:,}".replace(",", ".")
    at = f" ({where})" if where else ""
    rows_vi, cells_vi = f"{MAX_TABLE_ROWS:,}".replace(",", "."), f"{MAX_CELL_CHARS:,}".replace(",", ".")
    return GeoAnttError(
        f"{path}: {en.format(n=n)}{at}; a table may have at most {MAX_TABLE_ROWS:,} rows, {MAX_TABLE_COLUMNS} "
        f"columns and {MAX_CELL_CHARS:,} characters a cell / tệp có {vi.format(n_vi=n_vi)}{at}; một bảng có tối đa "
        f"{rows_vi} dòng, {MAX_TABLE_COLUMNS} cột, {cells_vi} ký tự một ô"
    )


def _decode_csv(path: Path, raw: bytes) -> tuple[str, str, list[Problem]]:
    """Text of a CSV file, the codec used, and a warning when it was guessed."""
    notes: list[Problem] = []
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig", notes
        except UnicodeDecodeError as exc:
            raise GeoAnttError(f"{path}: starts with a UTF-8 mark but is not UTF-8 ({exc})") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16", notes
    try:
        return raw.decode("utf-8"), "utf-8", notes
    except UnicodeDecodeError:
        pass
    text1258 = raw.decode("cp1258", errors="replace")
    vi_marks = sum(text1258.count(ch) for ch in "ăĂđĐơƠưƯ\u0300\u0301\u0303\u0309\u0323")
    label: str
    if vi_marks:
        codec, label = "cp1258", msg("Windows-1258 (Vietnamese)")
    else:
        codec, label = "cp1252", "Windows-1252"
    text = raw.decode(codec, errors="replace")
    notes.append(
        Problem(
            str(path),
            None,
            None,
            None,
            msg("not UTF-8: decoded as {codec}; save as UTF-8 (CSV UTF-8) to be sure", codec=label),
            "warning",
        )
    )
    return text, codec, notes


def _sniff_delimiter(text: str) -> str:
    head = text[:65536]
    lines = [ln for ln in (head.splitlines()[:-1] if len(head) < len(text) else head.splitlines()) if ln.strip()]
    if len(lines) < 20 and len(head) < len(text):  # very long lines: split it all
        lines = [ln for ln in text.splitlines() if ln.strip()]
    lines = lines[:20]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
    except csv.Error:
        head = lines[0] if lines else ""
        counts = {d: head.count(d) for d in (";", "\t", ",")}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _header_key(h: Any) -> str:
    """Fold a header for matching; a unit in brackets is dropped ("Tầm xa (m)" -> "tamxa")."""
    text = re.sub(r"\(.*?\)|\[.*?\]", " ", "" if h is None else str(h))
    return fold_key(text)


def _split_header(records: list[tuple[int, list[Any]]]) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Find the header among the first non-empty rows (title lines above it are common in
    Vietnamese reports: the first row with two or more known column names), return
    (header, data rows after it).
    """
    for k, (_rownum, vals) in enumerate(records[:10]):  # noqa: B007 (k, the header row, is read after the loop)
        known = {_HEADER_INDEX[key][0] for key in map(_header_key, vals) if key in _HEADER_INDEX}
        if len(known) >= 2:
            break
    else:
        k = 0
    if not records:
        return [], []
    header = ["" if v is None else (nfc(str(v)) or "") for v in records[k][1]]
    return header, records[k + 1 :]


def _to_columns(header: list[str], records: list[tuple[int, list[Any]]]) -> tuple[list[int], list[list[Any]]]:
    """Row numbers and the columns (one list per header cell) of row-major records; short
    rows are padded with None, cells beyond the header are dropped.
    """
    width = len(header)
    rows = [vals for _r, vals in records]
    if rows and min(map(len, rows)) >= width:  # the usual case: no short row, zip transposes
        columns = [list(c) for c in itertools.islice(zip(*rows), width)]
    else:
        padded = [vals if len(vals) >= width else list(vals) + [None] * (width - len(vals)) for vals in rows]
        columns = [list(c) for c in zip(*padded)][:width] if padded else [[] for _ in range(width)]
    return [r for r, _ in records], columns


def _plain_csv_columns(text: str, delim: str) -> list[list[str]] | None:
    """The columns of every record of a *plain* CSV text, read by pandas' C parser; None when
    the text is not plain. Plain: no quote character (so a record is a line and a cell is the
    text between delimiters, exactly as :mod:`csv` reads it), no NUL, and every non-empty line
    with the same number of cells. Empty lines come back as rows of empty cells, so that the
    row number of record ``i`` is ``i + 1``.
    """
    if not text or '"' in text or "\x00" in text:
        return None
    if "\r" in text:  # csv ends a record at \r, \n or \r\n: the same as one \n
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the last line's terminator starts no record
    n_lines = len(lines)
    n_cells_lines = n_lines - lines.count("")
    try:
        frame = pd.read_csv(
            io_mod.StringIO(text),
            sep=delim,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
            engine="c",
            low_memory=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None  # a line with more cells than the first one: the csv module's path
    width = frame.shape[1]
    if len(frame) != n_lines or text.count(delim) != (width - 1) * n_cells_lines:
        return None  # ragged lines (padded by pandas): the csv module's path
    return [frame[c].tolist() for c in frame.columns]


def _read_csv_table(path: Path) -> tuple[list[str], list[int], list[list[Any]], list[Problem]]:
    text, _codec, notes = _decode_csv(path, path.read_bytes())
    text = unicodedata.normalize("NFC", text.lstrip("\ufeff"))
    delim = _sniff_delimiter(text)
    _check_csv_header(path, text, delim)
    return (*_csv_text_table(text, delim, path=path), notes)


def _check_csv_header(path: Path, text: str, delim: str) -> None:
    """Raise when the first non-blank record of a CSV text is wider than the limit (read
    lazily: only that record is parsed).
    """
    for recno, rec in enumerate(csv.reader(io_mod.StringIO(text, newline=""), delimiter=delim), start=1):
        if recno > MAX_TABLE_ROWS:
            raise _table_limit_error(path, "rows", f"row {recno:,}")
        if any(rec):
            if len(rec) > MAX_TABLE_COLUMNS:
                raise _table_limit_error(path, "columns", f"header row {recno:,}: {len(rec):,} cells")
            return


def _csv_text_table(text: str, delim: str, *, path: Path | None = None) -> tuple[list[str], list[int], list[list[Any]]]:
    """(header, row numbers, columns) of a CSV text: pandas' C parser for a plain text (see
    :func:`_plain_csv_columns`), else the :mod:`csv` module; both give the same table.

    With ``path`` the table limits (:data:`MAX_TABLE_ROWS`, :data:`MAX_TABLE_COLUMNS`,
    :data:`MAX_CELL_CHARS`) are checked: before pandas parses a plain text (its lines are its
    records), and record by record in the :mod:`csv` module's path.
    """
    if path is not None and '"' not in text:
        n_lines = text.count("\n") + text.count("\r") - text.count("\r\n")
        if text and not text.endswith(("\n", "\r")):
            n_lines += 1  # a last line without its terminator
        if n_lines > MAX_TABLE_ROWS:
            raise _table_limit_error(path, "rows", f"{n_lines:,} lines")
    plain = _plain_csv_columns(text, delim)
    if plain is not None:
        if path is not None:
            if len(plain) > MAX_TABLE_COLUMNS:
                raise _table_limit_error(path, "columns", f"{len(plain):,} columns")
            if len(text) > MAX_CELL_CHARS:
                for j, col in enumerate(plain):
                    if max(map(len, col), default=0) > MAX_CELL_CHARS:
                        raise _table_limit_error(path, "cell", f"column {j + 1}")
        return _plain_table(plain)
    return _csv_module_table(text, delim, path=path)


def _csv_module_table(
    text: str, delim: str, *, path: Path | None = None
) -> tuple[list[str], list[int], list[list[Any]]]:
    reader = csv.reader(io_mod.StringIO(text, newline=""), delimiter=delim)
    # a record is blank when all its cells are empty or white space (any() and the first cell
    # decide most records without joining them)
    records: list[tuple[int, list[Any]]] = []
    try:
        for recno, rec in enumerate(reader, start=1):
            if path is not None:
                if recno > MAX_TABLE_ROWS:
                    raise _table_limit_error(path, "rows", f"row {recno:,}")
                if len(rec) > MAX_TABLE_COLUMNS and any(rec[MAX_TABLE_COLUMNS:]):
                    raise _table_limit_error(path, "columns", f"row {recno:,}: {len(rec):,} cells")
                if max(map(len, rec), default=0) > MAX_CELL_CHARS:
                    raise _table_limit_error(path, "cell", f"row {recno:,}")
            if any(rec) and (rec[0].strip() or "".join(rec).strip()):
                records.append((recno, rec))
    except csv.Error as exc:  # e.g. a field larger than csv.field_size_limit()
        raise GeoAnttError(f"{path or 'CSV text'}: cannot read as CSV ({exc})") from None
    header, rows = _split_header(records)
    return (header, *_to_columns(header, rows))


def _plain_table(columns: list[list[str]]) -> tuple[list[str], list[int], list[list[Any]]]:
    """(header, row numbers, columns) of the records of a plain CSV given as columns: the
    same as ``_split_header`` + ``_to_columns`` on its non-blank records, column-wise.
    """
    n = len(columns[0])
    blank = np.ones(n, dtype=bool)
    for c in columns:
        blank &= np.asarray(c, dtype=object) == ""
    first = columns[0]
    # a record of white space only is blank too (the first cell rules most records out)
    for i in [i for i in np.flatnonzero(~blank).tolist() if not first[i].strip()]:
        if not "".join(c[i] for c in columns).strip():
            blank[i] = True
    keep = np.flatnonzero(~blank)
    if not keep.size:
        return [], [], []
    head = [(int(i) + 1, [c[i] for c in columns]) for i in keep[:10]]
    header, rest = _split_header(head)
    data = keep[len(head) - len(rest) :]  # the records after the header
    if len(data) and data[-1] - data[0] == len(data) - 1 and data[-1] == n - 1:
        cols = [c[data[0] :] for c in columns]  # no blank record after the header
    else:
        cols = [[c[i] for i in data.tolist()] for c in columns]
    return header, (data + 1).tolist(), cols


def _read_xlsx_table(path: Path, sheet: str | None) -> tuple[list[str], list[int], list[list[Any]], list[Problem]]:
    import openpyxl  # only for workbooks: a CSV run starts without it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise GeoAnttError(f"{path}: cannot read as an Excel .xlsx workbook ({exc})") from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise GeoAnttError(f"{path}: no sheet {sheet!r}; the workbook has {wb.sheetnames}")
        # the declared size (<dimension>) first, then the cells themselves: a sheet may declare
        # less than it holds, so the declaration is dropped and every row is bounded as it comes
        declared_rows, declared_cols = ws.max_row, ws.max_column
        if declared_rows is not None and declared_rows > MAX_TABLE_ROWS:
            raise _table_limit_error(path, "rows", f"sheet {ws.title!r} declares {declared_rows:,}")
        if declared_cols is not None and declared_cols > MAX_TABLE_COLUMNS:
            raise _table_limit_error(path, "columns", f"sheet {ws.title!r} declares {declared_cols:,}")
        ws.reset_dimensions()
        records: list[tuple[int, list[Any]]] = []
        for rownum, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if rownum > MAX_TABLE_ROWS:
                raise _table_limit_error(path, "rows", f"row {rownum:,}")
            if len(values) > MAX_TABLE_COLUMNS:
                if not all(is_blank(v) for v in values[MAX_TABLE_COLUMNS:]):
                    raise _table_limit_error(path, "columns", f"row {rownum:,}")
                values = values[:MAX_TABLE_COLUMNS]
            vals = [nfc(v) if isinstance(v, str) else v for v in values]
            if all(is_blank(v) for v in vals):
                continue
            for j, v in enumerate(vals):
                if isinstance(v, str) and len(v) > MAX_CELL_CHARS:
                    raise _table_limit_error(path, "cell", f"row {rownum:,}, column {j + 1}")
            records.append((rownum, vals))
    finally:
        wb.close()
    header, rows = _split_header(records)
    return (header, *_to_columns(header, rows), [])


def _split_pair(v: Any) -> tuple[str, str]:
    """Split a pair: "10.1269, 106.6867" / "10,1269; 106,6867" / DMS pair -> (lat text, lon text)."""
    s = str(v).strip().strip("()[]")
    for sep in (";", "|", "\t"):
        if sep in s:
            a, _, b = s.partition(sep)
            return a, b
    if s.count(",") == 1:
        a, _, b = s.partition(",")
        return a, b
    if s.count(",") == 3:  # comma decimals and a comma separator: 10,12, 106,68
        parts = s.split(",")
        return parts[0] + "," + parts[1], parts[2] + "," + parts[3]
    m = re.match(r"^(.*?[NSns])\s+(.*[EWew])$", s)
    if m:
        return m.group(1), m.group(2)
    parts = s.split()
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ParseError(msg("not a coordinate pair (write 'latitude, longitude', e.g. 10.1269, 106.6867)"))


def _camera_type(v: Any) -> str:
    key = fold(str(v))
    for code, aliases in _CAMERA_TYPES.items():
        if key == code or key in aliases:
            return code
    return nfc(str(v)) or ""


def load_models(
    path: str | os.PathLike[str],
    *,
    crs: object = None,
    specs: Mapping[str, LayerSpec] | None = None,
    lang: str | None = None,
    sheet: str | None = None,
    source_rows: bool = False,
    fill_absent: bool = True,
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Read security models and validate every row; never raises for row problems.

    Parameters
    ----------
    path
        CSV (UTF-8 with or without BOM; otherwise Windows-1258/1252 is detected and a warning
        says so; comma, semicolon or tab separated — sniffed), XLSX (first sheet or ``sheet``),
        GeoJSON, GeoPackage or Shapefile (point geometry; properties as columns).
    crs
        CRS of ``x``/``y`` columns (e.g. "EPSG:9210" for VN-2000 TM-3 105°45'), or of a vector
        file without one.
    specs
        Layer specs (default: ``layers/*.toml``) that define the kinds and their aliases.
    lang
        "vi" or "en": the language of compass letters (a lone "N" is North in English, Nam =
        South in Vietnamese). None: the language of the file's headers; when they do not tell,
        "N" is reported as ambiguous.
    sheet
        Worksheet name of an XLSX file.
    source_rows
        When true, an int column ``source_row`` gives each kept row's place in the file (the
        row as a spreadsheet shows it, header = 1; the feature number for vector files), so
        that later checks (``Store.preview_import``) name the rows a user sees.
    fill_absent
        True: every model column is in the frame (blank when the file has no column for it).
        False: model columns the file has no column for are left out (``id``, ``kind`` and the
        geometry always stay), so that an import updating stored models keeps their other
        fields (an owner, a status) instead of blanking them.

    Returns
    -------
    (GeoDataFrame, list of Problem)
        The valid rows (EPSG:4326, index = ``id``, ``MODEL_COLUMNS`` + geometry + unrecognised
        columns kept as they are) and every problem found, errors and warnings, each with file,
        row (spreadsheet row, header = 1; feature number for vector files), field, value and
        reason. A row with an error is not in the frame.

    Notes
    -----
    Headers are matched ignoring case, diacritics and punctuation, in English or Vietnamese
    (``lat``/``vĩ độ``, ``lon``/``kinh độ``, ``kind``/``loại``, ``direction_deg``/``hướng``/
    ``camera:direction``, ``fov_deg``/``góc``/``camera:angle``, ``range_m``/``tầm xa``,
    ``radius_m``/``bán kính``, ``resolution_px``/``độ phân giải``/``resolution`` (pixels, or
    ``2MP``, ``4MP``, ``8MP``, ``4K``...: :func:`geo_antt.io.cells.parse_resolution`),
    ``lens``/``ống kính`` (rectilinear, fisheye, panoramic), ``status``/``trạng thái``...). Blank ``fov_deg``, ``range_m``,
    ``radius_m`` and ``height_m`` stay NaN: the footprint code then uses the kind's default from
    its layer spec; ``frame.attrs["defaults"]`` lists, per kind, the defaults that will apply
    and how many rows rely on them. A blank status means ``active``. Without an id column,
    ids ``<file stem>-<row>`` are generated (warning).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    specs = load_layer_specs() if specs is None else specs
    if lang is not None and lang not in ("vi", "en"):
        raise GeoAnttError(f"lang must be 'vi' or 'en', got {lang!r}")
    suffix = path.suffix.lower()
    fname = str(path)
    geoms: list[Any] | None = None
    if suffix in _CSV_SUFFIXES:
        header, rownums, columns, problems = _read_csv_table(path)
    elif suffix in _XLSX_SUFFIXES:
        header, rownums, columns, problems = _read_xlsx_table(path, sheet)
    elif suffix == ".xls":
        raise GeoAnttError(f"{path}: old Excel .xls files are not read; save the sheet as .xlsx or CSV UTF-8")
    else:
        table = _read_geojson_table(path) if suffix in (".geojson", ".json") else None
        if table is None:
            table = _read_vector_table(path, crs=crs)
        header, rownums, columns, geoms, problems = table
    return _build_models(
        fname,
        path.stem,
        header,
        rownums,
        columns,
        geoms,
        problems,
        crs=crs,
        specs=specs,
        lang=lang,
        vector=geoms is not None,
        source_rows=source_rows,
        fill_absent=fill_absent,
    )


_CRS84_NAMES = ("urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4326", "CRS84", "OGC:CRS84")


def _read_geojson_table(path: Path) -> tuple[list[str], list[int], list[list[Any]], list[Any], list[Problem]] | None:
    """A GeoJSON FeatureCollection read with the json module (much faster than GDAL for
    100,000 points, and JSON arrays stay lists). None when GDAL should read it instead (a
    legacy ``crs`` member naming a projected CRS, or not a FeatureCollection).
    """
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise GeoAnttError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise GeoAnttError(
            f"{path}: JSON nested too deeply (arrays or objects inside each other) to be GeoJSON"
        ) from None
    if not isinstance(doc, dict):
        return None
    if doc.get("type") == "Feature":
        feats = [doc]
    elif doc.get("type") == "FeatureCollection" and isinstance(doc.get("features"), list):
        feats = doc["features"]
    else:
        return None
    crs_member = doc.get("crs")
    if crs_member is not None:
        name = str((crs_member.get("properties") or {}).get("name", "")) if isinstance(crs_member, dict) else ""
        if name not in _CRS84_NAMES:
            return None
    props = [f.get("properties") or {} if isinstance(f, dict) else {} for f in feats]
    keys = list(dict.fromkeys(k for p in props for k in p))
    if "id" not in keys and any(isinstance(f, dict) and f.get("id") is not None for f in feats):
        keys.insert(0, "id")
        props = [dict(p, id=f.get("id")) if "id" not in p else p for p, f in zip(props, feats)]
    norm = unicodedata.normalize
    columns = [[norm("NFC", v) if type(v) is str else v for v in (p.get(k) for p in props)] for k in keys]
    geoms: list[Any] = []
    for f in feats:
        g = f.get("geometry") if isinstance(f, dict) else None
        if not g:
            geoms.append(None)
        elif g.get("type") == "Point" and isinstance(g.get("coordinates"), list) and len(g["coordinates"]) >= 2:
            c = g["coordinates"]
            try:
                geoms.append((float(c[0]), float(c[1])))
            except (TypeError, ValueError):
                geoms.append(shapely.Point())
        else:
            try:
                geoms.append(shapely.from_geojson(json.dumps(g)))
            except shapely.errors.GEOSException:
                geoms.append(shapely.Point())  # reported as empty geometry below
    garr = _make_geometry(geoms)
    present = ~shapely.is_missing(garr) & ~shapely.is_empty(garr)
    if present.any() and _looks_projected(tuple(shapely.total_bounds(garr[present]))):
        return None  # projected coordinates: GDAL and --input-crs
    return keys, list(range(1, len(feats) + 1)), columns, list(garr), []


def _read_vector_table(
    path: Path, *, crs: object
) -> tuple[list[str], list[int], list[list[Any]], list[Any], list[Problem]]:
    gdf = _read_vector(path, encoding=None, layer=None)
    notes: list[Problem] = []
    geo = gdf.geometry
    present = ~(geo.isna() | geo.is_empty)
    if crs is not None and present.any():
        b = tuple(float(v) for v in shapely.total_bounds(geo[present].to_numpy()))
        if gdf.crs is None or (gdf.crs.is_geographic and _looks_projected(b)):
            gdf = gdf.set_crs(parse_crs(crs, what=f"{path}: crs"), allow_override=True)
    elif gdf.crs is not None and gdf.crs.is_geographic and present.any():
        b = tuple(float(v) for v in shapely.total_bounds(geo[present].to_numpy()))
        if _looks_projected(b):
            raise CRSError(
                f"{path}: the coordinates are not degrees (x {b[0]:.1f}..{b[2]:.1f}); say which CRS they are in with --input-crs (e.g. EPSG:3405 for VN-2000 / UTM 48N)"
            )
    if gdf.crs is None:
        b = tuple(float(v) for v in shapely.total_bounds(geo[present].to_numpy())) if present.any() else VIETNAM_BOUNDS
        if _in_box(b, _NATIONAL_BOX) or _in_box(b, _SWAPPED_BOX) or not present.any():
            notes.append(
                Problem(
                    str(path),
                    None,
                    None,
                    None,
                    msg("no CRS in the file: coordinates read as lon/lat (EPSG:4326)"),
                    "warning",
                )
            )
            gdf = gdf.set_crs(WGS84)
        else:
            raise CRSError(
                f"{path}: the file has no CRS and its coordinates are not lon/lat; give it with --input-crs (e.g. EPSG:3405 for VN-2000 / UTM 48N)"
            )
    gdf = to_wgs84(gdf)
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    norm = unicodedata.normalize
    columns = [[norm("NFC", v) if type(v) is str else v for v in gdf[c].tolist()] for c in cols]
    return [str(c) for c in cols], list(range(1, len(gdf) + 1)), columns, list(gdf.geometry.to_numpy()), notes


def _build_models(
    fname: str,
    stem: str,
    header: list[str],
    rownums: list[int],
    columns: list[list[Any]],
    geoms: list[Any] | None,
    problems: list[Problem],
    *,
    crs: object,
    specs: Mapping[str, LayerSpec],
    lang: str | None,
    vector: bool,
    source_rows: bool = False,
    fill_absent: bool = True,
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    problems = list(problems)
    # ---- headers
    col_of: dict[str, int] = {}
    extras: list[tuple[int, str]] = []
    votes = {"vi": 0, "en": 0}
    for j, h in enumerate(header):
        key = _header_key(h)
        hit = _HEADER_INDEX.get(key)
        if hit is None or not key:
            if h and h.strip():
                extras.append((j, h))
            continue
        field_, hl = hit
        if field_ in col_of:
            problems.append(
                Problem(
                    fname,
                    None,
                    h,
                    None,
                    msg(
                        "second column for '{field}' (first: '{first}'); ignored",
                        field=field_,
                        first=header[col_of[field_]],
                    ),
                    "warning",
                )
            )
            continue
        col_of[field_] = j
        if key not in ("id", "x", "y"):
            votes[hl] += 1
    header_lang = "vi" if votes["vi"] > votes["en"] else "en" if votes["en"] > votes["vi"] else None
    dir_lang = lang or header_lang

    xy_crs = None
    if not vector:
        has_latlon = "lat" in col_of or "lon" in col_of or "coordinates" in col_of
        if ("x" in col_of or "y" in col_of) and not has_latlon:
            if crs is None:
                problems.append(
                    Problem(
                        fname,
                        None,
                        header[col_of.get("x", col_of.get("y", 0))],
                        None,
                        msg(
                            "x/y columns need the CRS they are in: give --input-crs (e.g. EPSG:3405 or EPSG:9210 for VN-2000)"
                        ),
                    )
                )
            else:
                xy_crs = parse_crs(crs, what=f"{fname}: crs")
        if "kind" not in col_of:
            problems.append(Problem(fname, None, None, None, msg("no kind column (kind / loại / loại mô hình)")))
        if not has_latlon and "x" not in col_of and "y" not in col_of:
            problems.append(
                Problem(
                    fname,
                    None,
                    None,
                    None,
                    msg("no coordinate columns (lat + lon / vĩ độ + kinh độ, or x + y with --input-crs)"),
                    "warning",
                )
            )
    if "id" not in col_of and rownums:
        problems.append(
            Problem(fname, None, None, None, msg("no id column: ids {stem}-<row> were generated", stem=stem), "warning")
        )
    transformer = Transformer.from_crs(xy_crs, WGS84, always_xy=True) if xy_crs is not None else None

    def hname(field_: str) -> str:
        return header[col_of[field_]] if field_ in col_of else field_

    n = len(rownums)
    # the recognised columns, cleaned once (blank -> None, text stripped)
    cols: dict[str, list[Any]] = {field_: _clean_column(columns[j]) for field_, j in col_of.items()}
    blank_col: list[Any] = [None] * n

    def col(field_: str) -> list[Any]:
        return cols.get(field_, blank_col)

    found: list[tuple[int, int, Problem]] = []
    bad = np.zeros(n, dtype=bool)
    loc_err = np.zeros(n, dtype=bool)
    counter = itertools.count()

    def err(k: int, field_: str | None, value: Any, reason: str, severity: str = "error") -> None:
        found.append(
            (
                k,
                next(counter),
                Problem(
                    fname,
                    rownums[k],
                    hname(field_) if field_ else None,
                    value,
                    reason,
                    severity,
                    model_id=ids[k] if k < len(ids) else None,
                ),
            )
        )
        if severity == "error":
            bad[k] = True

    def mapped(
        field_: str, fn: Callable[[Any], Any], on_error: Callable[[int, Any, ParseError], None], *, blank: Any = None
    ) -> list[Any]:
        """``fn`` over a column, computed once per distinct value (a column of 100,000 rows
        holds a few kinds, statuses or directions); ParseErrors go to ``on_error``.
        """
        if field_ not in col_of:
            return [blank] * n  # no such column: every cell is blank
        values = col(field_)
        try:
            uniq = dict.fromkeys(values)
        except TypeError:  # JSON arrays: as tuples, or one by one when nested
            values = [tuple(v) if isinstance(v, (list, np.ndarray)) else v for v in values]
            try:
                uniq = dict.fromkeys(values)
            except TypeError:
                uniq = None
        if uniq is not None:
            res: dict[Any, Any] = {}
            failed: dict[Any, ParseError] = {}
            for v in uniq:
                if v is None:
                    res[v] = blank
                    continue
                try:
                    res[v] = fn(v)
                except ParseError as exc:
                    res[v] = blank
                    failed[v] = exc
            out = list(map(res.__getitem__, values))
            if failed:
                for k, v in enumerate(values):
                    if v is not None and v in failed:
                        on_error(k, v, failed[v])
            return out
        out = []
        for k, v in enumerate(values):
            if v is None:
                out.append(blank)
                continue
            try:
                out.append(fn(v))
            except ParseError as exc:
                on_error(k, v, exc)
                out.append(blank)
        return out

    # ---- id
    if "id" in col_of:
        ids: list[str | None] = [v if type(v) is str else _as_code(v) for v in col("id")]
        if None in ids:
            for k in [k for k, rid in enumerate(ids) if rid is None]:
                err(k, "id", None, msg("missing id"))
    else:
        ids = [f"{stem}-{r}" for r in rownums]
    if len(set(ids)) < len(ids):  # some id repeats (or several are missing): find which
        seen_ids: dict[str, int] = {}
        for k, rid in enumerate(ids):
            if rid is None:
                continue
            first = seen_ids.setdefault(rid, rownums[k])
            if first != rownums[k]:
                err(k, "id", rid, msg("duplicate id (first at row {row})", row=first))

    # ---- kind and vocabularies
    known_kinds = ", ".join(f"{sp.kind} ({sp.title_vi})" for sp in specs.values())

    def _kind(v: Any) -> str:
        kd = resolve_kind(v, specs)
        if kd is None:
            raise ParseError(msg("unknown kind; known kinds: {known}", known=known_kinds))
        return kd

    kinds: list[str | None] = mapped("kind", _kind, lambda k, v, e: err(k, "kind", v, e.message))
    if "kind" in col_of and None in col("kind"):
        for k in [k for k, v in enumerate(col("kind")) if v is None]:
            err(k, "kind", None, msg("missing kind"))

    def _vocab(vocab: Mapping[str, Any], what: str, known: str) -> Callable[[Any], str]:
        def look(v: Any) -> str:
            code = lookup_vocab(vocab, v)
            if code is None:
                raise ParseError(msg("unknown {what}; {known}", what=_VOCAB_NAMES.get(what, what), known=known))
            return code

        return look

    known_status = msg("use one of: {codes}", codes=", ".join(f"{c} ({v[0]})" for c, v in STATUSES.items()))
    statuses = mapped(
        "status",
        _vocab(STATUSES, "status", known_status),
        lambda k, v, e: err(k, "status", v, e.message),
        blank="active",
    )
    vocab_cols: dict[str, list[str | None]] = {}
    for fld, vocab in (("field", FIELDS), ("host", HOSTS)):
        known = msg("left empty (known: {names})", names=", ".join(v[0] for v in vocab.values()))
        vocab_cols[fld] = mapped(
            fld,
            _vocab(vocab, fld, known),
            lambda k, v, e, fld=fld: err(k, fld, v, e.message, "warning"),  # type: ignore[misc]  # a lambda with a default
        )

    # ---- numbers
    numbers: dict[str, np.ndarray] = {}
    for fld in ("fov_deg", "range_m", "radius_m", "height_m", "resolution_px"):
        is_res = fld == "resolution_px"
        arr, failed = _number_column(col(fld), parse_resolution if is_res else parse_number)
        for k, exc in failed:
            err(k, fld, col(fld)[k], exc.message if is_res else msg("malformed number: {reason}", reason=exc.message))
        # the kind's bounds (layers/*.toml [bounds]); rows of an unknown kind take the defaults
        lo = np.full(n, DEFAULT_BOUNDS[fld][0])
        hi = np.full(n, DEFAULT_BOUNDS[fld][1])
        for kd, sp in specs.items():
            rows = _member(kinds, {kd})
            lo[rows], hi[rows] = sp.bounds[fld]
        with np.errstate(invalid="ignore"):
            out_of_range = ~((arr >= lo) & (arr <= hi))
        for k in np.flatnonzero(out_of_range & ~np.isnan(arr)).tolist():
            spec = specs.get(kk) if (kk := kinds[k]) is not None else None
            err(k, fld, col(fld)[k], bound_problem(spec, fld, float(arr[k])) or msg("out of bounds"))
        numbers[fld] = arr

    # ---- directions (and the cameras that need one)
    dir_failed = np.zeros(n, dtype=bool)

    def _dir_error(k: int, v: Any, exc: ParseError) -> None:
        dir_failed[k] = True
        err(k, "direction_deg", v, exc.message)

    directions = mapped("direction_deg", lambda v: parse_directions(v, lang=dir_lang), _dir_error, blank=())
    sector_kinds = {kd for kd, sp in specs.items() if sp.footprint == "sector"}
    no_direction = np.fromiter(map(operator.not_, directions), dtype=bool, count=n)
    for k in np.flatnonzero(no_direction & ~dir_failed & _member(kinds, sector_kinds)).tolist():
        sp = specs[cast(str, kinds[k])]  # a sector kind (never None)
        fov = numbers["fov_deg"][k]
        fov = sp.defaults.get("fov_deg", math.nan) if math.isnan(fov) else fov
        if not fov >= 360.0:
            err(
                k,
                "direction_deg",
                None,
                msg(
                    "a {kind} needs a direction (degrees clockwise from north or N/Bắc...), unless its fov_deg is 360",
                    kind=sp.kind,
                ),
            )

    # ---- other attributes
    known_lens = "use one of: " + ", ".join(f"{c} ({v[0]})" for c, v in LENSES.items())
    lenses = mapped("lens", _vocab(LENSES, "lens", known_lens), lambda k, v, e: err(k, "lens", v, str(e)))
    camera_types = mapped("camera_type", _camera_type, lambda k, v, e: None)
    sharing = mapped(
        "data_sharing",
        parse_bool,
        lambda k, v, e: err(k, "data_sharing", v, msg("{reason}; left empty", reason=e.message), "warning"),
    )
    dates = {
        fld: mapped(fld, parse_date, lambda k, v, e, fld=fld: err(k, fld, v, e.message))  # type: ignore[misc]  # mypy cannot infer a lambda with a default argument
        for fld in ("start_date", "end_date")
    }

    # ---- location
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    line_geoms: dict[int, Any] = {}
    if vector:
        garr = np.array(geoms if geoms is not None else [None] * n, dtype=object)
        tid = shapely.get_type_id(garr)
        empty = shapely.is_empty(garr) | (tid < 0)
        single = (tid == 4) & (shapely.get_num_geometries(garr) == 1)
        garr[single] = shapely.get_geometry(garr[single], 0)
        tid[single] = 0
        pts = (tid == 0) & ~empty
        if pts.any():
            xy = shapely.get_coordinates(garr[pts])
            lon[pts], lat[pts] = xy[:, 0], xy[:, 1]
        for k in np.flatnonzero(~empty & ~pts).tolist():
            g = garr[k]
            if g.geom_type not in ("LineString", "MultiLineString"):
                err(int(k), "geometry", g.geom_type, msg("geometry must be a Point (or a line for lighting)"))
                loc_err[k] = True
                continue
            xy = shapely.get_coordinates(g)
            why = next((w for w in (_check_lonlat(float(a), float(b)) for a, b in xy) if w), None)
            if why:
                err(int(k), "geometry", f"{float(xy[0, 0]):g}, {float(xy[0, 1]):g}", why)
                loc_err[k] = True
            else:
                line_geoms[int(k)] = g
        loc_field = "geometry"
    else:
        for fld, axis, target in (("lat", "lat", lat), ("lon", "lon", lon)):
            arr, failed = _number_column(col(fld), lambda v, axis=axis: parse_coordinate(v, axis=axis))  # type: ignore[misc]  # mypy cannot infer a lambda with a default argument
            target[:] = arr
            for k, exc in failed:
                err(k, fld, col(fld)[k], exc.message)
                loc_err[k] = True
        if "coordinates" in col_of:
            for k, v in enumerate(col("coordinates")):
                if v is None or col("lat")[k] is not None or col("lon")[k] is not None:
                    continue
                try:
                    a, b = _split_pair(v)
                    lat[k], lon[k] = parse_coordinate(a.strip(), axis="lat"), parse_coordinate(b.strip(), axis="lon")
                except ParseError as exc:
                    err(k, "coordinates", v, exc.message)
                    loc_err[k] = True
        if transformer is not None:
            xs, xfail = _number_column(col("x"), parse_number)
            ys, yfail = _number_column(col("y"), parse_number)
            for fld, failed in (("x", xfail), ("y", yfail)):
                for k, e in failed:
                    err(k, fld, col(fld)[k], msg("malformed number: {reason}", reason=e.message))
                    loc_err[k] = True
            use = np.isnan(lat) & np.isnan(lon) & ~np.isnan(xs) & ~np.isnan(ys)
            if use.any():
                tx, ty = transformer.transform(xs[use], ys[use])
                lon[use], lat[use] = tx, ty
                for k in np.flatnonzero(use & ~(np.isfinite(lon) & np.isfinite(lat))).tolist():
                    err(int(k), "x", col("x")[k], msg("coordinates cannot be projected; check --input-crs"))
                    loc_err[k] = True
        one = (np.isnan(lat) != np.isnan(lon)) & ~loc_err
        for k in np.flatnonzero(one).tolist():
            missing = "lat" if np.isnan(lat[k]) else "lon"
            err(int(k), missing, None, msg("missing coordinate: latitude and longitude go together"))
            loc_err[k] = True
        loc_field = "lat" if "lat" in col_of else "coordinates" if "coordinates" in col_of else "x"
    both = ~np.isnan(lat) & ~np.isnan(lon) & ~loc_err
    with np.errstate(invalid="ignore"):
        inside = (
            (lon >= VIETNAM_BOUNDS[0])
            & (lon <= VIETNAM_BOUNDS[2])
            & (lat >= VIETNAM_BOUNDS[1])
            & (lat <= VIETNAM_BOUNDS[3])
        )
    for k in np.flatnonzero(both & ~inside).tolist():
        err(
            int(k),
            loc_field,
            f"{lat[k]:g}, {lon[k]:g}",
            _check_lonlat(float(lon[k]), float(lat[k])) or msg("outside Vietnam"),
        )
        loc_err[k] = True
    has_point = both & inside
    geometry = np.full(n, None, dtype=object)
    if has_point.any():
        geometry[has_point] = shapely.points(lon[has_point], lat[has_point])
    for k, g in line_geoms.items():
        geometry[k] = g
    has_geom = has_point.copy()
    has_geom[list(line_geoms)] = True
    spatial = {kd for kd, sp in specs.items() if sp.spatial}
    xy_without_crs = not vector and ("x" in col_of or "y" in col_of) and transformer is None
    for k in np.flatnonzero(~has_geom & ~loc_err & _member(kinds, spatial)).tolist():
        if xy_without_crs and (col("x")[k] is not None or col("y")[k] is not None):
            continue  # reported once for the file: x/y need --input-crs
        err(k, None, None, msg("missing coordinates: a {kind} must have a location (lat/lon)", kind=kinds[k]))

    # ---- lengths: text fields (layers.TEXT_MAX_LENGTH characters) and direction lists
    for fld in ("id", "name", "unit_code", "owner", "notes"):
        if fld in col_of:
            limit = TEXT_MAX_LENGTH[fld]
            for k in [k for k, v in enumerate(col(fld)) if isinstance(v, str) and len(v) > limit]:
                v = col(fld)[k]
                err(k, fld, f"{v[:40]}…", text_problem(fld, v) or msg("too long"))
    for k in [k for k, d in enumerate(directions) if len(d) > MAX_DIRECTIONS]:
        err(
            k,
            "direction_deg",
            len(directions[k]),
            msg("{n} directions; at most {limit} (one sector each)", n=len(directions[k]), limit=MAX_DIRECTIONS),
        )

    # ---- the frame of the valid rows
    found.sort(key=lambda t: (t[0], t[1]))
    problems.extend(p for _, _, p in found)
    data: dict[str, Any] = {
        "id": ids,
        "kind": kinds,
        "name": _text_column(col("name"), _as_text),
        "field": vocab_cols["field"],
        "host": vocab_cols["host"],
        "status": statuses,
        "unit_code": _text_column(col("unit_code"), _as_code),
        "direction_deg": directions,
        "fov_deg": numbers["fov_deg"],
        "range_m": numbers["range_m"],
        "radius_m": numbers["radius_m"],
        "height_m": numbers["height_m"],
        "resolution_px": numbers["resolution_px"],
        "lens": lenses,
        "camera_type": camera_types,
        "owner": _text_column(col("owner"), _as_text),
        "data_sharing": sharing,
        "start_date": dates["start_date"],
        "end_date": dates["end_date"],
        "notes": _text_column(col("notes"), _as_text),
    }
    if not fill_absent:
        for fld in [k for k in data if k not in ("id", "kind") and k not in col_of]:
            del data[fld]
    for j, h in extras:
        if h in data or h == "geometry":
            continue
        data[h] = _clean_column(columns[j])
    keep = np.flatnonzero(~bad)
    # file-level errors make every row unusable
    if any(p.severity == "error" and p.row is None for p in problems):
        keep = keep[:0]
    # text columns keep None for "missing" (object dtype), numbers are float with NaN
    frame = pd.DataFrame(
        {c: _take(v, keep) if isinstance(v, np.ndarray) else _object_array(_take(v, keep)) for c, v in data.items()}
    )
    gdf = gpd.GeoDataFrame(frame, geometry=geometry[keep], crs=WGS84)
    gdf.index = pd.Index(np.asarray(_take(ids, keep), dtype=object), name="id")
    defaults: dict[str, dict[str, dict[str, float | int]]] = {}
    for kind, sub in gdf.groupby("kind", sort=True) if len(gdf) else ():
        for fld in ("fov_deg", "range_m", "radius_m", "height_m"):
            cnt = int(sub[fld].isna().sum()) if fld in sub.columns else len(sub)
            if cnt and fld in specs[kind].defaults:
                defaults.setdefault(str(kind), {})[fld] = {"value": specs[kind].defaults[fld], "rows": cnt}
    gdf.attrs["defaults"] = defaults
    gdf.attrs["header_lang"] = header_lang
    if source_rows:
        gdf["source_row"] = np.asarray(_take(rownums, keep), dtype="int64")
    return gdf, problems


def _clean_column(values: Iterable[Any]) -> list[Any]:
    """Blank cells -> None, text stripped (the readers have put it in NFC), NaN -> None."""
    values = values if isinstance(values, list) else list(values)
    if set(map(type, values)) == {str}:
        return [v.strip() or None for v in values]  # a CSV column: text only
    return [
        (v.strip() or None) if type(v) is str else None if v is None or (type(v) is float and v != v) else v
        for v in values
    ]


def _member(values: list[Any], allowed: set[Any]) -> np.ndarray:
    """Boolean mask: which of ``values`` (hashable) are in ``allowed``."""
    return np.fromiter(map(allowed.__contains__, values), dtype=bool, count=len(values))


def _text_column(values: list[Any], convert: Callable[[Any], str | None]) -> list[Any]:
    """``convert`` (``_as_text``/``_as_code``) over a cleaned column. A column of cleaned text
    (stripped, not empty) already in NFC is its own result, so it is checked at once.
    """
    given = [v for v in values if v is not None]
    if not given:
        return [None] * len(values)
    if set(map(type, given)) == {str} and unicodedata.is_normalized("NFC", "\n".join(given)):
        return list(values)
    return [convert(v) for v in values]


def _take(values: Any, keep: np.ndarray) -> Any:
    if len(keep) == len(values):
        return values
    if isinstance(values, np.ndarray):
        return values[keep]
    return [values[i] for i in keep]


def _number_column(values: list[Any], parse: Callable[[Any], float]) -> tuple[np.ndarray, list[tuple[int, ParseError]]]:
    """Floats of a column (NaN where blank) and the cells that failed: plain numbers and
    "10.5"/"10,5" directly, anything else (DMS, units, thousands) through ``parse``.
    """
    out = np.full(len(values), np.nan)
    failed: list[tuple[int, ParseError]] = []
    arr = np.fromiter(values, dtype=object, count=len(values))
    missing = pd.isna(arr)  # None, and NaN or NA, which count as present (given to parse)
    if set(map(type, arr[missing].tolist())) <= {type(None)}:
        present = ~missing
    else:
        present = np.array([v is not None for v in values], dtype=bool)
    if not present.any():
        return out, failed
    # fastest path: text cells without a comma or an underscore, converted at once
    given = arr[present].tolist()
    if set(map(type, given)) == {str}:
        joined = "".join(given)
        if "," not in joined and "_" not in joined:
            try:
                bulk = np.array(given, dtype=object).astype(float)
            except ValueError:
                pass  # DMS, units...: the paths below
            else:
                out[present] = bulk
                _reparse(out, values, np.flatnonzero(present)[~np.isfinite(bulk)], parse, failed)
                return out, failed
    # fast path: the whole column at once ("10,5" -> "10.5"); any odd cell -> cell by cell
    try:
        prepared = [
            "nan"
            if v is None
            else v.replace(",", ".")
            if type(v) is str and v.count(",") == 1 and "." not in v and "_" not in v
            else v
            for v in values
        ]
        if any(type(v) is str and "_" in v for v in prepared):
            raise ValueError("underscore")
        bulk = np.array(prepared, dtype=object).astype(float)
    except (ValueError, TypeError):
        pass
    else:
        out = np.where(present, bulk, np.nan)
        _reparse(out, values, np.flatnonzero(present & ~np.isfinite(bulk)), parse, failed)
        return out, failed
    for k, v in enumerate(values):
        if v is None:
            continue
        t = type(v)
        f = math.nan
        if t is float or t is int:
            f = float(v)
        elif t is str and "_" not in v:
            if "," in v:
                if v.count(",") == 1 and "." not in v:
                    v2 = v.replace(",", ".")
                else:
                    v2 = ""
            else:
                v2 = v
            if v2 and (v2[-1].isdigit() or v2[-1] == "."):
                try:
                    f = float(v2)
                except ValueError:
                    f = math.nan
        if not math.isfinite(f):
            try:
                f = parse(v)
            except ParseError as exc:
                failed.append((k, exc))
                continue
        out[k] = f
    return out, failed


def _reparse(
    out: np.ndarray,
    values: list[Any],
    rows: np.ndarray,
    parse: Callable[[Any], float],
    failed: list[tuple[int, ParseError]],
) -> None:
    """In place: ``out[k] = parse(values[k])`` for the cells the bulk conversion left non-finite
    (DMS, units...); a cell ``parse`` rejects becomes NaN and goes to ``failed``.
    """
    for k in rows.tolist():
        try:
            out[k] = parse(values[k])
        except ParseError as exc:
            out[k] = np.nan
            failed.append((k, exc))


def _make_geometry(items: list[Any]) -> np.ndarray:
    """Geometries from a list of (lon, lat) pairs (built at once), shapely geometries or None."""
    out = np.full(len(items), None, dtype=object)
    idx = [i for i, g in enumerate(items) if isinstance(g, tuple)]
    if idx:
        xy = np.array([items[i] for i in idx], dtype=float)
        out[idx] = shapely.points(xy)
    for i, g in enumerate(items):
        if g is not None and not isinstance(g, tuple):
            out[i] = g
    return out


def read_models(
    path: str | os.PathLike[str],
    *,
    skip_invalid: bool = False,
    crs: object = None,
    specs: Mapping[str, LayerSpec] | None = None,
    lang: str | None = None,
    sheet: str | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate security models (see :func:`load_models` for formats and headers).

    Parameters
    ----------
    path, crs, specs, lang, sheet
        As in :func:`load_models`.
    skip_invalid
        False: any error raises :class:`ValidationError` listing every problem. True: rows with
        errors are left out and listed, as Problems, in ``frame.attrs["skipped"]`` (a
        file-level error, such as no kind column, leaves the frame empty).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, index = ``id``, ``MODEL_COLUMNS`` + geometry; ``attrs["defaults"]`` as in
        :func:`load_models`. Warnings (a guessed encoding, an unknown field/host value, generated
        ids...) are issued with :func:`warnings.warn`.

    Raises
    ------
    ValidationError
        Every error of the file, unless ``skip_invalid``.
    CRSError
        A vector file whose coordinates are not lon/lat and no ``crs``.
    """
    gdf, problems = load_models(path, crs=crs, specs=specs, lang=lang, sheet=sheet)
    return _settle_models(gdf, problems, skip_invalid=skip_invalid)


def _settle_models(gdf: gpd.GeoDataFrame, problems: list[Problem], *, skip_invalid: bool) -> gpd.GeoDataFrame:
    """The end of :func:`read_models`: raise the errors (or keep them in ``attrs["skipped"]``)
    and issue the warnings.
    """
    errors = [p for p in problems if p.severity == "error"]
    if errors and not skip_invalid:
        raise ValidationError(errors)
    for p in problems:
        if p.severity != "error":
            _warn(str(p))
    gdf.attrs["skipped"] = errors
    return gdf
