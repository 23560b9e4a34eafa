"""Contiguous candidate sites (连片): flagged parcels grouped into redevelopment sites.

Flagged ("three-low") parcels that touch or lie within ``gap_m`` metres of
each other form one candidate site, unless a barrier (arterial road, river,
railway) separates them. Protected land is cut out, small enclosed
non-flagged parcels can be absorbed, and every site gets metrics and a
transparent rank score (DESIGN.md "Contiguous sites", DOMAIN.md defaults).

Rules, decided and documented here:

* **Neighbours**: ``distance(a, b) <= gap_m`` (``intersects`` with
  ``gap_m = 0``; see :func:`planner.sites.graph.neighbour_components`). A corner
  contact is distance 0, so corner-touching parcels are neighbours. This is exactly PostGIS
  ``ST_ClusterDBSCAN(geom, eps := gap_m, minpoints := 1)``.
* **Barriers** are never bridged: see :func:`planner.sites.overlay.barrier_separated`
  (shortest connecting segment crossing a barrier; for touching parcels, a
  barrier lying along more than half of their shared boundary).
* **Streets and size** (:mod:`planner.sites.split`): a cluster holding two
  flagged parcels that face each other across an empty street-wide gap is
  cut between them (existing roads split sites); with ``max_area_m2`` or
  ``max_owners`` a cluster over either is split into compact contiguous
  sub-sites (contiguity-constrained Ward clustering, the model of PySAL
  spopt's ``WardSpatial``). Both keep each site contiguous.
* **Constraints**: a flagged parcel with more than ``constraint_exclude_share``
  of its area in protected land is excluded (listed in
  :attr:`SiteResult.excluded`); the protected part of the others is cut out
  of the site geometry and reported as ``constraint_overlap_m2``.
* **Enclaves**: a non-flagged parcel is enclosed by a site when at least
  ``enclave_cover_share`` of it lies inside the site's outline with its holes
  filled (the outline closes gaps up to ``gap_m``). Enclosed parcels are
  absorbed, smallest first, while each is at most ``enclave_max_area_m2`` and
  the absorbed total stays within ``enclave_max_share`` of the site's flagged
  land; upgrade class ``"retain"`` parcels are never absorbed and are listed
  as ``retained_inside``. A parcel merely bordering a site on the outside
  (e.g. across an unmapped road) is not enclosed.
* **Outlines**: the union of the members. Each site's parcels are first
  snapped together at :data:`planner.sites.graph.SNAP_TOL` (0.1 mm), which
  nodes T-junctions and closes digitizing slivers between shared corners,
  then dissolved by GEOS coverage union (linear in the number of parcels; the
  general union where parcels overlap). Only sites whose members do not
  all connect through contacts (slivers, lanes up to ``gap_m``) are closed
  morphologically (grown by ``gap_m / 2`` and shrunk back, mitre joins),
  which bridges their gaps; a clean coverage keeps its exact outline. An
  absorbed enclave fills its hole in the outline, except for the parts of
  parcels that stay out (retained, too large), which remain holes.
* **Assembly difficulty**: ``difficulty`` = weighted owners + enterprises
  + retained parcels inside (:class:`DifficultyWeights`), a penalty in the score.
* **Areas**: ``land_area_m2`` is the members' land area (surveyed value, else
  geometry area) minus the protected land inside them: the developable land.
  ``plot_ratio`` and ``flagged_share`` use the members' gross land.

Examples
--------
>>> import geopandas as gpd, shapely
>>> from planner.sites import SiteParams, build_sites
>>> g = gpd.GeoDataFrame({"parcel_id": ["a", "b", "c"], "three_low": [True, True, True]},
...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(101, 0, 200, 100),
...               shapely.box(500, 0, 550, 100)], crs="EPSG:4549")
>>> res = build_sites(g, SiteParams(gap_m=2, min_area_m2=10_000))
>>> res.sites[["site_id", "n_parcels", "status"]].to_dict("records")
[{'site_id': 'S0001', 'n_parcels': 2, 'status': 'ok'}, {'site_id': 'S0002', 'n_parcels': 1, 'status': 'too_small'}]
"""

from typing import TYPE_CHECKING

from planner._lazy import lazy_exports

#: Public names and their submodules, imported on first use (reading stored sites needs no graph library).
_NAMES = {"build_sites": "build", "rescore": "build", "add_parcels": "edits", "apply_edits": "edits",
          "remove_parcels": "edits", "site_from_boundary": "edits", "ROLES": "params", "SITE_COLUMNS": "params",
          "DifficultyWeights": "params", "ScoreWeights": "params", "SiteParams": "params", "SiteResult": "params",
          "split_at_streets": "split", "split_clusters": "split", "split_oversize": "split",
          "street_pairs": "split"}
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

if TYPE_CHECKING:  # what static tools see; the same names as _NAMES
    from planner.sites.build import build_sites, rescore
    from planner.sites.edits import add_parcels, apply_edits, remove_parcels, site_from_boundary
    from planner.sites.params import (
        ROLES,
        SITE_COLUMNS,
        DifficultyWeights,
        ScoreWeights,
        SiteParams,
        SiteResult,
    )
    from planner.sites.split import split_at_streets, split_clusters, split_oversize, street_pairs

__all__ = ["ROLES", "SITE_COLUMNS", "DifficultyWeights", "ScoreWeights", "SiteParams", "SiteResult", "add_parcels",
           "apply_edits", "build_sites", "remove_parcels", "rescore", "site_from_boundary", "split_at_streets",
           "split_clusters", "split_oversize", "street_pairs"]
