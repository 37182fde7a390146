"""Small geometry helpers shared by the readers and the analysis core."""

from __future__ import annotations

import shapely

__all__ = ["POLYGONAL", "polygonal_part"]

POLYGONAL = ("Polygon", "MultiPolygon")


def polygonal_part(g: shapely.Geometry | None) -> shapely.Geometry | None:
    """The (multi)polygon part of a repaired geometry (make_valid may add lines or points);
    None when it has none.
    """
    if g is None or g.is_empty:
        return None
    if g.geom_type in POLYGONAL:
        return g
    if g.geom_type == "GeometryCollection":
        polys = [p for p in shapely.get_parts(g) if p.geom_type in POLYGONAL and not p.is_empty]
        if not polys:
            return None
        u = shapely.union_all(polys)
        return u if u.geom_type in POLYGONAL else None
    return None
