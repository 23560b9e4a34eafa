"""Site parameters (the ``[sites]`` table), score weights and the result record of site assembly."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.config import from_dict, to_dict
from planner.errors import ConfigError

#: Parcel roles in :attr:`SiteResult.parcel_sites`.
ROLES = ("flagged", "absorbed", "retained_inside", "added")


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the rank score (TOML table ``[sites.weights]``).

    ``score = area*norm(land_area_m2) + flagged*flagged_share + compactness*compactness
    + unconstrained*(1 - constraint_share) + uplift*norm(floor uplift)``, where
    ``norm(x) = x / max(x)`` over the sites with status ``"ok"`` and the floor
    uplift is ``potential_floor_area_m2 - floor_area_m2`` (at least 0).
    """

    area: float = 0.30
    flagged: float = 0.20
    compactness: float = 0.15
    unconstrained: float = 0.10
    uplift: float = 0.25

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) < 0:
                msg = f"weights.{f.name} must be >= 0, got {getattr(self, f.name)}"
                raise ConfigError(msg)


@dataclass(frozen=True)
class SiteParams:
    """Parameters of site assembly (policy file table ``[sites]``).

    Keys (all optional; defaults from DOMAIN.md "Contiguous sites"):

    ``gap_m`` (2.0, G)
        parcels within this distance are neighbours (digitizing slivers; up to
        ~15 m to bridge local lanes).
    ``min_area_m2`` (10,000, S: Shenzhen renewal units; small-site mode 3,000)
        sites with less developable land get status ``"too_small"`` (kept).
    ``max_area_m2`` (none)
        sites above it get status ``"too_large"`` (kept).
    ``absorb_enclaves`` (true), ``enclave_max_area_m2`` (3,333 = 5 mu, S: Quanzhou
    small-parcel threshold), ``enclave_max_share`` (0.20, G), ``enclave_cover_share`` (0.9)
        enclave absorption, see the module docstring.
    ``constraint_exclude_share`` (0.5, G)
        flagged parcels more than this share inside protected land are excluded.
    ``barrier_contact_tol_m`` (0.5), ``barrier_contact_share`` (0.5)
        when a barrier separates touching parcels (see module docstring).
    ``target_plot_ratio`` (2.5, S: standard factory park, DOMAIN.md)
        plot ratio of the default park template for ``potential_floor_area_m2``.
    ``close_gaps`` (true)
        site outlines bridge the gaps (< ``gap_m``) between members.
    ``weights``
        :class:`ScoreWeights`.
    """

    gap_m: float = 2.0
    min_area_m2: float = 10_000.0
    max_area_m2: float | None = None
    absorb_enclaves: bool = True
    enclave_max_area_m2: float = 3_333.0
    enclave_max_share: float = 0.20
    enclave_cover_share: float = 0.9
    constraint_exclude_share: float = 0.5
    barrier_contact_tol_m: float = 0.5
    barrier_contact_share: float = 0.5
    target_plot_ratio: float = 2.5
    close_gaps: bool = True
    weights: ScoreWeights = field(default_factory=ScoreWeights)

    def __post_init__(self) -> None:
        if self.gap_m < 0:
            msg = f"gap_m must be >= 0 metres, got {self.gap_m}"
            raise ConfigError(msg)
        if self.min_area_m2 < 0:
            msg = f"min_area_m2 must be >= 0, got {self.min_area_m2}"
            raise ConfigError(msg)
        if self.max_area_m2 is not None and self.max_area_m2 < self.min_area_m2:
            msg = f"max_area_m2 ({self.max_area_m2}) is below min_area_m2 ({self.min_area_m2})"
            raise ConfigError(msg)
        for name in ("enclave_max_share", "enclave_cover_share", "constraint_exclude_share", "barrier_contact_share"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                msg = f"{name} must be a share between 0 and 1, got {v}"
                raise ConfigError(msg)
        if self.target_plot_ratio <= 0:
            msg = f"target_plot_ratio must be > 0, got {self.target_plot_ratio}"
            raise ConfigError(msg)

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "sites") -> SiteParams:
        """Build from a dict (e.g. the ``[sites]`` table of a policy TOML)."""
        return from_dict(cls, data, where=where)

    def to_dict(self) -> dict:
        return to_dict(self)

    def score_formula(self) -> str:
        """The rank score formula with this configuration's weights."""
        w = self.weights
        return (f"score = {w.area:g}*land_area/max_land_area + {w.flagged:g}*flagged_share "
                f"+ {w.compactness:g}*compactness + {w.unconstrained:g}*(1 - constraint_share) "
                f"+ {w.uplift:g}*floor_uplift/max_floor_uplift "
                f"(floor_uplift = land_area*{self.target_plot_ratio:g} - floor_area; max over 'ok' sites)")


@dataclass(frozen=True)
class SiteResult:
    """Output of :func:`build_sites` (docs/CONTRACTS.md "Sites output").

    Attributes
    ----------
    sites : GeoDataFrame
        One row per site (see CONTRACTS.md), plus ``score_formula`` and the
        score's terms (``score_area``, ``score_flagged``, ``score_compactness``,
        ``score_unconstrained``, ``score_uplift``).
    parcel_sites : DataFrame
        ``parcel_id``, ``site_id``, ``role`` (:data:`ROLES`).
    excluded : DataFrame
        Flagged parcels left out because they lie mostly in protected land:
        ``parcel_id``, ``constraint_share``.
    params : SiteParams
    constraints : ndarray of shapely geometries
        Protected land as non-overlapping polygon pieces of at most
        :data:`planner.sites.overlay.MAX_PIECE_VERTICES` vertices (for
        recomputing edited sites).
    """

    sites: gpd.GeoDataFrame
    parcel_sites: pd.DataFrame
    excluded: pd.DataFrame
    params: SiteParams
    constraints: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    @property
    def formula(self) -> str:
        return self.params.score_formula()


SITE_COLUMNS = ["site_id", "status", "n_parcels", "n_owners", "n_enterprises", "land_area_m2", "land_area_mu",
                "floor_area_m2", "plot_ratio", "flagged_share", "compactness", "constraint_overlap_m2",
                "n_retained_inside", "potential_floor_area_m2", "score", "rank", "score_area", "score_flagged",
                "score_compactness", "score_unconstrained", "score_uplift", "score_formula", "geometry"]


