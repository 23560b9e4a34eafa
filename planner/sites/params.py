"""Site parameters (the ``[sites]`` table), score weights and the result record of site assembly."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.config import SettingError, check_number, from_dict, to_dict

#: Ranges of the numeric site settings (NaN and infinity are refused everywhere: NaN passes every test).
#: Score and difficulty weights are relative (defaults 0.1-0.3 and 1-2; some write percent): above 100 a weight
#: drowns the others and is a typing mistake.
MAX_WEIGHT = 100.0
#: Gaps and tolerances in metres. DOMAIN.md: 2 m for digitizing slivers, up to about 15 m to bridge a local lane;
#: a gap above 50 m would bridge arterial-width roads, which are barriers and never bridged (the sites page offers
#: 0-50). The neighbour search grows with the square of the gap: ``gap_m = inf`` never finished.
MAX_GAP_M = 50.0
#: A street's red line is at most about 25 m (default ``street_gap_max_m``); wider roads are arterials, mapped as
#: barriers. 100 m leaves room for a boulevard and keeps the street search bounded.
MAX_STREET_GAP_M = 100.0
#: Areas in m²: 100 km² is more than a county's whole industrial land (Jinjiang: 649 km² in all); a larger site
#: area is a unit mistake (mu or hectares typed as m² go the other way, and cannot be told).
MAX_AREA_M2 = 1e8
#: Plot ratios: standard factory parks 2.0-3.0, 工业上楼 3.0-4.0 (DOMAIN.md); 20 is beyond any industrial building
#: (a floor area typed for a ratio is refused).
MAX_PLOT_RATIO = 20.0

#: Parcel roles in :attr:`SiteResult.parcel_sites`.
ROLES = ("flagged", "absorbed", "retained_inside", "added")


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the rank score (TOML table ``[sites.weights]``).

    ``score = area*norm(land_area_m2) + flagged*flagged_share + compactness*compactness
    + unconstrained*(1 - constraint_share) + uplift*norm(floor uplift) - difficulty*norm(difficulty)``,
    where ``norm(x) = x / max(x)`` over the sites with status ``"ok"``, the floor
    uplift is ``potential_floor_area_m2 - floor_area_m2`` (at least 0) and the
    assembly difficulty is :meth:`DifficultyWeights.index` (DOMAIN.md: it
    grows with the owners and enterprises to deal with and the retained high
    performers inside; weight 0.15, G, a penalty as large as the compactness
    reward; 0 leaves it out of the score).
    """

    area: float = 0.30
    flagged: float = 0.20
    compactness: float = 0.15
    unconstrained: float = 0.10
    uplift: float = 0.25
    difficulty: float = 0.15

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_number(f"score weight {f.name!r}", getattr(self, f.name), low=0, high=MAX_WEIGHT,
                         zh_unit="（得分权重）")


@dataclass(frozen=True)
class DifficultyWeights:
    """How the assembly difficulty of a site is counted (TOML table ``[sites.difficulty]``).

    ``difficulty = owners*n_owners + enterprises*n_enterprises + retained*n_retained_inside``:
    each land-right holder is a negotiation, each enterprise on the land a
    relocation, and each retained high performer inside (tax >= 200,000
    yuan/mu, kept in place) a constraint on the layout, counted double (G,
    DOMAIN.md "assembly difficulty").
    """

    owners: float = 1.0
    enterprises: float = 1.0
    retained: float = 2.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_number(f"difficulty weight {f.name!r}", getattr(self, f.name), low=0, high=MAX_WEIGHT,
                         zh_unit="（实施难度权重）")

    def index(self, n_owners, n_enterprises, n_retained_inside):
        """The difficulty index from the three counts (arrays or numbers; missing counts as 0)."""
        return (self.owners * np.nan_to_num(np.asarray(n_owners, dtype=float))
                + self.enterprises * np.nan_to_num(np.asarray(n_enterprises, dtype=float))
                + self.retained * np.nan_to_num(np.asarray(n_retained_inside, dtype=float)))

    def formula(self, lang: str = "en") -> str:
        if lang == "zh":
            return f"{self.owners:g}×权利人数 + {self.enterprises:g}×企业数 + {self.retained:g}×内部保留地块数"
        return f"{self.owners:g}*owners + {self.enterprises:g}*enterprises + {self.retained:g}*retained_inside"


