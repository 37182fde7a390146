"""The data model shared by every module: columns of the frames, and the controlled vocabularies.

Frames in geo-antt (all GeoDataFrames, stored in EPSG:4326):

*Units* (``UNIT_COLUMNS``), index = ``code``: administrative units of any level —
``province``, ``district`` (pre-2025 only), ``commune``, ``hamlet`` — with ``parent_code`` linking
them, ``approximate`` (True for generated/estimated polygons), ``valid_from``/``valid_to`` (ISO
dates; the 1 July 2025 reform ended districts and merged communes), and Polygon/MultiPolygon
geometry.

*Models* (``MODEL_COLUMNS``), index = ``id``: the security models (mô hình). ``kind`` is one of
the kinds defined by ``layers/*.toml`` (camera, lighting, checkpoint, gate, and the non-spatial
ones); ``field``, ``host`` and ``status`` use the codes of :data:`FIELDS`, :data:`HOSTS` and
:data:`STATUSES`. ``direction_deg`` holds a tuple of directions in degrees clockwise from north
(a camera may look several ways: one sector each); ``fov_deg`` is the total horizontal angle of
view in degrees, ``range_m`` and ``radius_m`` are metres; ``resolution_px`` is a camera's
horizontal resolution in pixels (NaN: not known) and ``lens`` a code of :data:`LENSES` (None:
rectilinear), from which ``geo_antt.tiers`` derives its range for each purpose. The geometry is a Point (a lighting
line along a road may be a LineString), or None for non-spatial models.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .text import fold

__all__ = [
    "UNIT_COLUMNS",
    "UNIT_LEVELS",
    "MODEL_COLUMNS",
    "FIELDS",
    "HOSTS",
    "STATUSES",
    "LENSES",
    "DEFAULT_LENS",
    "COUNTING_STATUSES",
    "ROLES",
    "lookup_vocab",
]

UNIT_LEVELS = ("province", "district", "commune", "hamlet")

UNIT_COLUMNS = (
    "code",
    "name",
    "level",
    "parent_code",
    "approximate",
    "valid_from",
    "valid_to",
)

MODEL_COLUMNS = (
    "id",
    "kind",
    "name",
    "field",
    "host",
    "status",
    "unit_code",
    "direction_deg",
    "fov_deg",
    "range_m",
    "radius_m",
    "height_m",
    "resolution_px",
    "lens",
    "camera_type",
    "owner",
    "data_sharing",
    "start_date",
    "end_date",
    "notes",
)

# code -> (Vietnamese label, English label, aliases). Aliases are matched after fold().
FIELDS = MappingProxyType(
    {
        "crime_prevention": (
            "Phòng, chống tội phạm",
            "Crime prevention",
            ("phong chong toi pham", "toi pham", "phong chong toi pham va vi pham phap luat", "ptp"),
        ),
        "subject_management": (
            "Quản lý, giáo dục, giúp đỡ đối tượng",
            "Subject management",
            ("quan ly doi tuong", "quan ly giao duc giup do doi tuong", "giup do doi tuong", "doi tuong"),
        ),
        "traffic_safety": (
            "Bảo đảm trật tự an toàn giao thông",
            "Traffic safety",
            ("an toan giao thong", "trat tu an toan giao thong", "giao thong", "attgt"),
        ),
        "ethnic_affairs": (
            "An ninh dân tộc, tôn giáo",
            "Ethnic and religious affairs",
            ("dan toc", "ton giao", "dan toc ton giao", "an ninh dan toc ton giao", "ethnic affairs"),
        ),
        "fire_prevention": (
            "Phòng cháy, chữa cháy",
            "Fire prevention",
            ("phong chay chua chay", "pccc", "phong chay", "chua chay", "fire"),
        ),
    }
)

HOSTS = MappingProxyType(
    {
        "residential": ("Khu dân cư", "Residential area", ("khu dan cu", "kdc", "dan cu", "residential area")),
        "agency": ("Cơ quan", "Agency", ("co quan", "co quan nha nuoc", "agency")),
        "enterprise": ("Doanh nghiệp", "Enterprise", ("doanh nghiep", "dn", "enterprise", "company")),
        "school": ("Cơ sở giáo dục", "School", ("co so giao duc", "truong hoc", "nha truong", "school")),
    }
)

STATUSES = MappingProxyType(
    {
        "active": ("Hoạt động", "Active", ("hoat dong", "dang hoat dong", "active", "on", "1", "yes")),
        "inactive": (
            "Ngừng hoạt động",
            "Inactive",
            ("ngung hoat dong", "khong hoat dong", "hong", "inactive", "off", "0", "no", "retired"),
        ),
        "proposed": ("Đề xuất", "Proposed", ("de xuat", "du kien", "proposed", "planned")),
    }
)

# Camera lenses: a rectilinear lens (the usual one; fov under 180 degrees) or a fisheye /
# panoramic one, whose pixels spread evenly over the angle (geo_antt.tiers).
LENSES = MappingProxyType(
    {
        "rectilinear": (
            "Ống kính thường",
            "Rectilinear",
            ("thuong", "ong kinh thuong", "tieu chuan", "standard", "normal", "rectilinear lens"),
        ),
        "fisheye": ("Mắt cá", "Fisheye", ("mat ca", "ong kinh mat ca", "fish eye", "fish-eye", "fisheye lens")),
        "panoramic": ("Toàn cảnh", "Panoramic", ("toan canh", "panorama", "360", "panoramic lens")),
    }
)
DEFAULT_LENS = "rectilinear"

# Account roles: admin (everything), officer (edits models of its units), viewer (reads them).
ROLES = ("admin", "officer", "viewer")

# Only these statuses count toward coverage.
COUNTING_STATUSES = ("active",)


def lookup_vocab(vocab: Mapping[str, Any], value: object) -> str | None:
    """Return the code of ``value`` in ``vocab`` (code, either label or an alias; diacritics and
    case ignored), or None when it is not known.
    """
    key = fold(None if value is None else str(value))
    if not key:
        return None
    for code, (vi, en, aliases) in vocab.items():
        if key in (fold(code), fold(code.replace("_", " ")), fold(vi), fold(en)) or key in aliases:
            return code
    return None
