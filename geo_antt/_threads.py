"""Vectorised geometry work split over the machine's cores with threads.

shapely releases the GIL inside its vectorised functions and pyproj inside
``Transformer.transform``, so plain threads run GEOS and PROJ in parallel without copying
any data. Two rules keep this safe:

- a *prepared* geometry is not thread-safe (GEOS builds its index lazily, on first use): when
  the first array holds prepared geometries, pass ``keys`` (sorted, e.g. the unit index of
  each pair) so that all the rows of one geometry stay in the same chunk;
- a ``pyproj.Transformer`` is not shared between threads: every chunk makes its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["WORKERS", "balanced_bounds", "chunk_bounds", "map_chunks", "threaded"]

# Threads for geometry work (shapely and pyproj release the GIL); more than 4 rarely pays.
# ``GEO_ANTT_THREADS`` (1-64) sets it: a Dask worker process of a national run uses 1, the
# partitions being its parallelism.


def _workers(env: str | None) -> int:
    if env is None or not env.strip():
        return max(1, min(4, os.cpu_count() or 1))
    try:
        n = int(env)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        msg = f"GEO_ANTT_THREADS must be a whole number from 1 to 64, got {env!r}"
        raise ValueError(msg)
    return n


WORKERS = _workers(os.environ.get("GEO_ANTT_THREADS"))


def chunk_bounds(n: int, *, min_chunk: int = 256, keys: np.ndarray | None = None) -> np.ndarray:
    """Boundaries ``[0, ..., n]`` of about ``4 * WORKERS`` chunks of at least ``min_chunk``
    rows (one chunk when ``n`` is small or a single worker). With ``keys`` (sorted), no run of
    equal keys is split; unsorted keys give one chunk.
    """
    if n < 2 * min_chunk or WORKERS == 1:
        return np.array([0, n])
    k = min(4 * WORKERS, n // min_chunk)  # more chunks than threads (balance), none too small
    bounds = np.linspace(0, n, k + 1).astype(int)
    if keys is not None:
        if np.any(np.diff(keys) < 0):
            return np.array([0, n])
        # move each inner boundary to the start of its key's run
        bounds[1:-1] = np.searchsorted(keys, keys[bounds[1:-1]], side="left")
        bounds = np.unique(bounds)
    return bounds


def balanced_bounds(weights: np.ndarray, *, n_chunks: int, min_chunk: int = 1) -> np.ndarray:
    """Boundaries ``[0, ..., n]`` of at most ``n_chunks`` chunks of about equal total weight
    (e.g. coordinates per geometry), each of at least ``min_chunk`` rows where possible.
    """
    n = len(weights)
    k = max(1, min(n_chunks, n // max(1, min_chunk)))
    cum = np.cumsum(np.asarray(weights, dtype=float))
    if k == 1 or cum[-1] <= 0:
        return np.array([0, n])
    inner = np.searchsorted(cum, cum[-1] * np.arange(1, k) / k, side="right")
    return np.unique(np.concatenate([[0], inner, [n]]))


def map_chunks(fn: Callable[[int, int], Any], bounds: np.ndarray) -> list[Any]:
    """``[fn(a, b) for each chunk (a, b)]``, the chunks run on ``WORKERS`` threads."""
    spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    if len(spans) == 1:
        return [fn(*spans[0])]
    with ThreadPoolExecutor(WORKERS) as ex:
        return list(ex.map(lambda ab: fn(*ab), spans))


def threaded(
    fn: Callable[..., np.ndarray], *arrays: np.ndarray, keys: np.ndarray | None = None, min_chunk: int = 256
) -> np.ndarray:
    """Apply a vectorised function (shapely) over aligned arrays, split over the cores.

    Parameters
    ----------
    fn
        Called as ``fn(*chunks)`` on row ranges of ``arrays``; returns one value per row.
    arrays
        Arrays of the same length.
    keys
        Sorted group key of each row (e.g. the index of a prepared geometry): a group is never
        split between two chunks (see the module notes).
    min_chunk
        Under ``2 * min_chunk`` rows there is one call, no thread.

    Returns
    -------
    numpy.ndarray
        ``fn(*arrays)``, computed chunk by chunk and concatenated.
    """
    bounds = chunk_bounds(len(arrays[0]), min_chunk=min_chunk, keys=keys)
    if len(bounds) == 2:
        return fn(*arrays)
    return np.concatenate(map_chunks(lambda a, b: fn(*(x[a:b] for x in arrays)), bounds))
