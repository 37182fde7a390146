"""Air-gapped assets: folium's CDN lists replaced once by the app's own /static/vendor URLs."""

from __future__ import annotations

import folium
import pytest
from folium.plugins import MarkerCluster

from geo_antt import _assets


def test_use_local_assets_is_global_and_idempotent():
    _assets.use_local_assets(url_prefix="/static/vendor")
    _assets.use_local_assets(url_prefix="/static/vendor/")  # same prefix: nothing changes
    urls = [u for _, u in folium.Map.default_js + folium.Map.default_css + MarkerCluster.default_js
            + MarkerCluster.default_css]
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
