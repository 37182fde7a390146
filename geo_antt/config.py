"""Settings and domain defaults, in one frozen dataclass passed explicitly."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Settings", "DEFAULT_SETTINGS", "PROJECT_ROOT", "DEFAULT_DATA_DIR"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    """Analysis and service settings.

    Attributes
    ----------
    metric_crs
        CRS used for every distance and area ("EPSG:32648" = UTM 48N, "EPSG:32649" = UTM 49N,
        VN-2000 e.g. "EPSG:9210"); None picks the UTM zone of the data.
    min_gap_area_m2
        Uncovered pieces smaller than this many square metres are dropped from the gap layer.
    uncovered_threshold_pct
        A hamlet whose covered share is below this percentage is "uncovered".
    sector_segments
        Arc chords per 90 degrees of a camera sector or disc (8, as PostGIS's ST_Buffer; the
        polygons keep the exact sector area whatever the number, see footprints.sector_polygons).
    layers_dir
        Folder of the layer specs (None: the project's ``layers/``).
    data_dir
        Folder of the dataset the service and CLI use by default.
    tile_url
        Base-map tile URL template for the web map; None: no tiles (boundaries are the base map).
    """

    metric_crs: str | None = None
    min_gap_area_m2: float = 25.0
    uncovered_threshold_pct: float = 50.0
    sector_segments: int = 8
    layers_dir: str | None = None
    data_dir: str = str(DEFAULT_DATA_DIR)
    tile_url: str | None = None
    tile_attribution: str = ""

    def replace(self, **changes: Any) -> "Settings":
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


DEFAULT_SETTINGS = Settings()
