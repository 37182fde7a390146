"""``geo-antt serve``: run the map service (Flask app + OGC API) on a host and port.

The first run on a store without accounts creates the ``admin`` account with a random password
and prints it once (change it with ``geo-antt users passwd admin``).

The app is served by Waitress, a production WSGI server (pure Python, a pool of ``--threads``
worker threads; behind a reverse proxy, ``--trusted-proxy`` lets it read the client address from
``X-Forwarded-For``). ``--dev`` runs Werkzeug's development server instead.
"""

from __future__ import annotations

import argparse
import os

__all__ = ["register", "cmd_serve"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command to the ``geo-antt`` parser."""
    p = subparsers.add_parser(
        "serve",
        help="serve the map and the OGC API (default http://127.0.0.1:5000/)",
        description=(
            "Serve the interactive map (Vietnamese; English with ?lang=en), the OGC API - Features "
            "endpoints (/collections...) and the GeoJSON/GeoPackage exports of a dataset directory."
        ),
        epilog=(
            "examples:\n"
            "  geo-antt serve                                   the embedded demo on 127.0.0.1:5000\n"
            "  geo-antt serve --data /srv/antt --port 8080\n"
            "  geo-antt serve --db postgresql://antt@db.intranet/antt\n"
            "  geo-antt serve --tile-url 'http://tiles.intranet/{z}/{x}/{y}.png'\n"
            "  geo-antt serve --basemap /srv/antt/ben-tre.mbtiles   base map from one file (or .pmtiles)\n"
            "  ogrinfo OAPIF:http://127.0.0.1:5000/               read it with GDAL/QGIS"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="TCP port (default 5000)")
    p.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="dataset directory with dataset.toml (default: env GEO_ANTT_DATA, else data/)",
    )
    p.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="store: sqlite:///FILE or postgresql://user@host:port/db "
        "(default: env GEO_ANTT_DB, else DATA/geo-antt.sqlite, seeded from DATA on first run)",
    )
    p.add_argument(
        "--public-aggregates",
        action="store_true",
        help="let anonymous users read aggregate figures (coverage, counts; never camera positions)",
    )
    p.add_argument(
        "--tile-url", default=None, help="base-map tile URL template, e.g. an intranet tile server (default: no tiles)"
    )
    p.add_argument(
        "--basemap",
        metavar="FILE",
        default=None,
        help="offline base map served by the app itself: an MBTiles file (raster PNG/JPEG/WebP, "
        "e.g. from QGIS) or a PMTiles archive (vector; default: env GEO_ANTT_BASEMAP, else none)",
    )
    p.add_argument("--tile-attribution", default="", help="attribution text of the tiles")
    p.add_argument("--threads", type=int, default=8, metavar="N", help="worker threads answering requests (default 8)")
    p.add_argument(
        "--trusted-proxy",
        metavar="ADDR",
        default=None,
        help="address of a reverse proxy (nginx...) whose X-Forwarded-For/-Proto headers are "
        "trusted (login rate limits then count per client, not per proxy)",
    )
    p.add_argument(
        "--dev", action="store_true", help="use Werkzeug's development server instead of Waitress (never in production)"
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Create the app, print its URL and serve until interrupted."""
    from .._errors import GeoAnttError
    from ..app import create_app, ensure_admin_account, run_server

    if args.threads < 1:
        raise GeoAnttError(f"--threads {args.threads}: must be at least 1")

    config: dict[str, object] = {}
    if args.data:
        config["DATA_DIR"] = os.path.abspath(args.data)
    if args.db:
        config["DB"] = args.db
    if args.public_aggregates:
        config["PUBLIC_AGGREGATES"] = True
    if args.tile_url:
        config["TILE_URL"] = args.tile_url
        config["TILE_ATTRIBUTION"] = args.tile_attribution
    if args.basemap:
        config["BASEMAP"] = os.path.abspath(args.basemap)
    app = create_app(overrides=config)
    store = app.extensions["geo_antt"].store
    password = ensure_admin_account(store)
    if password is not None:
        db = f" --db '{args.db}'" if args.db else (f" --data '{args.data}'" if args.data else "")
        print(
            "geo-antt: first run - created the account 'admin' with the password:\n"
            f"    {password}\n"
            "  (shown only this once; log in with it, then change it: "
            f"geo-antt users passwd admin{db})",
            flush=True,
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"geo-antt: serving {store.url} at http://{host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    run_server(
        app, host=args.host, port=args.port, dev=args.dev, threads=args.threads, trusted_proxy=args.trusted_proxy
    )
    return 0
