"""Offline base maps from one file: MBTiles (SQLite, raster tiles) and PMTiles (v3).

:func:`open_basemap` looks at the file's first bytes and returns an :class:`MBTiles` or a
:class:`PMTilesArchive`; both describe themselves with a :class:`BasemapInfo` (name, tile
format, bounds, zoom range, attribution) and hand out tiles by XYZ address (:meth:`tile`).

MBTiles files are the ones QGIS's "Generate XYZ tiles (MBTiles)" writes: a ``metadata`` table
(``name``, ``format``, ``bounds``, ``minzoom``, ``maxzoom``, ``attribution``) and a ``tiles``
table (or view) whose rows count from the south (TMS): the XYZ row ``y`` of zoom ``z`` is stored
as ``2**z - 1 - y``. The file is opened read-only (a ``mode=ro`` SQLite URI), through a small pool
of connections so that worker threads never share one.

PMTiles archives are read with the ``pmtiles`` package (header, metadata, directories). A vector
archive (MVT) is sent to the browser whole by HTTP range requests and drawn there; a raster one
can also be served tile by tile like an MBTiles file.
"""

from __future__ import annotations

import html
import queue
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import GeoAnttError

__all__ = [
    "MAX_ZOOM",
    "BasemapInfo",
    "MBTiles",
    "PMTilesArchive",
    "open_basemap",
    "tile_content_type",
]

# Highest zoom a tile address may have (2**30 tiles a side: far past any real base map).
MAX_ZOOM = 30

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PMTILES_MAGIC = b"PMTiles"
_CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
    "pbf": "application/vnd.mapbox-vector-tile",
    "mvt": "application/vnd.mapbox-vector-tile",
}
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class BasemapInfo:
    """What a base-map file says about itself.

    Attributes
    ----------
    kind
        ``"mbtiles"`` or ``"pmtiles"``.
    path
        The file.
    name
        Its name (``metadata.name``; the file name when it has none).
    format
        Tile format: ``png``, ``jpg``, ``webp``, ``avif`` (raster) or ``pbf`` (vector MVT).
    bounds
        (west, south, east, north) in degrees (EPSG:4326), or None when the file gives none.
    minzoom, maxzoom
        Zoom range of the tiles it holds.
    attribution
        Attribution as plain text (any HTML tags of the file taken out).
    """

    kind: str
    path: Path
    name: str
    format: str
    bounds: tuple[float, float, float, float] | None
    minzoom: int
    maxzoom: int
    attribution: str

    @property
    def vector(self) -> bool:
        """True for vector (MVT) tiles, drawn in the browser."""
        return self.format in ("pbf", "mvt")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the map page."""
        return {
            "kind": self.kind,
            "name": self.name,
            "format": self.format,
            "vector": self.vector,
            "bounds": list(self.bounds) if self.bounds else None,
            "minZoom": self.minzoom,
            "maxZoom": self.maxzoom,
            "attribution": self.attribution,
        }


def tile_content_type(data: bytes, fmt: str | None = None) -> str:
    """The media type of tile bytes: from their signature (PNG, JPEG, WebP, GIF), else from
    the file's declared format ``fmt``, else ``application/octet-stream``.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return _CONTENT_TYPES.get((fmt or "").lower(), "application/octet-stream")


def _plain(text: Any) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", str(text or ""))).split())


def _bounds(value: Any, where: str) -> tuple[float, float, float, float] | None:
    if value in (None, ""):
        return None
    try:
        parts = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        parts = []
    if len(parts) != 4:
        raise GeoAnttError(f"{where}: bounds {value!r} is not 'west,south,east,north' in degrees")
    w, s, e, n = parts
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise GeoAnttError(f"{where}: bounds {value!r} is not a box in degrees (west < east, south < north)")
    return (w, s, e, n)


