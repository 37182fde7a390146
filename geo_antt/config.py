"""Settings and domain defaults, in one frozen dataclass passed explicitly."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Settings",
    "DEFAULT_SETTINGS",
    "DEFAULT_DATA_DIR",
    "COVERAGE_COLOURS",
    "INSTALLED",
    "resource_dir",
    "state_dir",
]

_PACKAGE = Path(__file__).resolve().parent
# Installed from a wheel (not run from a checkout, nor an editable install of one).
INSTALLED = not (_PACKAGE.parent / "pyproject.toml").is_file()


def resource_dir(name: str) -> Path:
    """The project's ``web``, ``layers`` or ``data`` folder: ``geo_antt/_data/<name>``, a link to
    the checkout's top-level folder, or the copy a wheel installs there.
    """
    return (_PACKAGE / "_data" / name).resolve()


def state_dir() -> Path:
    """Where an installed geo-antt keeps what it writes by default (the SQLite store of the
    demo dataset): ``$GEO_ANTT_HOME``, else ``$XDG_DATA_HOME/geo-antt`` (``~/.local/share``);
    a checkout keeps it in its ``data/`` folder (gitignored).
    """
    if os.environ.get("GEO_ANTT_HOME"):
        return Path(os.environ["GEO_ANTT_HOME"])
    if not INSTALLED:
        return _PACKAGE.parent / "data"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "geo-antt"


DEFAULT_DATA_DIR = resource_dir("data")
# Colours of the covered-share classes, one more than the class breaks: pale = uncovered, dark
# green = covered (red is kept for the gaps). The map page and the report's map use them both.
COVERAGE_COLOURS = ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837")


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
    min_street_gap_m
        Uncovered stretches of road shorter than this many metres are dropped from the street
        gap layer (a stretch between two footprints a few metres apart is no gap to act on).
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
    coverage_classes_pct
        Upper ends of the covered-share classes of the maps, percent, increasing (four breaks,
        five classes). Fine at the low end: by area a rural hamlet is often under 1 % covered
        and a dense ward seldom over 50 %, so equal 20 % steps would paint nearly all alike.
    """

    metric_crs: str | None = None
    min_gap_area_m2: float = 25.0
    min_street_gap_m: float = 10.0
    uncovered_threshold_pct: float = 50.0
    sector_segments: int = 8
    layers_dir: str | None = None
    data_dir: str = str(DEFAULT_DATA_DIR)
    tile_url: str | None = None
    tile_attribution: str = ""
    coverage_classes_pct: tuple[float, ...] = (1.0, 5.0, 20.0, 50.0)

    def __post_init__(self) -> None:
        """Check the coverage classes: one bound fewer than colours, strictly rising, inside 0-100 %."""
        b = tuple(float(x) for x in self.coverage_classes_pct)
        if len(b) != len(COVERAGE_COLOURS) - 1 or any(not 0 < x < 100 for x in b) or list(b) != sorted(set(b)):
            msg = f"coverage_classes_pct must be {len(COVERAGE_COLOURS) - 1} increasing percentages between 0 and 100, got {self.coverage_classes_pct!r}"
            raise ValueError(msg)
        object.__setattr__(self, "coverage_classes_pct", b)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


DEFAULT_SETTINGS = Settings()
