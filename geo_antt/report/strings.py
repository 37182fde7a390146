"""The report's words in Vietnamese and English, and its formats."""

from __future__ import annotations

from collections.abc import Mapping

from .._errors import GeoAnttError
from ..i18n import N_, strings_table

__all__ = ["FORMATS"]


FORMATS = ("html", "pdf", "xlsx")


CHROMIUM = "/usr/bin/chromium"


_LABELS: dict[str, dict[str, str]] = strings_table(
    "report",
    {
        "title": N_("report", 'Report of the movement "All people protect national security"'),
        "period": N_("report", "Reporting period"),
        "previous": N_("report", "Previous period"),
        "generated": N_("report", "Generated"),
        "summary": N_("report", "Key figures"),
        "figure": N_("report", "Figure"),
        "value": N_("report", "Value"),
        "this_period": N_("report", "This period"),
        "prev_period": N_("report", "Previous period"),
        "change": N_("report", "Change"),
        "n_models": N_("report", "Models in total"),
        "n_new": N_("report", "New models in the period"),
        "n_active": N_("report", "Active"),
        "n_inactive": N_("report", "Inactive"),
        "n_proposed": N_("report", "Proposed"),
        "n_names": N_("report", "Distinct model names"),
        "n_fields": N_("report", "Fields"),
        "n_communes": N_("report", "Communes"),
        "n_hamlets": N_("report", "Hamlets"),
        "covered_pct": N_("report", "Area covered (%)"),
        "road_covered_pct": N_("report", "Street length covered (%)"),
        "n_uncovered": N_("report", "Uncovered hamlets"),
        "safe_share": N_("report", 'Hamlets with a "safe residential area" model (%)'),
        "n_safe_places": N_("report", "Agencies, enterprises, schools registered as safe"),
        "not_recorded": N_("report", "not recorded"),
        "by_kind": N_("report", "Models by kind"),
        "by_field": N_("report", "Models by field"),
        "by_host": N_("report", "Models by host"),
        "by_status": N_("report", "Models by status"),
        "kind": N_("report", "Kind"),
        "field": N_("report", "Field"),
        "host": N_("report", "Host"),
        "status": N_("report", "Status"),
        "count": N_("report", "Count"),
        "new": N_("report", "New in period"),
        "unknown": N_("report", "Unknown"),
        "coverage_communes": N_("report", "Coverage per commune"),
        "coverage_hamlets": N_("report", "Coverage per hamlet"),
        "uncovered_list": N_("report", "Uncovered hamlets (below {t} %)"),
        "none": N_("report", "None."),
        "code": N_("report", "Code"),
        "name": N_("report", "Name"),
        "parent": N_("report", "Parent"),
        "area_km2": N_("report", "Area (km²)"),
        "covered_km2": N_("report", "Covered (km²)"),
        "uncovered_km2": N_("report", "Uncovered (km²)"),
        "road_km": N_("report", "Streets (km)"),
        "road_covered_km": N_("report", "Streets covered (km)"),
        "road_pct": N_("report", "Streets covered (%)"),
        "uncovered_road_km": N_("report", "Streets uncovered (km)"),
        "ranked_by_street": N_(
            "report", "Ranked by the share of street length covered (lowest first), then by uncovered street km."
        ),
        "ranked_by_area": N_("report", "Ranked by the share of area covered (lowest first), then by uncovered area."),
        "pct": N_("report", "Covered (%)"),
        "rank": N_("report", "Rank"),
        "charts": N_("report", "Charts"),
        "chart_bar": N_("report", "Coverage per commune (%)"),
        "chart_hist": N_("report", "Distribution of hamlet coverage"),
        "chart_hist_x": N_("report", "Covered (%)"),
        "chart_hist_y": N_("report", "Number of hamlets"),
        "chart_scaled": N_("report", "scale enlarged; the {thr} % threshold lies beyond it"),
        "map": N_("report", "Coverage map"),
        "map_caption": N_(
            "report",
            "Colour: covered share (%); red hatching: uncovered areas; dark blue dots and areas: active models and their footprints.",
        ),
        "comparison": N_("report", "Comparison with the previous period"),
        "communes_2025": N_("report", "Totals per commune after the 1 July 2025 merger"),
        "n_old": N_("report", "Former communes"),
        "note_2025": N_(
            "report",
            "Only the former communes of this report are summed; a new commune that also took in other units is partial. Mapping: the vietnamadminunits package.",
        ),
        "old_codes": N_("report", "Former codes"),
        "approximate": N_("report", "Hamlet boundaries are approximate, for illustration only."),
        "sheet_summary": N_("report", "Summary"),
        "tiers": N_("report", "Coverage by what the cameras are for (IEC 62676-4)"),
        "tier": N_("report", "Purpose"),
        "px_per_m": N_("report", "Pixel density (px/m)"),
        "tier_recorded": N_("report", "Recorded range"),
        "tier_unknown": N_("report", "Cameras of unknown resolution"),
        "note_tiers": N_(
            "report",
            "A camera's range for each purpose comes from its horizontal resolution and field of view (rectilinear lens: R / (2·p·tan(fov/2)); fisheye, panoramic: R / (p·fov in radians)); cameras of unknown resolution keep their recorded range. Other models (lights, checkpoints) are unchanged.",
        ),
    },
)


def _t(lang: str) -> Mapping[str, str]:
    if lang not in _LABELS:
        raise GeoAnttError(f"language must be 'vi' or 'en', got {lang!r}")
    return _LABELS[lang]
