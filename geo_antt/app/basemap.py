"""The offline base map: tiles of one MBTiles or PMTiles file, served by the app itself.

``BASEMAP`` (config; ``geo-antt serve --basemap FILE``; env ``GEO_ANTT_BASEMAP``) names the file,
opened once by :func:`init_basemap` with :func:`geo_antt.io.basemap.open_basemap`.

- ``GET /basemap/{z}/{x}/{y}``: one raster tile in XYZ order (an MBTiles file, or a raster
  PMTiles archive), with its media type, an ETag of its bytes and ``Cache-Control``; 304 for a
  matching ``If-None-Match``; an empty 404 where the file has no tile; 400 for an address that is
  not three whole numbers with ``0 <= x, y < 2**z``.
- ``GET /basemap.pmtiles``: the PMTiles archive itself, with HTTP range requests (206 and
  ``Content-Range``, Flask's ``send_file(conditional=True)``): the browser reads the directories
  and tiles it needs and draws vector tiles with protomaps-leaflet.

Both need a logged-in user, like every page but the login page; nothing leaves the server.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from ..io.basemap import MAX_ZOOM, MBTiles, PMTilesArchive, open_basemap

__all__ = ["CACHE_SECONDS", "bp", "get_basemap", "init_basemap"]

bp = Blueprint("basemap", __name__)

# How long a browser keeps a tile (or the archive's ranges) before asking again (with its ETag).
CACHE_SECONDS = 86400
_EXT = "geo_antt_basemap"
_NUMBER = re.compile(r"[0-9]{1,10}")


def init_basemap(app: Flask, path: str | None) -> None:
    """Open the base-map file ``path`` (none: no base map) and register the routes.

    Raises
    ------
    GeoAnttError
        When the file is missing or not an MBTiles/PMTiles file.
    """
    app.extensions[_EXT] = open_basemap(path) if path else None
    app.register_blueprint(bp)


def get_basemap() -> MBTiles | PMTilesArchive | None:
    """The base map of the current app, or None."""
    return current_app.extensions.get(_EXT)


def _address(z: str, x: str, y: str) -> tuple[int, int, int]:
    if not all(_NUMBER.fullmatch(v) for v in (z, x, y)):
        abort(400, f"tile {z}/{x}/{y}: z, x and y must be whole numbers")
    zi, xi, yi = int(z), int(x), int(y)
    if zi > MAX_ZOOM or xi >= (1 << zi) or yi >= (1 << zi):
        abort(400, f"tile {zi}/{xi}/{yi} does not exist (x and y below 2**z, z at most {MAX_ZOOM})")
    return zi, xi, yi


def _cached(resp: Response) -> Response:
    resp.cache_control.public = False
    resp.cache_control.private = True
    resp.cache_control.max_age = CACHE_SECONDS
    return resp


@bp.get("/basemap/<z>/<x>/<y>")
def tile(z: str, x: str, y: str) -> Any:
    """One raster tile (XYZ); an empty 404 where there is none."""
    zi, xi, yi = _address(z, x, y)
    bm = get_basemap()
    data = bm.tile(zi, xi, yi) if bm is not None and not bm.info.vector else None
    if bm is None or data is None:
        return _cached(Response(b"", status=404, mimetype="text/plain"))
    resp = Response(data, mimetype=bm.content_type(data))
    resp.set_etag(hashlib.blake2b(data, digest_size=12).hexdigest())
    return _cached(resp).make_conditional(request)


@bp.get("/basemap.pmtiles")
def archive() -> Any:
    """The PMTiles archive, by range requests."""
    bm = get_basemap()
    if not isinstance(bm, PMTilesArchive):
        return Response(b"", status=404, mimetype="text/plain")
    try:
        resp = send_file(
            bm.path, mimetype="application/octet-stream", conditional=True, etag=True, max_age=CACHE_SECONDS
        )
    except RequestedRangeNotSatisfiable:
        # the size in Content-Range lets the reader ask again (the app's JSON errors carry no headers)
        return Response(b"", status=416, mimetype="text/plain", headers={"Content-Range": f"bytes */{bm.size}"})
    return _cached(resp)
