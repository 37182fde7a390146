"""Running the app: waitress (production, threads) or Werkzeug's development server."""

from __future__ import annotations

from flask import Flask

__all__ = ["run_server"]


def run_server(
    app: Flask, *, host: str, port: int, dev: bool = False, threads: int = 8, trusted_proxy: str | None = None
) -> None:
    """Serve ``app`` on ``host``:``port`` until interrupted.

    Parameters
    ----------
    dev
        Werkzeug's development server (threaded, no reloader, no debugger) instead of waitress.
    threads
        Waitress worker threads.
    trusted_proxy
        Address of a reverse proxy whose ``X-Forwarded-For``/``-Proto`` headers are trusted
        (one hop); other such headers are cleared.
    """
    if dev:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
        return
    import waitress

    options: dict[str, object] = {"threads": threads, "ident": "geo-antt"}
    if trusted_proxy:
        options.update(
            trusted_proxy=trusted_proxy,
            trusted_proxy_count=1,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
            clear_untrusted_proxy_headers=True,
        )
    waitress.serve(app, host=host, port=port, **options)
