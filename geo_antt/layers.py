"""Layer specs: one TOML file per model kind in ``layers/`` (title, footprint rule, defaults,
style, popup fields). Adding a model kind is adding a file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ._errors import GeoAnttError
from .text import fold

__all__ = ["LayerSpec", "DEFAULT_LAYERS_DIR", "load_layer_specs", "resolve_kind", "spatial_kinds"]

DEFAULT_LAYERS_DIR = Path(__file__).resolve().parent.parent / "layers"
FOOTPRINT_RULES = ("sector", "disc", "none")


@dataclass(frozen=True)
class LayerSpec:
    """One model kind: how its footprint is built and how it is drawn.

    ``defaults`` holds default parameters in their units (``fov_deg`` degrees, ``range_m`` and
    ``radius_m`` metres).
    """

    kind: str
    spatial: bool
    title_vi: str
    title_en: str
    aliases: tuple[str, ...]
    footprint: str
    defaults: Mapping[str, float] = field(default_factory=dict)
    color: str = "#555555"
    icon: str = "circle"
    popup_fields: tuple[str, ...] = ()

    def title(self, lang: str = "vi") -> str:
        return self.title_en if lang == "en" else self.title_vi


def _parse(path: Path) -> LayerSpec:
    with path.open("rb") as fh:
        try:
            d = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise GeoAnttError(f"{path}: invalid TOML: {exc}") from None
    try:
        kind = d["kind"]
        rule = d.get("footprint", {}).get("rule", "none")
        if rule not in FOOTPRINT_RULES:
            raise GeoAnttError(f"{path}: footprint.rule must be one of {FOOTPRINT_RULES}, got {rule!r}")
        title = d["title"]
        return LayerSpec(
            kind=kind,
            spatial=bool(d.get("spatial", rule != "none")),
            title_vi=title["vi"],
            title_en=title["en"],
            aliases=tuple(fold(a) for a in d.get("aliases", ())),
            footprint=rule,
            defaults=MappingProxyType({k: float(v) for k, v in d.get("defaults", {}).items()}),
            color=d.get("style", {}).get("color", "#555555"),
            icon=d.get("style", {}).get("icon", "circle"),
            popup_fields=tuple(d.get("popup", {}).get("fields", ())),
        )
    except KeyError as exc:
        raise GeoAnttError(f"{path}: layer spec lacks required key {exc}") from None


@lru_cache(maxsize=8)
def _load(dir_: str) -> Mapping[str, LayerSpec]:
    specs: dict[str, LayerSpec] = {}
    files = sorted(Path(dir_).glob("*.toml"))
    if not files:
        raise GeoAnttError(f"no layer specs (*.toml) in {dir_}")
    for p in files:
        spec = _parse(p)
        if spec.kind in specs:
            raise GeoAnttError(f"{p}: kind {spec.kind!r} is defined twice")
        specs[spec.kind] = spec
    return MappingProxyType(specs)


def load_layer_specs(layers_dir: str | Path | None = None) -> Mapping[str, LayerSpec]:
    """Return ``{kind: LayerSpec}`` read from ``layers_dir`` (default: the project's ``layers/``)."""
    return _load(str(Path(layers_dir or DEFAULT_LAYERS_DIR).resolve()))


def resolve_kind(value: object, specs: Mapping[str, LayerSpec]) -> str | None:
    """Return the kind code for ``value`` (a code, a title or an alias in Vietnamese or English;
    diacritics and case ignored), or None when no spec claims it."""
    key = fold(None if value is None else str(value))
    if not key:
        return None
    for spec in specs.values():
        if key in (fold(spec.kind), fold(spec.kind.replace("_", " ")), fold(spec.title_vi), fold(spec.title_en)):
            return spec.kind
        if key in spec.aliases:
            return spec.kind
    return None


def spatial_kinds(specs: Mapping[str, LayerSpec]) -> tuple[str, ...]:
    """Kinds whose models have a footprint (in spec file order)."""
    return tuple(k for k, s in specs.items() if s.footprint != "none")