@dataclass(frozen=True)
class SiteParams:
    """Parameters of site assembly (policy file table ``[sites]``).

    Keys (all optional; defaults from DOMAIN.md "Contiguous sites"):

    ``gap_m`` (2.0, G)
        parcels within this distance are neighbours (digitizing slivers; up to
        ~15 m to bridge local lanes).
    ``min_area_m2`` (10,000, S: Shenzhen renewal units; small-site mode 3,000)
        sites with less developable land get status ``"too_small"`` (kept).
    ``max_area_m2`` (none; DOMAIN.md)
        clusters with more flagged land (net of protected land) are split
        into compact contiguous sub-sites (:func:`planner.sites.split.split_oversize`);
        a single parcel above it stays a site with status ``"too_large"``.
        The limit holds for the flagged land; absorbed enclaves may add up to
        ``enclave_max_share`` to ``land_area_m2``.
        Scale: a Jinjiang standardization project is about 13 mu (8,700 m²)
        of land; a large development-zone project took 18 plots together.
    ``max_owners`` (none)
        clusters with more distinct owners (land-right holders) of flagged
        parcels are split the same way (absorbed enclaves may add owners).
    ``split_streets`` (true), ``street_gap_min_m`` (6, G), ``street_gap_max_m`` (25, G)
        existing roads split sites at the centreline (DOMAIN.md, S practice):
        two flagged parcels of one cluster facing each other across an empty
        gap wider than ``max(gap_m, street_gap_min_m)`` (a lane of two 3 m
        traffic lanes) and at most ``street_gap_max_m`` (a local street's
        red line; wider roads are arterials, mapped as barriers) stand on two
        sides of a street, and the cluster is cut between them
        (:func:`planner.sites.split.split_at_streets`). Mapped roads are barrier layers.
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
    ``difficulty``
        :class:`DifficultyWeights`.
    """

    gap_m: float = 2.0
    min_area_m2: float = 10_000.0
    max_area_m2: float | None = None
    max_owners: int | None = None
    split_streets: bool = True
    street_gap_min_m: float = 6.0
    street_gap_max_m: float = 25.0
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
    difficulty: DifficultyWeights = field(default_factory=DifficultyWeights)

    def __post_init__(self) -> None:
        metres, zh_metres = " metres", "（米）"
        check_number("gap_m", self.gap_m, low=0, high=MAX_GAP_M, unit=metres, zh_unit=zh_metres)
        check_number("min_area_m2", self.min_area_m2, low=0, high=MAX_AREA_M2, unit=" m²", zh_unit="（㎡）")
        if self.max_area_m2 is not None:
            check_number("max_area_m2", self.max_area_m2, low=0, above=True, high=MAX_AREA_M2,
                         unit=" m² (or left out: no limit)", zh_unit="（㎡，或不设：不限）")
            if self.max_area_m2 < self.min_area_m2:
                msg = f"max_area_m2 ({self.max_area_m2}) is below min_area_m2 ({self.min_area_m2})"
                raise SettingError(msg, zh=f"最大片区面积（{self.max_area_m2:g} ㎡）小于最小片区面积（{self.min_area_m2:g} ㎡）")
        if self.max_owners is not None and self.max_owners < 1:
            msg = f"max_owners must be at least 1 (or left out), got {self.max_owners}"
            raise SettingError(msg, zh=f"最多权利人数须至少为 1（或不设），现为 {self.max_owners}")
        for name in ("street_gap_min_m", "street_gap_max_m"):
            check_number(name, getattr(self, name), low=0, high=MAX_STREET_GAP_M, unit=metres, zh_unit=zh_metres)
        if not self.street_gap_min_m <= self.street_gap_max_m:
            msg = (f"street_gap_min_m ({self.street_gap_min_m}) and street_gap_max_m ({self.street_gap_max_m}) "
                   "must satisfy 0 <= min <= max metres")
            raise SettingError(msg, zh=f"道路空隙宽度须满足 0 ≤ 最小（{self.street_gap_min_m:g} 米）≤ 最大（{self.street_gap_max_m:g} 米）")
        check_number("enclave_max_area_m2", self.enclave_max_area_m2, low=0, high=MAX_AREA_M2, unit=" m²",
                     zh_unit="（㎡）")
        check_number("barrier_contact_tol_m", self.barrier_contact_tol_m, low=0, high=MAX_GAP_M, unit=metres,
                     zh_unit=zh_metres)
        for name in ("enclave_max_share", "enclave_cover_share", "constraint_exclude_share", "barrier_contact_share"):
            check_number(name, getattr(self, name), low=0, high=1, unit=" (a share)", zh_unit="（比例）")
        check_number("target_plot_ratio", self.target_plot_ratio, low=0, above=True, high=MAX_PLOT_RATIO,
                     zh_unit="（容积率）")

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "sites") -> SiteParams:
        """Build from a dict (e.g. the ``[sites]`` table of a policy TOML)."""
        return from_dict(cls, data, where=where)

    def to_dict(self) -> dict:
        return to_dict(self)

    def score_formula(self, lang: str = "en") -> str:
        """The rank score formula with this configuration's weights; ``lang="zh"`` in Chinese words (the stored
        ``score_formula`` column and provenance keep the English one).

        Examples
        --------
        >>> SiteParams().score_formula("zh").split(" + ")[:2]
        ['综合得分 = 0.3×用地面积/最大用地面积', '0.2×三低地块占比']
        """
        w = self.weights
        if lang == "zh":
            return (f"综合得分 = {w.area:g}×用地面积/最大用地面积 + {w.flagged:g}×三低地块占比 + {w.compactness:g}×紧凑度 "
                    f"+ {w.unconstrained:g}×(1 − 保护用地占比) + {w.uplift:g}×可增建筑面积/最大可增建筑面积 "
                    f"− {w.difficulty:g}×实施难度/最大实施难度（可增建筑面积 = 用地面积×{self.target_plot_ratio:g} − 现状建筑面积；"
                    f"实施难度 = {self.difficulty.formula('zh')}；最大值取“符合”片区）")
        return (f"score = {w.area:g}*land_area/max_land_area + {w.flagged:g}*flagged_share "
                f"+ {w.compactness:g}*compactness + {w.unconstrained:g}*(1 - constraint_share) "
                f"+ {w.uplift:g}*floor_uplift/max_floor_uplift - {w.difficulty:g}*difficulty/max_difficulty "
                f"(floor_uplift = land_area*{self.target_plot_ratio:g} - floor_area; "
                f"difficulty = {self.difficulty.formula()}; max over 'ok' sites)")


@dataclass(frozen=True)
class SiteResult:
    """Output of :func:`build_sites` (docs/CONTRACTS.md "Sites output").

    Attributes
    ----------
    sites : GeoDataFrame
        One row per site (see CONTRACTS.md), plus ``score_formula`` and the
        score's terms (``score_area``, ``score_flagged``, ``score_compactness``,
        ``score_unconstrained``, ``score_uplift``, ``score_difficulty``).
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
                "n_retained_inside", "difficulty", "potential_floor_area_m2", "score", "rank", "score_area",
                "score_flagged", "score_compactness", "score_unconstrained", "score_uplift", "score_difficulty",
                "score_formula", "geometry"]


