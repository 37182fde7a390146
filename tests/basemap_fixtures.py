"""Small base-map files made by the tests themselves: an MBTiles file (SQLite, raster tiles made
with Pillow, rows stored TMS as QGIS writes them) and a PMTiles v3 archive (gzipped MVT tiles
encoded with mapbox-vector-tile, written by the ``pmtiles`` package's writer).
"""

from __future__ import annotations

import gzip
import io
import math
import sqlite3
from pathlib import Path

__all__ = [
    "EARTH_RGB",
    "ROAD_NAME",
    "STREETS",
    "TILE_RGB",
    "make_mbtiles",
    "make_pmtiles",
    "png_tile",
    "tile_range",
    "write_context_dataset",
]

TILE_RGB = (214, 40, 160)  # the raster tiles' colour: found in screenshots, absent from the page
EARTH_RGB = (242, 239, 233)  # map.js's vector flavour: earth #f2efe9
ROAD_NAME = "Đường Nguyễn Đình Chiểu"


def tile_range(bbox: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    """XYZ (x, y) of the tiles of zoom ``z`` that cover ``bbox`` (west, south, east, north)."""
    n = 1 << z

    def tx(lon: float) -> int:
        return min(n - 1, max(0, int((lon + 180.0) / 360.0 * n)))

    def ty(lat: float) -> int:
        r = math.radians(lat)
        return min(n - 1, max(0, int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)))

    w, s, e, nn = bbox
    return [(x, y) for x in range(tx(w), tx(e) + 1) for y in range(ty(nn), ty(s) + 1)]


def png_tile(rgb: tuple[int, int, int] = TILE_RGB, *, fmt: str = "PNG", mark: int = 0) -> bytes:
    """A 256 px tile of one colour (``mark`` changes a corner pixel, so the bytes differ)."""
    from PIL import Image

    img = Image.new("RGB", (256, 256), rgb)
    img.putpixel((0, 0), (mark % 256, (mark // 256) % 256, 0))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def make_mbtiles(
    path: Path,
    *,
    bbox: tuple[float, float, float, float],
    zooms: range,
    metadata: dict[str, str] | None = None,
    tiles: dict[tuple[int, int, int], bytes] | None = None,
) -> Path:
    """An MBTiles file with one PNG tile per XYZ address of ``bbox`` at each zoom (or the given
    ``tiles`` by XYZ address); rows stored TMS (``2**z - 1 - y``).
    """
    if tiles is None:
        tiles = {}
        for z in zooms:
            for x, y in tile_range(bbox, z):
                tiles[(z, x, y)] = png_tile(mark=len(tiles))
    meta = {
        "name": "Bến Tre (thử)",
        "format": "png",
        "bounds": ",".join(str(v) for v in bbox),
        "minzoom": str(min(zooms)),
        "maxzoom": str(max(zooms)),
        "type": "baselayer",
        "attribution": '<a href="http://example.invalid/">© Sở TN&amp;MT</a>',
    }
    meta.update(metadata or {})
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        con.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        con.executemany("INSERT INTO metadata VALUES (?, ?)", [(k, v) for k, v in meta.items() if v is not None])
        con.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()],
        )
    con.close()
    return path


def _mvt(z: int, x: int, y: int) -> bytes:
    import mapbox_vector_tile

    layers = [
        {
            "name": "earth",
            "features": [
                {"geometry": "POLYGON ((0 0, 4096 0, 4096 4096, 0 4096, 0 0))", "properties": {"kind": "earth"}}
            ],
        },
        {
            "name": "water",
            "features": [
                {
                    "geometry": "POLYGON ((0 3300, 4096 3300, 4096 4096, 0 4096, 0 3300))",
                    "properties": {"kind": "river", "name": "Sông Hàm Luông"},
                }
            ],
        },
        {
            "name": "buildings",
            "features": [
                {
                    "geometry": "POLYGON ((600 600, 1400 600, 1400 1200, 600 1200, 600 600))",
                    "properties": {"kind": "building"},
                }
            ],
        },
        {
            "name": "roads",
            "features": [
                {
                    "geometry": "LINESTRING (-64 2048, 4160 2048)",
                    "properties": {
                        "kind": "major_road",
                        "kind_detail": "primary",
                        "name": ROAD_NAME,
                        "name:vi": ROAD_NAME,
                    },
                }
            ],
        },
    ]
    return gzip.compress(mapbox_vector_tile.encode(layers, default_options={"y_coord_down": True}), mtime=0)


