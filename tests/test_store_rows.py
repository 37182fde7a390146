"""The rows an import builds for many records at once (``_rows``) are those of the one-record
helpers, value for value and type for type.
"""

from __future__ import annotations

import datetime as dt

import shapely

from geo_antt.store import _rows
from geo_antt.store._base import _db_values
from geo_antt.store._records import normalize_record, to_json_record
from geo_antt.text import fold
from tests.storehelp import model_record

NOW = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
NAMES = [
    None,
    "",
    "   ",
    "Camera «1» ngõ 3",
    "ĐÈN  đường\tNguyễn   Huệ\n",
    "Ðð ĐĐ",
    "e\u0301 a\u0300\u0323 ộ",  # combining marks typed as such
    "ＡＢＣ Ⅻ İstanbul ß ﬁ",  # compatibility forms, case changes that lengthen
    "\u200b zero\u00a0width",
    "日本語 한국어 العربية",
    "x\U0001f600y \U000e0100",
]


def _records() -> list[dict]:
    geoms = [
        shapely.Point(106.05, 10.05),
        None,
        shapely.LineString([(106.0, 10.0), (106.01, 10.02)]),
        shapely.Point(106.1, 10.1, 3.0),
        shapely.MultiPoint([(106.0, 10.0), (106.001, 10.002)]),
        shapely.Point(-0.0, 1e-7),
    ]
    out = []
    for i in range(60):
        rec = model_record(
            f"m{i}",
            "A1",
            106.0,
            10.0,
            name=NAMES[i % len(NAMES)],
            direction_deg=() if i % 3 == 0 else tuple(float(d) for d in range(i % 4)),
            fov_deg=None if i % 5 == 0 else 30.0 + i,
            data_sharing=[None, True, 3, 2.5, "có"][i % 5],
        )
        rec["geometry"] = geoms[i % len(geoms)]
        out.append(normalize_record(rec))
    return out


def test_model_values_are_db_values():
    recs = _records()
    for created in (True, False):
        versions = [1 + i % 3 for i in range(len(recs))]
        want = [_db_values(r, version=v, now=NOW, who="ai", created=created) for r, v in zip(recs, versions)]
        got = _rows.model_values(recs, versions=versions, now=NOW, who="ai", created=created)
        assert repr(got) == repr(want)
        assert [list(d) for d in got] == [list(d) for d in want]  # the same keys in the same order
    assert _rows.model_values([], versions=[], now=NOW, who="ai", created=True) == []


def test_json_records_are_to_json_record():
    recs = _records()
    partial = [{"name": "x", "geometry": shapely.Point(1, 2)}, {"direction_deg": (1.0,)}, {}]
    for batch in (recs, partial, []):
        assert repr(_rows.json_records(batch)) == repr([to_json_record(r) for r in batch])


def test_fold_is_text_fold():
    texts = [*NAMES, *(chr(cp) for cp in range(0x250, 0x3000, 7)), "".join(chr(cp) for cp in range(0x300, 0x370))]
    assert [_rows.fold(t) for t in texts] == [fold(t) for t in texts]
