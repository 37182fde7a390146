"""Properties of the stored record form (geo_antt.store._records): normalising is idempotent and
a record never differs from itself once stored — what makes a re-import change nothing.
"""

from __future__ import annotations

import math

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_antt._errors import GeoAnttError
from geo_antt.layers import load_layer_specs
from geo_antt.store._records import check_record, normalize_record, record_diff

SPECS = load_layer_specs()
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
# within every kind's bounds (layers/*.toml [bounds]: gates up to 100 m)
maybe_nan = st.one_of(st.none(), st.just(float("nan")), st.floats(min_value=1.0, max_value=100.0))
text = st.one_of(st.none(), st.just(""), st.text(max_size=20))

records = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=12).filter(lambda s: s.strip()),
        "kind": st.sampled_from(sorted(SPECS)),
        "name": text,
        "status": st.sampled_from(["active", "inactive", "proposed", None]),
        "direction_deg": st.one_of(st.none(), st.lists(st.floats(0, 360, allow_nan=False), max_size=3).map(tuple)),
        "fov_deg": st.one_of(st.none(), st.floats(1.0, 360.0)),
        "range_m": maybe_nan,
        "radius_m": maybe_nan,
        "notes": text,
        "data_sharing": st.one_of(st.none(), st.booleans(), st.text(max_size=5)),
        "geometry": st.builds(lambda x, y: shapely.Point(x, y), st.floats(102.0, 117.0), st.floats(8.0, 23.0)),
    }
)


@settings(max_examples=150, deadline=None)
@given(records)
def test_normalising_is_idempotent_and_stable(raw):
    once = normalize_record(raw)
    twice = normalize_record(once)
    assert record_diff(once, twice) == {}
    assert all(v is None or not (isinstance(v, float) and math.isnan(v)) for v in once.values())
    assert all(0.0 <= d < 360.0 for d in once["direction_deg"])
    assert check_record(once, SPECS) == []  # everything generated is valid


@settings(max_examples=100, deadline=None)
@given(records, st.one_of(st.floats(-1e12, -1e-9), st.floats(360.000001, 1e12)))
def test_a_bearing_outside_0_360_is_refused(raw, bad):
    with pytest.raises(GeoAnttError, match="direction_deg"):
        normalize_record({**raw, "direction_deg": (*(raw["direction_deg"] or ()), bad)})


@settings(max_examples=100, deadline=None)
@given(records, finite)
def test_a_changed_range_is_a_difference(raw, new_range):
    rec = normalize_record(raw)
    changed = normalize_record({**rec, "range_m": abs(new_range) % 10_000})
    d = record_diff(rec, changed)
    same = rec["range_m"] is not None and abs(rec["range_m"] - changed["range_m"]) <= 1e-9 * max(1.0, rec["range_m"])
    assert (d == {}) == same and set(d) <= {"range_m"}