def _zoom(value: Any, where: str, key: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        z = int(str(value).strip())
    except ValueError:
        raise GeoAnttError(f"{where}: {key} {value!r} is not a whole number") from None
    if not 0 <= z <= MAX_ZOOM:
        raise GeoAnttError(f"{where}: {key} {z} is outside 0..{MAX_ZOOM}")
    return z


def _check_address(z: int, x: int, y: int) -> None:
    if not (0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        raise ValueError(f"tile {z}/{x}/{y} does not exist (0 <= x, y < 2**z, z <= {MAX_ZOOM})")


class MBTiles:
    """A raster MBTiles file, opened read-only.

    Parameters
    ----------
    path
        The ``.mbtiles`` file.
    pool_size
        Connections kept open for reuse (one per concurrent reader; more are opened when needed
        and closed after use).

    Raises
    ------
    GeoAnttError
        When the file is not an MBTiles file (no ``tiles``/``metadata`` table), holds vector
        tiles, or its metadata is wrong.
    """

    def __init__(self, path: str | Path, *, pool_size: int = 8) -> None:
        self.path = Path(path).resolve()
        self._uri = self.path.as_uri() + "?mode=ro"
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue(maxsize=pool_size)
        self._lock = threading.Lock()
        self._closed = False
        where = str(path)
        try:
            con = self._connect()
            try:
                names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
                if not {"tiles", "metadata"} <= names:
                    raise GeoAnttError(f"{where}: not an MBTiles file (it needs the tables 'metadata' and 'tiles')")
                meta = {str(k): v for k, v in con.execute("SELECT name, value FROM metadata")}
                zooms = None
                if not meta.get("minzoom") or not meta.get("maxzoom"):
                    zooms = con.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
                fmt = str(meta.get("format") or "").strip().lower()
                if not fmt:
                    row = con.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
                    fmt = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(
                        tile_content_type(bytes(row[0])) if row and row[0] else "", "png"
                    )
            except sqlite3.DatabaseError as exc:
                con.close()
                raise GeoAnttError(f"{where}: not a readable MBTiles file ({exc})") from exc
            self._release(con)
        except sqlite3.Error as exc:
            raise GeoAnttError(f"{where}: cannot open the MBTiles file ({exc})") from exc
        if fmt in ("pbf", "mvt"):
            self.close()
            raise GeoAnttError(
                f"{where}: an MBTiles file of vector tiles; convert it to PMTiles "
                f"(pmtiles convert {self.path.name} basemap.pmtiles) and serve that"
            )
        if fmt not in _CONTENT_TYPES:
            self.close()
            raise GeoAnttError(f"{where}: tile format {fmt!r} is not png, jpg or webp")
        minzoom = _zoom(meta.get("minzoom"), where, "minzoom")
        maxzoom = _zoom(meta.get("maxzoom"), where, "maxzoom")
        if zooms is not None:
            minzoom = minzoom if minzoom is not None else zooms[0]
            maxzoom = maxzoom if maxzoom is not None else zooms[1]
        self.info = BasemapInfo(
            kind="mbtiles",
            path=self.path,
            name=_plain(meta.get("name")) or self.path.stem,
            format=fmt,
            bounds=_bounds(meta.get("bounds"), where),
            minzoom=int(minzoom if minzoom is not None else 0),
            maxzoom=int(maxzoom if maxzoom is not None else 0),
            attribution=_plain(meta.get("attribution")),
        )
        if self.info.minzoom > self.info.maxzoom:
            self.close()
            raise GeoAnttError(f"{where}: minzoom {self.info.minzoom} is above maxzoom {self.info.maxzoom}")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._uri, uri=True, check_same_thread=False)

    def _acquire(self) -> sqlite3.Connection:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            return self._connect()

    def _release(self, con: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed:
                try:
                    self._pool.put_nowait(con)
                    return
                except queue.Full:
                    pass
        con.close()

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The bytes of tile ``z/x/y`` (XYZ: row 0 at the north), or None when the file has none.

        Raises
        ------
        ValueError
            When the address does not exist (negative, or x/y not below 2**z).
        """
        _check_address(z, x, y)
        con = self._acquire()
        try:
            row = con.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
        finally:
            self._release(con)
        return bytes(row[0]) if row and row[0] else None

    def content_type(self, data: bytes) -> str:
        """The media type of one of this file's tiles."""
        return tile_content_type(data, self.info.format)

    def close(self) -> None:
        """Close the pooled connections (later reads open new ones)."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    self._pool.get_nowait().close()
                except queue.Empty:
                    break


class PMTilesArchive:
    """A PMTiles (v3) archive.

    Raises
    ------
    GeoAnttError
        When the file is not a PMTiles v3 archive or its header is wrong.
    """

    def __init__(self, path: str | Path) -> None:
        from pmtiles.reader import MmapSource, Reader
        from pmtiles.tile import (
            Compression,
            MagicNumberNotFound,
            SpecVersionUnsupported,
            TileType,
        )

        self.path = Path(path).resolve()
        where = str(path)
        try:
            with self.path.open("rb") as fh:
                if self.path.stat().st_size < 127:
                    raise GeoAnttError(f"{where}: too short for a PMTiles archive")
                # the mapping keeps its own handle of the file: nothing to close later
                self._reader = Reader(MmapSource(fh))
            header = self._reader.header()
            try:
                meta = self._reader.metadata() or {}
            except (OSError, ValueError, EOFError):
                meta = {}
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError, OSError) as exc:
            raise GeoAnttError(f"{where}: not a PMTiles v3 archive ({type(exc).__name__})") from exc
        self._header = header
        fmt = {
            TileType.MVT: "pbf",
            TileType.PNG: "png",
            TileType.JPEG: "jpg",
            TileType.WEBP: "webp",
            TileType.AVIF: "avif",
        }.get(header["tile_type"])
        if fmt is None:
            raise GeoAnttError(f"{where}: tile type {header['tile_type'].name} is not MVT, PNG, JPEG, WebP or AVIF")
        if fmt != "pbf" and header["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN):
            raise GeoAnttError(f"{where}: compressed raster tiles ({header['tile_compression'].name})")
        e7 = 1e-7
        box = (
            header["min_lon_e7"] * e7,
            header["min_lat_e7"] * e7,
            header["max_lon_e7"] * e7,
            header["max_lat_e7"] * e7,
        )
        try:
            bounds = _bounds(box, where)
        except GeoAnttError:
            bounds = None  # an archive without bounds (all zeros): the whole world
        meta = meta if isinstance(meta, dict) else {}
        self.info = BasemapInfo(
            kind="pmtiles",
            path=self.path,
            name=_plain(meta.get("name")) or self.path.stem,
            format=fmt,
            bounds=bounds,
            minzoom=int(header["min_zoom"]),
            maxzoom=int(header["max_zoom"]),
            attribution=_plain(meta.get("attribution")),
        )

    @property
    def size(self) -> int:
        """Bytes of the archive."""
        return self.path.stat().st_size

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile ``z/x/y`` (XYZ), or None (compressed as stored for MVT).

        Raises
        ------
        ValueError
            When the address does not exist.
        """
        _check_address(z, x, y)
        if not self.info.minzoom <= z <= self.info.maxzoom:
            return None
        data = self._reader.get(z, x, y)
        return bytes(data) if data else None

    def content_type(self, data: bytes) -> str:
        """The media type of one of this archive's tiles."""
        return tile_content_type(data, self.info.format)

    def close(self) -> None:
        """Nothing to close (the archive is memory-mapped); for symmetry with :class:`MBTiles`."""


def open_basemap(path: str | Path) -> MBTiles | PMTilesArchive:
    """Open a base-map file: MBTiles (SQLite) or PMTiles, told apart by their first bytes.

    Raises
    ------
    GeoAnttError
        When the file is missing, unreadable or neither kind.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise GeoAnttError(f"{p}: cannot read the base-map file ({exc.strerror or exc})") from exc
    if head.startswith(_SQLITE_MAGIC):
        return MBTiles(p)
    if head.startswith(_PMTILES_MAGIC):
        return PMTilesArchive(p)
    raise GeoAnttError(f"{p}: not an MBTiles (SQLite) or PMTiles file")
