"""Site briefs (一地一策): everything a one-page brief of a site shows, gathered for the CLI and the app.

:func:`site_briefs` works on sites, their parcel table and the classified
parcels in memory (the app's session); :func:`stored_site_briefs` reads them
from a workspace (``planner brief``). Both evaluate the floor-area ledger of
each site under a scenario's park template and rules, or the default
template, through :func:`planner.workflow.operations.run_scenario`, so a
brief shows the same figures as the scenario pages and reports. A site the
scenario does not select is evaluated all the same (what its template and
rules would give there) and marked ``in_scenario=False``; each parcel is
marked ``kept`` when the figures keep its buildings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from planner import scenarios as sc_mod
from planner.errors import DataError
from planner.io.store import Store
from planner.scenarios.model import kept_by_class
from planner.workflow import documents as D
from planner.workflow.operations import read_sites, run_scenario, stale_sites_notes

#: Parcel columns a brief lists (those present).
PARCEL_COLUMNS = ("parcel_id", "owner", "enterprise", "land_area_m2", "floor_area_m2", "plot_ratio", "tax_per_mu",
                  "role", "three_low", "upgrade_class", "low_utilization", "low_capacity", "low_contribution",
                  "reason_zh", "reason_en")


@dataclass
class SiteBrief:
    """What the brief of one site shows.

    Attributes
    ----------
    site_id : str
    site : GeoDataFrame
        The site's row of the sites table (outline, metrics, rank, score).
    parcels : GeoDataFrame
        Its parcels: :data:`PARCEL_COLUMNS` that exist, with ``role`` and ``kept`` (the figures keep the
        parcel's buildings: see :func:`kept_parcels`).
    figures : Series
        The site's row of the scenario ledger (floor area now and planned, enterprises, tax, payback...).
    scenario : str
        The scenario name the figures come from ("" for the default template).
    template : str
        The park template's name.
    in_scenario : bool
        False when ``scenario`` is named but does not select this site: the figures then show what its template
        and rules would give, not part of the scenario.
    retain_classes : tuple of str
        Upgrade classes the scenario's "retain_class" rule keeps (for the brief's text).
    constraints : GeoDataFrame, optional
        Constraint polygons near the site (for the map and the list of categories).
    context : GeoDataFrame, optional
        Parcels around the site (grey on the map).
    provenance : dict
        What the sites rest on (survey version, policy, site parameters) for the page footer.
    warnings : tuple of (en, zh)
        What to tell the user of the stored sites the brief rests on: out of date, or built with other settings
        than the saved ones (:func:`~planner.workflow.operations.stale_sites_warnings`; empty for session sites).
        The page shows them (:func:`planner.report.brief.site_briefs_pdf`).
    out_of_date : bool
        True when one of ``warnings`` says the sites are out of date; False when they only name other settings
        than the saved ones (the page then shows a neutral note, not a warning).
    """

    site_id: str
    site: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    figures: pd.Series
    scenario: str = ""
    template: str = ""
    templates: dict = field(default_factory=dict)
    in_scenario: bool = True
    retain_classes: tuple[str, ...] = ()
    constraints: gpd.GeoDataFrame | None = None
    context: gpd.GeoDataFrame | None = None
    provenance: dict = field(default_factory=dict)
    warnings: tuple[tuple[str, str], ...] = ()
    out_of_date: bool = False


def _near(layer: gpd.GeoDataFrame | None, geom, crs, distance: float) -> gpd.GeoDataFrame | None:
    if layer is None or not len(layer):
        return None
    g = layer.to_crs(crs) if layer.crs is not None and crs is not None and layer.crs != crs else layer
    hits = g.sindex.query(geom.buffer(distance), predicate="intersects")
    return g.iloc[sorted(set(hits))]


def kept_parcels(parcels: pd.DataFrame, rule: str, retain_classes=("retain",)) -> pd.Series:
    """Which parcels of a site keep their buildings under the existing-buildings ``rule`` of a scenario.

    The same rule as the scenario model's retained floor area
    (:func:`planner.scenarios.parcel_rollup`): "retain" keeps every parcel,
    "retain_class" the parcels whose ``upgrade_class`` is in ``retain_classes``
    and those of role "retained_inside", "demolish" none.

    Examples
    --------
    >>> p = pd.DataFrame({"upgrade_class": ["retain", "upgrade", "redevelop"], "role": ["flagged"] * 3})
    >>> kept_parcels(p, "retain_class", ("retain", "upgrade")).tolist(), kept_parcels(p, "demolish").tolist()
    ([True, True, False], [False, False, False])
    """
    if rule == "retain":
        return pd.Series(True, index=parcels.index)
    if rule == "retain_class":
        return pd.Series(kept_by_class(parcels, retain_classes), index=parcels.index)
    return pd.Series(False, index=parcels.index)


def _selected(sites: pd.DataFrame, scenario: D.ScenarioDoc) -> set[str]:
    """Ids of the sites ``scenario`` selects (ids it names that are not in ``sites`` select nothing)."""
    sel = scenario.scenario.sites
    if sel.ids:
        have = set(sites["site_id"].astype(str))
        ids = tuple(i for i in sel.ids if str(i) in have)
        if not ids:
            return set()
        sel = dataclasses.replace(sel, ids=ids)
    return set(sc_mod.select_sites(sites, sel, scenario=scenario.name)["site_id"].astype(str))


def site_briefs(sites: gpd.GeoDataFrame, parcel_sites: pd.DataFrame, parcels: gpd.GeoDataFrame, ids, *,
                scenario: D.ScenarioDoc | None = None, constraints: gpd.GeoDataFrame | None = None,
                provenance: dict | None = None, templates=None) -> list[SiteBrief]:
    """The briefs of sites ``ids`` (in that order).

    Parameters
    ----------
    sites, parcel_sites, parcels
        A sites result and the classified parcels it was built from.
    ids : sequence of str
        Site ids; an unknown id is refused with the ids that exist.
    scenario : ScenarioDoc, optional
        Whose park template and rules give the planned floor area (default: the standard factory template,
        existing buildings demolished). A site it does not select gets the same evaluation, marked
        ``in_scenario=False``.
    constraints : GeoDataFrame, optional
        Constraint layers (ecological red line, farmland...), shown on the map.
    provenance : dict, optional
        What the sites rest on, printed on every page.
    """
    ids = [str(i) for i in ids]
    have = sites.assign(site_id=sites["site_id"].astype(str)).set_index("site_id", drop=False)
    missing = [i for i in ids if i not in have.index]
    if missing:
        some = ", ".join(list(have.index[:8]))
        msg = f"no site {', '.join(missing[:5])} in the sites table (sites are e.g. {some}); check the id"
        raise DataError(msg, zh=f"片区表中没有 {'、'.join(missing[:5])}，请检查片区编号（例如 {some}）")
    if not ids:
        msg = "name at least one site id (or --top N)"
        raise DataError(msg, zh="请至少指定一个片区编号")
    base = scenario.scenario if scenario is not None else sc_mod.Scenario(name="brief")
    sc = sc_mod.replace(base, sites=sc_mod.SiteSelection(ids=tuple(ids), status=()))
    run = run_scenario(D.ScenarioDoc(sc), sites, parcel_sites, parcels, templates=templates, provenance=provenance)
    ledger = run.result.sites.assign(site_id=run.result.sites["site_id"].astype(str)).set_index("site_id")
    chosen = _selected(sites, scenario) if scenario is not None else set(ids)
    ps = parcel_sites.assign(site_id=parcel_sites["site_id"].astype(str), parcel_id=parcel_sites["parcel_id"].astype(str))
    pk = parcels.assign(parcel_id=parcels["parcel_id"].astype(str))
    out = []
    for sid in ids:  # a handful of sites, one page each
        site = gpd.GeoDataFrame(have.loc[[sid]].reset_index(drop=True), geometry=sites.geometry.name, crs=sites.crs)
        members = ps[ps["site_id"] == sid][["parcel_id", "role"]]
        mp = pk.merge(members, on="parcel_id", how="inner")
        cols = [c for c in PARCEL_COLUMNS if c in mp.columns]
        mp = gpd.GeoDataFrame(mp[[*cols, pk.geometry.name]], geometry=pk.geometry.name, crs=pk.crs)
        mp["kept"] = kept_parcels(mp, str(ledger.loc[sid, "existing_rule"]), sc.retain_classes).to_numpy()
        geom = site.geometry.iloc[0]
        span = max(geom.bounds[2] - geom.bounds[0], geom.bounds[3] - geom.bounds[1])
        ctx = _near(pk[[pk.geometry.name, "parcel_id"]], geom, pk.crs, span * 0.3 + 40)
        if ctx is not None:
            ctx = ctx[~ctx["parcel_id"].isin(mp["parcel_id"])]
        out.append(SiteBrief(sid, site, mp, ledger.loc[sid], scenario=scenario.name if scenario else "",
                             template=str(ledger.loc[sid, "template"]), templates=run.result.templates,
                             in_scenario=sid in chosen, retain_classes=tuple(sc.retain_classes),
                             constraints=_near(constraints, geom, sites.crs, span * 0.3 + 40), context=ctx,
                             provenance=dict(provenance or {})))
    return out


def stored_site_briefs(store: Store, ids=(), *, top: int | None = None, scenario: D.ScenarioDoc | None = None,
                       sites_layer: str | None = None, templates=None) -> list[SiteBrief]:
    """Briefs of sites stored in a workspace: ``ids``, or the ``top`` best-ranked ones, each with the warnings of
    the stored sites (``warnings``: out of date with the workspace's survey, saved rules, flags or saved settings)."""
    stored = read_sites(store, sites_layer)
    if stored.flags is None:
        msg = ("the classified parcels these sites were built from are not in the workspace; run `planner classify` "
               "and `planner sites` again")
        raise DataError(msg, zh="工作空间中没有这些片区所依据的三低识别结果，请重新运行识别与连片分析")
    ids = list(ids)
    if top:
        ok = stored.sites[stored.sites["status"] == "ok"] if "status" in stored.sites.columns else stored.sites
        ranked = ok.sort_values(["rank", "site_id"])["site_id"].astype(str).tolist()
        ids += [i for i in ranked[:top] if i not in ids]
    cons = store.read_all_layers("constraint")
    prov = stored.provenance.to_meta()
    if scenario is not None and not scenario.scenario.policy_name:
        scenario = dataclasses.replace(scenario, scenario=sc_mod.replace(
            scenario.scenario, policy_name=str(prov.get("policy_name") or ""), policy_hash=str(prov.get("policy_hash") or "")))
    briefs = site_briefs(stored.sites, stored.parcel_sites, stored.flags, ids, scenario=scenario, constraints=cons,
                         provenance=prov, templates=templates)
    notes = stale_sites_notes(store, stored)
    warnings, stale = tuple(w for _kind, w in notes), any(kind == "stale" for kind, _w in notes)
    return [dataclasses.replace(b, warnings=warnings, out_of_date=stale) for b in briefs]
