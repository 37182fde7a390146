"""geo_antt._threads: chunked calls give the same arrays; a key's rows stay in one chunk."""

from __future__ import annotations

import os

import numpy as np
import pytest
import shapely

from geo_antt import _threads


@pytest.fixture(autouse=True)
def _two_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "WORKERS", 2)


def test_threaded_equals_the_direct_call() -> None:
    rng = np.random.default_rng(1)
    a = shapely.buffer(shapely.points(rng.uniform(0, 1000, (3000, 2))), 5)
    b = shapely.buffer(shapely.points(rng.uniform(0, 1000, (3000, 2))), 40)
    got = _threads.threaded(shapely.intersects, a, b, min_chunk=64)
    assert got.dtype == bool and np.array_equal(got, shapely.intersects(a, b))
    areas = _threads.threaded(lambda x, y: shapely.area(shapely.intersection(x, y)), a, b, min_chunk=64)
    assert np.allclose(areas, shapely.area(shapely.intersection(a, b)))
    assert len(_threads.chunk_bounds(3000, min_chunk=64)) > 2  # really split


def test_keys_never_split_and_small_inputs_stay_whole() -> None:
    keys = np.repeat(np.arange(40), np.random.default_rng(2).integers(1, 200, 40))
    bounds = _threads.chunk_bounds(len(keys), min_chunk=64, keys=keys)
    assert bounds[0] == 0 and bounds[-1] == len(keys) and np.all(np.diff(bounds) > 0)
    for cut in bounds[1:-1]:
        assert keys[cut - 1] != keys[cut]
    assert _threads.chunk_bounds(len(keys), min_chunk=64, keys=keys[::-1]).tolist() == [0, len(keys)]
    assert _threads.chunk_bounds(100, min_chunk=64).tolist() == [0, 100]


def test_balanced_bounds_split_by_weight() -> None:
    w = np.r_[np.full(10, 1000), np.ones(990)]  # the heavy rows first
    b = _threads.balanced_bounds(w, n_chunks=4, min_chunk=1)
    assert b[0] == 0 and b[-1] == len(w) and len(b) <= 5
    sums = [w[x:y].sum() for x, y in zip(b[:-1], b[1:])]
    assert max(sums) <= 2 * w.sum() / 4
    assert _threads.balanced_bounds(np.ones(5), n_chunks=8, min_chunk=64).tolist() == [0, 5]
    assert _threads.map_chunks(lambda x, y: y - x, np.array([0, 3, 10])) == [3, 7]


def test_thread_count_from_the_environment() -> None:
    # GEO_ANTT_THREADS: a Dask worker of a national run computes single-threaded
    assert _threads._workers("1") == 1 and _threads._workers(" 3 ") == 3
    assert _threads._workers(None) == _threads._workers("") == max(1, min(4, os.cpu_count() or 1))
    for bad in ("0", "65", "two", "1.5"):
        with pytest.raises(ValueError, match="GEO_ANTT_THREADS must be a whole number from 1 to 64"):
            _threads._workers(bad)