def make_pmtiles(path: Path, *, bbox: tuple[float, float, float, float], zooms: range) -> Path:
    """A PMTiles v3 archive of gzipped MVT tiles (layers earth, water, buildings, roads of the
    Protomaps basemap schema) covering ``bbox`` at each zoom.
    """
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import write

    ids = sorted(zxy_to_tileid(z, x, y) for z in zooms for x, y in tile_range(bbox, z))
    from pmtiles.tile import tileid_to_zxy

    w_, s_, e_, n_ = bbox
    with write(path) as writer:
        for tid in ids:
            writer.write_tile(tid, _mvt(*tileid_to_zxy(tid)))
        writer.finalize(
            {
                "tile_type": TileType.MVT,
                "tile_compression": Compression.GZIP,
                "min_lon_e7": int(w_ * 1e7),
                "min_lat_e7": int(s_ * 1e7),
                "max_lon_e7": int(e_ * 1e7),
                "max_lat_e7": int(n_ * 1e7),
                "center_zoom": max(zooms),
                "center_lon_e7": int((w_ + e_) / 2 * 1e7),
                "center_lat_e7": int((s_ + n_) / 2 * 1e7),
            },
            {
                "name": "Bến Tre <vector>",
                "attribution": "© OpenStreetMap",
                "vector_layers": [{"id": n, "fields": {}} for n in ("earth", "water", "buildings", "roads")],
            },
        )
    return path


STREETS = (("Đường Nguyễn Đình Chiểu", "primary"), ("Đường Lê Lợi", "residential"), ("Hẻm 12", "service"))


def write_context_dataset(src: Path, dst: Path) -> Path:
    """A copy of dataset folder ``src`` in ``dst`` whose ``dataset.toml`` also lists roads
    (a small street grid over the synthetic communes, named; one of them drawn east to west)
    and buildings (small squares along the streets), as ``geo-antt osm convert`` writes them.
    """
    import shutil

    import geopandas as gpd
    from shapely.geometry import LineString, box

    shutil.copytree(src, dst)
    x0, y0 = 106.30, 10.10
    roads = [
        {
            "osm_id": 1,
            "highway": STREETS[0][1],
            "name": STREETS[0][0],
            "geometry": LineString([(x0 - 0.002, y0 + 0.002), (x0 + 0.010, y0 + 0.002)]),
        },
        {
            "osm_id": 2,
            "highway": STREETS[1][1],
            "name": STREETS[1][0],
            "geometry": LineString([(x0 + 0.004, y0 - 0.002), (x0 + 0.004, y0 + 0.006)]),
        },
        # drawn east to west: its name must still read left to right
        {
            "osm_id": 3,
            "highway": STREETS[2][1],
            "name": STREETS[2][0],
            "geometry": LineString([(x0 + 0.007, y0 + 0.0032), (x0 + 0.001, y0 + 0.0032)]),
        },
        {
            "osm_id": 4,
            "highway": "track",
            "name": None,
            "geometry": LineString([(x0 + 0.03, y0 + 0.03), (x0 + 0.031, y0 + 0.031)]),
        },
    ]
    buildings = [
        {
            "osm_id": 10 + i,
            "building": "house",
            "levels": 2.0,
            "height_m": None,
            "geometry": box(x0 + 0.0005 + i * 0.0008, y0 + 0.0024, x0 + 0.0011 + i * 0.0008, y0 + 0.0029),
        }
        for i in range(8)
    ]
    (dst / "osm").mkdir()
    gpd.GeoDataFrame(roads, crs=4326).to_file(dst / "osm" / "roads.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(buildings, crs=4326).to_file(dst / "osm" / "buildings.geojson", driver="GeoJSON")
    toml = dst / "dataset.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8") + '\nroads = ["osm/roads.geojson"]\nbuildings = ["osm/buildings.geojson"]\n',
        encoding="utf-8",
    )
    return dst
