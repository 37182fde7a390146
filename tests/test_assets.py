"""Air-gapped assets: folium's CDN lists replaced once by the app's own /static/vendor URLs."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import folium
import pytest
from folium.plugins import MarkerCluster

from geo_antt.app import assets as _assets
from tests.browser_support import need


def test_use_local_assets_is_global_and_idempotent():
    _assets.use_local_assets(url_prefix="/static/vendor")
    _assets.use_local_assets(url_prefix="/static/vendor/")  # same prefix: nothing changes
    urls = [
        u
        for _, u in folium.Map.default_js
        + folium.Map.default_css
        + MarkerCluster.default_js
        + MarkerCluster.default_css
    ]
    assert urls and all(u.startswith("/static/vendor/") for u in urls)
    assert [u for _, u in folium.folium._default_js] == ["/static/vendor/leaflet/leaflet.js"]
    with pytest.raises(ValueError, match="already point"):
        _assets.use_local_assets(url_prefix="/other")
    # a fresh map renders only local links
    m = folium.Map(tiles=None)
    MarkerCluster().add_to(m)
    html = m.get_root().render()
    assert "cdn" not in html and "https://" not in html


def test_missing_vendor_files(tmp_path):
    missing = _assets.missing_vendor_files(tmp_path)
    assert missing == [p for _, _, p in _assets.VENDOR_FILES]
    for p in missing:
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_text("x")
    assert _assets.missing_vendor_files(tmp_path) == []


def _vendor_hash(root: Path) -> str:
    """The hash scripts/vendor.sh stamps (sha256sum of its inputs, hashed again, 16 chars)."""
    lines = ""
    for rel in ("web/package-lock.json", "web/package.json", "scripts/vendor.sh"):
        lines += f"{hashlib.sha256((root / rel).read_bytes()).hexdigest()}  {rel}\n"
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def test_vendor_sh_does_nothing_when_up_to_date():
    root = _assets.VENDOR_DIR.parent.parent.parent
    stamp = _assets.VENDOR_DIR / ".stamp"
    why = None
    if _assets.missing_vendor_files() or not stamp.is_file():
        why = "web assets not installed: run scripts/vendor.sh"
    elif stamp.read_text().strip() != _vendor_hash(root):
        why = "web assets older than web/package-lock.json: run scripts/vendor.sh"
    need(why is None, why or "")  # make setup installs them: under CI their absence is a failure
    before = {p: p.stat().st_mtime_ns for p in _assets.VENDOR_DIR.rglob("*")}
    out = subprocess.run(["bash", str(root / "scripts" / "vendor.sh")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""  # nothing installed
    assert {p: p.stat().st_mtime_ns for p in _assets.VENDOR_DIR.rglob("*")} == before
