"""The workflow: classify a workspace, build its sites, apply edits, run and compare scenarios.

The one place that knows the order of the stages and how their results are
stored. The CLI (``planner/cli/``) and the app (``views/``) both call these
functions and hold no pipeline step of their own. Each operation takes and
returns typed documents (:mod:`planner.workflow.documents`), checks the
caller's permission (:mod:`planner.workflow.permissions`), and stores each
result in one commit with its provenance (:mod:`planner.workflow.provenance`).
Saving, opening and deleting documents is :mod:`planner.workflow.catalogue`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner import classify as cl
from planner import config, schema
from planner import scenarios as sc_mod
from planner import sites as sites_mod
from planner.errors import ConfigError, DataError, PlannerError
from planner.ingest.publish import current_survey_version
from planner.io.store import DocWrite, LayerWrite, Store, catalogue_meta
from planner.sites import ids as site_ids
from planner.workflow import documents as D
from planner.workflow.catalogue import (
    check_document_name,
    check_expected_version,
    document_names,
    latest_version,
    load_document,
    parse_ref,
    saved_by,
    site_edit_names,
)
from planner.workflow.permissions import acting_user, require
from planner.workflow.provenance import Provenance, check_together, flags_built_from, stale_reasons


# --------------------------------------------------------------------------- classify
@dataclass
class Classified:
    """A classification: flagged parcels, the summary table, its provenance and stored version."""

    flagged: gpd.GeoDataFrame
    summary: pd.DataFrame
    provenance: Provenance
    policy: D.PolicyDoc
    version: int | None = None
    #: The stored policy version the flags were made under, and whether this classification saved it (False: the
    #: workspace held the same rules already).
    policy_version: int | None = None
    policy_saved: bool = False


def _storable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``gdf`` with categorical columns as strings (a shallow copy; pandas copy-on-write leaves ``gdf`` as it is)."""
    import pyarrow as pa

    out = gdf.copy(deep=False)  # a deep copy of 1M rows x 40 columns cost seconds
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):  # Arrow decodes the dictionary (pandas' astype: 10x slower)
            text = pa.array(out[c].array).dictionary_decode().cast(pa.large_string())
            out[c] = pd.Series(pd.arrays.ArrowStringArray(text), index=out.index, dtype="string")
    return out


def _survey_columns(flagged: pd.DataFrame, parcels: pd.DataFrame) -> tuple[str, ...]:
    """The survey's own fields that the classification kept as they are (stored once, in the survey).

    Only when no enterprise table was joined in (it replaces output, tax,
    employees): the parcels are then the survey as stored. ``land_area_m2``
    is filled from geometry where missing, so it counts only when unchanged.
    """
    if parcels.attrs.get("enterprise_version") is not None:
        return ()
    geom = parcels.geometry.name if isinstance(parcels, gpd.GeoDataFrame) else None
    out = []
    for c in parcels.columns:
        if c in (geom, "parcel_id") or c not in flagged.columns:
            continue
        if flagged[c].dtype == parcels[c].dtype and flagged[c].equals(parcels[c]):
            out.append(c)
    return tuple(out)


def classify_parcels(parcels: gpd.GeoDataFrame, doc: D.PolicyDoc, *, progress: Callable[[str], None] | None = None,
                     indicators: pd.DataFrame | None = None, with_reasons: bool = True) -> gpd.GeoDataFrame:
    """Flag three-low parcels under a policy document (no store involved).

    ``indicators``: the parcels' indicators computed beforehand for the
    policy's reference year (:func:`planner.classify.indicators.compute_indicators`),
    shared by the result instead of computed and copied again.
    ``with_reasons=False``: no reason columns (:func:`planner.classify.flags.reason_columns` makes them for some rows).
    """
    return cl.classify(parcels, doc.policy, progress=progress, indicators=indicators, with_reasons=with_reasons)


def is_file_ref(ref: str) -> bool:
    """Whether a command's argument names a file (a ``.toml``/``.json`` name, or a file that exists) rather than a
    document saved in the workspace (``NAME[@VERSION]``)."""
    path = Path(ref)
    return path.suffix.lower() in (".toml", ".json") or path.exists()


def resolve_policy(store: Store | None, ref: str | None, lang: str = "en") -> tuple[D.PolicyDoc, str]:
    """The policy a command means, and where it comes from (for the command to say, in ``lang``).

    A name (``NAME`` or ``NAME@VERSION``; none given means ``default``) is
    the workspace's saved policy of that name when there is one: the rules
    the app opens and planners edit there. Without one it is the shipped
    ``policies/NAME.toml``. A file (:func:`is_file_ref`) is that file.
    """
    if store is not None and (ref is None or not is_file_ref(ref)):
        name, version = parse_ref(ref or "default", "policy")
        version = version or latest_version(store, "policy", name)
        if version is not None:
            doc = load_document(store, "policy", name, version)
            who = saved_by(store, "policy", name, version, lang)
            if lang == "zh":
                return doc, f"工作空间中保存的 policy/{name} 第 {version} 版" + (f"，{who}" if who else "")
            return doc, f"saved in the workspace as policy/{name} version {version} {who}".rstrip()
        if ref is not None and not cl.policy.policy_path(ref).exists():
            saved = ", ".join(document_names(store, "policy")) or "none"
            msg = (f"policy {ref!r}: no policy of that name is saved in the workspace (saved: {saved}), and there is "
                   "no such file or shipped policy (policies/default.toml, policies/strict.toml...)")
            raise DataError(msg, zh=f"规则 {ref!r}：工作空间中没有保存该名称的规则（已保存：{saved}），也没有同名文件或内置规则")
    doc = D.PolicyDoc.from_file(ref)
    return doc, (f"文件 {doc.source_file}" if lang == "zh" else f"file {doc.source_file}")


def classify_workspace(store: Store, doc: D.PolicyDoc, *, survey_version: int | None = None, save: bool = True,
                       user: str | None = None, progress: Callable[[str], None] | None = None,
                       geometry: bool = True) -> Classified:
    """Classify a survey version and store the flags layer and the policy document in one commit.

    The flags layer is stored without a copy of the parcels' polygons: its rows
    take the geometry of the survey version they classify (``geometry_from``;
    read back with geometry through a view, :mod:`planner.io._linked`).
    ``geometry=False`` reads and returns the parcels without their polygons
    (``flagged`` is then a plain DataFrame): what ``planner classify`` needs
    when it writes no file.
    """
    if save:
        user = acting_user("classify", store, user)
        check_document_name("policy", doc.name)  # saved as policy/<name> with the flags
    from planner.workflow.enterprises import analysis_parcels

    sv = current_survey_version(store) if survey_version is None else int(survey_version)
    parcels = analysis_parcels(store, sv, geometry=geometry)  # the current enterprise table joined in, if any
    flagged = classify_parcels(parcels, doc, progress=progress)
    prov = Provenance.new("flags", survey_version=sv, policy_name=doc.name, policy_hash=doc.hash,
                          enterprise_version=parcels.attrs.get("enterprise_version"))
    out = Classified(flagged, cl.summary(flagged, doc.policy), prov, doc)
    if save:
        saved = latest_version(store, "policy", doc.name)
        same = saved is not None and load_document(store, "policy", doc.name, saved).hash == doc.hash
        docs = [] if same else [DocWrite("policy", doc.name, doc.to_dict())]  # the same rules: no new version
        versions = store.write_layers([LayerWrite("flags", doc.name, _storable(flagged), meta=prov.to_meta(),
                                                  geometry_from=("survey", "parcels", sv),
                                                  shared_columns=_survey_columns(flagged, parcels))],
                                      docs=docs, user=user, action="classify")
        out.version = versions[("flags", doc.name)]
        out.policy_version = saved if same else versions[("policy", doc.name)]
        out.policy_saved = not same
    return out


def flags_name(store: Store, policy_name: str | None = None) -> str:
    """The flags layer to build sites from: ``policy_name``, else the only one; clear errors otherwise."""
    cat = store.layers("flags")
    cat = cat[cat["is_current"]] if len(cat) else cat
    if not len(cat) or (policy_name and not (cat["name"] == policy_name).any()):
        what = f"for policy {policy_name!r} " if policy_name else ""
        msg = f"the workspace has no flags layer {what}(classified parcels); run `planner classify -w WS` first"
        raise DataError(msg, zh=f"工作空间中没有{('规则 ' + policy_name + ' 的') if policy_name else ''}三低识别结果，请先运行识别")
    if policy_name:
        return policy_name
    if len(cat) > 1:
        msg = f"several flags layers ({', '.join(cat['name'])}); choose one with --policy"
        raise DataError(msg, zh=f"有多个识别结果（{'、'.join(cat['name'])}），请指定规则")
    return str(cat["name"].iloc[0])


# --------------------------------------------------------------------------- sites
#: The realistic-site options both faces offer (CLI flags, the sites page's form), as ``SiteParams`` paths.
SITE_OPTIONS = {"max_area_m2": ("max_area_m2",), "max_owners": ("max_owners",),
                "difficulty_weight": ("weights", "difficulty"), "split_streets": ("split_streets",)}


def apply_site_options(params: dict, **options) -> dict:
    """Site parameters (a ``[sites]`` dict) with the options of :data:`SITE_OPTIONS` set.

    ``None`` leaves a setting as it is; ``max_area_m2 = 0`` or ``max_owners = 0``
    removes the limit. The result is checked (:class:`planner.sites.SiteParams`),
    so a bad value is refused with the setting's name.

    Examples
    --------
    >>> apply_site_options({"gap_m": 2.0, "max_owners": 9}, max_area_m2=60_000, max_owners=0, difficulty_weight=0.3)
    {'gap_m': 2.0, 'max_area_m2': 60000, 'weights': {'difficulty': 0.3}}
    """
    unknown = sorted(set(options) - set(SITE_OPTIONS))
    if unknown:
        msg = f"unknown site option(s) {unknown}; known: {sorted(SITE_OPTIONS)}"
        raise DataError(msg, zh=f"未知的连片参数 {unknown}")
    out = json.loads(json.dumps(params))
    for key, value in options.items():
        if value is None:
            continue
        path = SITE_OPTIONS[key]
        if key in ("max_area_m2", "max_owners") and value == 0:
            out.pop(path[0], None)
            continue
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    sites_mod.SiteParams.from_dict(dict(out), where="site parameters")
    return out


def resolve_site_params(store: Store, policy_name: str, *, params_name: str | None = None,
                        config_file: str | None = None, overrides: dict | None = None) -> D.SiteParamsDoc:
    """Site settings: the saved ``site_params`` document ``params_name``, else a file's ``[sites]``, else the
    settings saved for the policy (``site_params/<policy_name>``, what the app's sites page saves and opens), else
    the policy's ``[sites]``; then the overrides."""
    doc = D.SiteParamsDoc(name=policy_name)
    if params_name:
        doc = _saved_site_params(store, params_name, overrides)
    elif config_file:
        data = config.load_file(config_file)
        doc = D.SiteParamsDoc(name=policy_name,
                              params=sites_mod.SiteParams.from_dict(dict(data.get("sites", {})),
                                                                    where=f"{config_file} [sites]"))
    elif latest_version(store, "site_params", policy_name) is not None:
        doc = _saved_site_params(store, policy_name, overrides)
    elif latest_version(store, "policy", policy_name) is not None:
        doc = D.SiteParamsDoc(name=policy_name, params=load_document(store, "policy", policy_name).site_params())
    return with_site_overrides(doc, overrides)


def _saved_site_params(store: Store, name: str, overrides: dict | None) -> D.SiteParamsDoc:
    """The saved ``site_params`` document ``name``. One this planner refuses (a value an earlier release allowed,
    e.g. ``gap_m`` above today's limit) is read with the settings given as options in place of its own, so that
    ``planner sites --gap 50 --save-params NAME`` saves the corrected next version its error message proposes; the
    stored version is never changed. Without options that make it valid, the error names it and that command."""
    try:
        return load_document(store, "site_params", name)
    except ConfigError as exc:
        plain = {k: v for k, v in (overrides or {}).items()
                 if v is not None and k not in SITE_OPTIONS and k not in ("use_barriers", "use_constraints")}
        payload = store.load_doc("site_params", name)
        if not plain or D.is_newer(payload) or not isinstance(payload.get("params"), dict):
            raise
        try:
            return D.SiteParamsDoc.from_dict({**payload, "params": {**payload["params"], **plain}},
                                             where=f"saved site_params {name} with the options given")
        except ConfigError:
            raise exc from None


def with_site_overrides(doc: D.SiteParamsDoc, overrides: dict | None) -> D.SiteParamsDoc:
    """``doc`` with the settings given as options (``None``: not given): plain ``SiteParams`` fields,
    ``use_barriers``/``use_constraints``, and the options of :data:`SITE_OPTIONS` (:func:`apply_site_options`)."""
    if not overrides:
        return doc
    opts = {k: v for k, v in overrides.items() if k in SITE_OPTIONS}
    plain = {k: v for k, v in overrides.items() if k not in SITE_OPTIONS and v is not None}
    data = {**config._drop_none(doc.params.to_dict()), **plain}
    use = {k: data.pop(k) for k in ("use_barriers", "use_constraints") if k in data}
    data = apply_site_options(data, **opts)
    return dataclasses.replace(doc, params=sites_mod.SiteParams.from_dict(data, where="site parameters"), **use)


def edits_in_use(store: Store, policy_name: str, edits_ref: str | None) -> str:
    """The saved site edits a build of ``policy_name``'s sites starts from (the app's sites page and ``planner
    sites`` alike): the variant the stored sites were built with (``edits_ref``, their provenance's
    ``NAME@VERSION``) when it is one of the policy's saved variants, else the policy's own edits."""
    name = parse_ref(edits_ref, "site_edit")[0] if edits_ref else ""
    if name and name != policy_name and name in site_edit_names(store, policy_name):
        return name
    return policy_name


def assemble_sites(flagged: gpd.GeoDataFrame, params: D.SiteParamsDoc, *, barriers=None, constraints=None,
                   previous: gpd.GeoDataFrame | None = None, high_water_mark: int = 0,
                   edits: D.SiteEditsDoc | None = None, progress: Callable[[str], None] | None = None
                   ) -> tuple[sites_mod.SiteResult, pd.DataFrame]:
    """Build sites, keep the ids of the ``previous`` sites on the same land, replay ``edits``.

    Returns the result and the id match table (:func:`planner.sites.ids.match_site_ids`).
    """
    bar = barriers if params.use_barriers and barriers is not None and len(barriers) else None
    con = constraints if params.use_constraints and constraints is not None and len(constraints) else None
    result = sites_mod.build_sites(flagged, params.params, barriers=bar, constraints=con, progress=progress)
    result, table = site_ids.match_site_ids(result, previous, reserved=edits.created_ids() if edits else (),
                                            high_water_mark=high_water_mark)
    if edits is not None and edits.ops:
        result = apply_site_edits(result, edits.ops, flagged)
    return result, table


def apply_site_edits(result: sites_mod.SiteResult, ops, parcels: gpd.GeoDataFrame) -> sites_mod.SiteResult:
    """Replay edit operations on a site result (ids of edited sites are kept)."""
    return sites_mod.apply_edits(result, list(ops), parcels)


def preview_boundary(polygon, parcels: gpd.GeoDataFrame, params: sites_mod.SiteParams) -> sites_mod.SiteResult:
    """The site a drawn boundary would make (metrics only; nothing changes until an edit is applied)."""
    return sites_mod.site_from_boundary(polygon, parcels, params=params)


def next_site_id(result: sites_mod.SiteResult, high_water_mark: int = 0) -> str:
    """The id a new (drawn) site gets: above every id of the result and every id issued before."""
    ids = result.sites["site_id"].astype(str)
    width = max(4, *(len(s) - 1 for s in ids)) if len(ids) else 4
    return site_ids.format_id(site_ids.high_water(ids, floor=high_water_mark) + 1, width)


@dataclass
class StoredSites:
    """A stored sites result read back: sites, their parcel table, the flags they came from, provenance."""

    name: str
    sites: gpd.GeoDataFrame
    parcel_sites: pd.DataFrame
    flags: gpd.GeoDataFrame | None
    provenance: Provenance
    meta: dict = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def sites_name(store: Store, name: str | None = None) -> str | None:
    """The sites layer to read: ``name``, else the current one (None without any)."""
    cat = store.layers("sites")
    cat = cat[cat["is_current"]] if len(cat) else cat
    if name:
        return name if (cat["name"] == name).any() else None
    return str(cat["name"].iloc[-1]) if len(cat) else None


def previous_sites(store: Store, name: str) -> tuple[gpd.GeoDataFrame | None, int]:
    """The stored sites ``name`` (for id matching) and the highest id number issued so far."""
    if not store.has_layer("sites", name):
        return None, 0
    return previous_of(store.read_layer("sites", name, columns=["site_id"]))


def previous_of(sites: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """:func:`previous_sites` of a stored sites layer already read (its ``attrs["meta"]`` as read)."""
    prev = sites[["site_id", sites.geometry.name]]
    prev.attrs = dict(sites.attrs)
    hw = int((prev.attrs.get("meta") or {}).get("id_high_water") or 0)
    return prev, site_ids.high_water(prev["site_id"].astype(str), floor=hw)


def store_sites(store: Store, name: str, result: sites_mod.SiteResult, parcels: gpd.GeoDataFrame, *,
                flags_prov: Provenance, flags_version: int | None, params: D.SiteParamsDoc,
                edits: D.SiteEditsDoc | None = None, edits_ref: str | None = None,
                id_table: pd.DataFrame | None = None, high_water_mark: int = 0, user: str | None = None,
                flags: gpd.GeoDataFrame | None = None,
                expect_edits_version: int | None | bool = False) -> tuple[Provenance, dict]:
    """Store sites and site_parcels (and the site edits, and the flags they rest on, if given) in one commit.

    Both layers carry one provenance with a shared result id; readers check it
    (:func:`read_sites`). ``edits`` is saved in the same commit; ``edits_ref``
    (``name@version``) names edits saved before. ``flags`` (classified
    parcels with provenance ``flags_prov``) is stored as the policy's flags
    layer in the same commit. Returns the provenance and the written versions.

    ``expect_edits_version``: the version of the ``site_edit`` document
    ``edits.name`` the caller's edits started from (None: none was saved).
    When a colleague saved another version since, nothing is written and
    :class:`~planner.workflow.catalogue.SaveConflictError` says who and when,
    instead of replacing their edits with the caller's. ``False`` (default):
    no check (the CLI, which replays a named version).

    Edits named other than the sites (``name``, the policy's) are a variant
    saved under a name the user chose (Sites page "save as"; replayed with
    ``planner sites --apply-edits NAME``): ``expect_edits_version=None`` then
    refuses a name already taken.
    """
    user = acting_user("build_sites", store, user)
    if edits is not None:
        user = acting_user("save_site_edits", store, user)
    if edits is not None and expect_edits_version is not False:
        check_document_name("site_edit", edits.name)
        with store.document_lock("site_edit", edits.name):  # the check and the commit together
            check_expected_version(store, "site_edit", edits.name, expect_edits_version,
                                   chosen=edits.name != name)
            return store_sites(store, name, result, parcels, flags_prov=flags_prov, flags_version=flags_version,
                               params=params, edits=edits, edits_ref=edits_ref, id_table=id_table,
                               high_water_mark=high_water_mark, user=user, flags=flags)
    docs = []
    extra = []
    if flags is not None:
        # as `classify_workspace` stores them: the rows take the polygons of the survey version they classify
        sv = flags_prov.survey_version
        link = {} if sv is None else {"geometry_from": ("survey", "parcels", int(sv))}
        extra.append(LayerWrite("flags", str(flags_prov.policy_name), _storable(flags), meta=flags_prov.to_meta(),
                                **link))
    saved = latest_version(store, "site_edit", edits.name) if edits is not None else None
    # all edits undone: saved too (none replayed again); a variant named by the user: saved even with none
    if edits is not None and (edits.ops or saved is not None or edits.name != name):
        v = (saved or 0) + 1
        edits_ref = f"{edits.name}@{v}"
        docs.append(DocWrite("site_edit", edits.name, edits.to_dict()))
    prov = Provenance.new("sites", survey_version=flags_prov.survey_version, policy_name=flags_prov.policy_name,
                          policy_hash=flags_prov.policy_hash, site_params=params.to_dict()["params"],
                          flags_version=flags_version, flags_result_id=flags_prov.result_id or None, edits=edits_ref)
    hw = site_ids.high_water(result.sites["site_id"].astype(str), floor=high_water_mark)
    meta = {**prov.to_meta(), "score_formula": result.params.score_formula(), "id_high_water": hw,
            "use_barriers": params.use_barriers, "use_constraints": params.use_constraints,
            "n_excluded_constraint": len(result.excluded)}
    if id_table is not None and len(id_table):
        meta["ids_kept"] = int((id_table["status"] == "kept").sum())
        meta["ids_new"] = int((id_table["status"] == "new").sum())
    ps = result.parcel_sites.assign(parcel_id=result.parcel_sites["parcel_id"].astype(str))
    row = schema.id_positions(ps["parcel_id"], parcels["parcel_id"])  # every member is one of the parcels
    if (row < 0).any():
        missing = ps["parcel_id"][row < 0].head(5).tolist()
        msg = f"sites/{name}: member parcels not among the parcels given, e.g. {missing}"
        raise DataError(msg, zh=f"片区 {name} 的成员地块不在所给地块中，例如 {missing}")
    geoms = shapely.point_on_surface(np.asarray(parcels.geometry.values, dtype=object)[row])
    pts = gpd.GeoDataFrame(ps, geometry=geoms, crs=parcels.crs)
    versions = store.write_layers([LayerWrite("sites", name, _storable(result.sites), meta=meta),
                                   LayerWrite("site_parcels", name, pts, meta=meta), *extra],
                                  docs=docs, user=user, action="build_sites")
    return prov, versions


@dataclass
class BuiltSites:
    """What :func:`build_workspace_sites` did."""

    name: str
    result: sites_mod.SiteResult
    params: D.SiteParamsDoc
    provenance: Provenance | None
    id_table: pd.DataFrame
    flagged: gpd.GeoDataFrame


def build_workspace_sites(store: Store, *, policy_name: str | None = None, params: D.SiteParamsDoc | None = None,
                          edits: D.SiteEditsDoc | None = None, edits_ref: str | None = None,
                          name: str | None = None, save: bool = True,
                          user: str | None = None, progress: Callable[[str], None] | None = None) -> BuiltSites:
    """Build the sites of a workspace's flags layer, keep stable ids, replay edits, store in one commit."""
    if save:
        user = acting_user("build_sites", store, user)  # refused before the work, not after it
    pname = flags_name(store, policy_name)
    params = params or resolve_site_params(store, pname)
    from planner.sites.build import PARCEL_COLUMNS

    flagged = store.read_layer("flags", pname, columns=list(PARCEL_COLUMNS))  # not the 30 other columns
    fmeta = flagged.attrs.get("meta", {})
    cat = store.layers("flags")
    fver = int(cat[(cat["name"] == pname) & cat["is_current"]]["version"].iloc[0])
    name = name or pname
    prev, hw = previous_sites(store, name)
    result, table = assemble_sites(flagged, params, barriers=store.read_all_layers("barrier"),
                                   constraints=store.read_all_layers("constraint"), previous=prev,
                                   high_water_mark=hw, edits=edits, progress=progress)
    prov = None
    if save:
        prov, _ = store_sites(store, name, result, flagged, flags_prov=Provenance.from_meta(fmeta), flags_version=fver,
                              params=params, edits_ref=edits_ref, id_table=table, high_water_mark=hw, user=user)
    return BuiltSites(name, result, params, prov, table, flagged)


#: Parcel columns a scenario's rollup reads from the flags layer (:func:`run_scenario`).
ROLLUP_COLUMNS = ("parcel_id", "floor_area_m2", "output_cny", "tax_cny", "employees", "upgrade_class")


def read_sites(store: Store, name: str | None = None, *, with_flags: bool = True,
               flag_columns: tuple[str, ...] | None = None) -> StoredSites:
    """Read a stored sites result and check that its pieces belong together.

    ``flag_columns`` reads only those columns of the flags layer, without
    geometry, and keeps only the rows of the sites' parcels (a plain
    DataFrame in ``flags``; what a scenario run needs).

    Raises
    ------
    DataError
        No sites layer (says what to run).
    ResultMismatchError
        The sites and the parcel table come from different runs.
    """
    layer = sites_name(store, name)
    if layer is None:
        what = f"sites/{name}" if name else "sites layer"
        msg = f"workspace has no {what} yet; run `planner classify -w WS` and then `planner sites -w WS` first"
        raise DataError(msg, zh="工作空间中还没有连片片区结果，请先运行三低识别和连片分析")
    sites = store.read_layer("sites", layer)
    if "score_formula" in sites.columns and not isinstance(sites["score_formula"].dtype, pd.CategoricalDtype):
        # one text for every row, held once as rescore makes it (as text per row every copy of the table copied it:
        # an edit of a 1M city's 85k sites spent 0.2-0.3 s taking rows of it)
        sites["score_formula"] = sites["score_formula"].astype("category")
    meta = sites.attrs.get("meta", {}) or {}
    prov = Provenance.from_meta(meta)
    ps = None
    if store.has_layer("site_parcels", layer):
        g = store.read_layer("site_parcels", layer, columns=["parcel_id", "site_id", "role"], geometry=False)
        check_together({f"sites/{layer}": meta, f"site_parcels/{layer}": g.attrs.get("meta", {})},
                       what=f"sites {layer!r}")
        ps = pd.DataFrame(g.drop(columns="geometry", errors="ignore"))
    flags, warnings = (_flags_of(store, prov, flag_columns) if with_flags else (None, []))
    if flags is not None and flag_columns is not None and ps is not None and "parcel_id" in flags.columns:
        # a scenario needs the figures of the sites' parcels only: one look-up here, not one per scenario
        import pyarrow as pa
        import pyarrow.compute as pc

        keep = pc.is_in(pa.array(pd.Series(flags["parcel_id"], dtype="string").array),
                        value_set=pa.array(pd.Series(ps["parcel_id"], dtype="string").array))
        meta_f = flags.attrs.get("meta")
        flags = flags[keep.to_numpy(zero_copy_only=False)].reset_index(drop=True)
        flags.attrs["meta"] = meta_f
    return StoredSites(layer, sites, ps if ps is not None else pd.DataFrame(columns=["parcel_id", "site_id", "role"]),
                       flags, prov, meta, warnings)


def _flags_of(store: Store, prov: Provenance, columns: tuple[str, ...] | None = None
              ) -> tuple[gpd.GeoDataFrame | None, list[tuple[str, str]]]:
    """The flags layer version the sites were built from; None (and why) when it is not in the workspace.

    With ``columns``: only those (that the layer has), no geometry.
    """
    def read(version=None):
        if columns is None:
            return store.read_layer("flags", prov.policy_name, version)
        return store.read_layer("flags", prov.policy_name, version, columns=list(columns), geometry=False)

    if not prov.policy_name or not store.has_layer("flags", prov.policy_name):
        return None, []
    cat = store.layers("flags")
    cat = cat[cat["name"] == prov.policy_name]
    if prov.flags_result_id:
        hit = [int(v) for v, m in zip(cat["version"], cat["meta"], strict=True)
               if Provenance.from_meta(json.loads(m or "{}")).result_id == prov.flags_result_id]
        if hit:
            return read(hit[-1]), []
    elif prov.flags_version is not None and (cat["version"] == prov.flags_version).any():
        return read(prov.flags_version), []
    flags = read()
    fp = Provenance.from_meta(flags.attrs.get("meta"))
    if fp.policy_hash == prov.policy_hash and fp.survey_version == prov.survey_version:
        return flags, []  # the same classification, stored again
    what = f"flags/{prov.policy_name}"
    return None, [(f"the stored {what} do not belong to these sites (other policy or survey); parcel-level figures "
                   "(retained classes, baselines) are left out: run `planner classify` and `planner sites` again",
                   f"工作空间中的 {what} 与片区结果不属于同一次计算（规则或调查版本不同），已不使用地块级数据"
                   "（保留分类、现状基数）；请重新运行识别与连片分析")]


def sites_staleness(store: Store, stored: StoredSites) -> list[tuple[str, str]]:
    """Why stored sites no longer match the workspace, each with the command that rebuilds them (``[(en, zh)]``;
    empty: up to date).

    The reference is what the command line builds from when given nothing
    else: the current survey version; the rules of the sites' policy as last
    saved in the workspace (``policy/<name>``, as :func:`resolve_policy` opens
    them); the policy's current flags layer (classified again since from
    other inputs, e.g. a new enterprise table or other rules; the same inputs
    classified again give the same flags); the current enterprise table
    (published or switched since the flags were classified); the site
    settings saved for the policy (:func:`resolve_site_params` without options: what ``planner
    sites`` uses by default). Sites built on purpose with other settings
    (``planner sites --gap 5`` without ``--save-params``) are said to be so,
    naming them. The app's pages compare with their session's draft rules and
    settings instead (:func:`~planner.workflow.provenance.stale_reasons`).
    Reads the catalogue and small documents, never a layer's rows.
    """
    return [reason for _kind, reason in _sites_checks(store, stored)]


def stale_sites_warnings(store: Store, stored: StoredSites) -> list[tuple[str, str]]:
    """:func:`sites_staleness` as warnings naming the stored sites (``planner scenario run``, ``planner brief``)."""
    return [w for _kind, w in stale_sites_notes(store, stored)]


def stale_sites_notes(store: Store, stored: StoredSites) -> list[tuple[str, tuple[str, str]]]:
    """:func:`stale_sites_warnings` with the kind of each: ``"stale"`` (out of date) or ``"settings"`` (built with
    other settings than the saved ones, which may be on purpose): what the printed documents made from the sites
    (a brief, a comparison report) say on the page, as a warning or as a neutral note."""
    n = stored.name
    return [(kind, (f"the stored sites {n!r} were {en}", f"已存储的片区结果 {n} {zh}") if kind == "settings" else
             (f"the stored sites {n!r} are out of date: {en}", f"已存储的片区结果 {n} 已过期：{zh}"))
            for kind, (en, zh) in _sites_checks(store, stored)]


def _sites_checks(store: Store, stored: StoredSites) -> list[tuple[str, tuple[str, str]]]:
    """:func:`sites_staleness` with the kind of each reason: ``"stale"``, or ``"settings"`` (other settings than
    the saved ones, which may be on purpose)."""
    from planner.i18n import workspace_option
    from planner.workflow.enterprises import enterprise_version
    from planner.workflow.provenance import other_settings_reason

    prov = stored.provenance
    name = prov.policy_name
    survey = current_survey_version(store)
    cat = store.layers("flags")
    cur = cat[cat["is_current"]] if len(cat) else cat
    mine = cur[cur["name"] == name] if name else cur.iloc[:0]
    flags = ((int(mine["version"].iloc[-1]), Provenance.from_meta(catalogue_meta(mine["meta"].iloc[-1])))
             if len(mine) else None)
    built_flags = (flags_built_from(prov, cat, [Provenance.from_meta(catalogue_meta(m)) for m in cat["meta"]])
                   if len(cat) else None)
    saved = _saved_policy(store, name) if name else None
    fp = flags[1] if flags is not None else None
    ent = enterprise_version(store)
    new_table = fp is not None and fp.enterprise_version != ent  # the current flags joined another table than now
    classify = (fp is None or new_table
                or (survey is not None and fp.survey_version is not None and fp.survey_version != survey)
                or (saved is not None and bool(fp.policy_hash) and fp.policy_hash != saved[1]))

    def command(lang: str) -> tuple[str, str]:
        import shlex

        ws = workspace_option(store.uri, lang)
        pol = f" --policy {shlex.quote(str(name))}" if name else ""
        sites = (f"planner sites {ws}" + (pol if list(cur["name"]) != [name] else "")
                 + (f" --name {shlex.quote(stored.name)}" if name and stored.name != name else ""))
        return f"planner classify {ws}" + (pol if name != "default" else ""), sites

    (cls_en, sites_en), (cls_zh, sites_zh) = command("en"), command("zh")
    rebuild = ((f"to rebuild them, run `{cls_en}`, then `{sites_en}`", f"重新生成：先运行 `{cls_zh}`，再运行 `{sites_zh}`")
               if classify else (f"to rebuild them, run `{sites_en}`", f"重新生成：运行 `{sites_zh}`"))
    out = []

    def add(kind: str, reasons, fix: tuple[str, str] = rebuild, en_more: str = "", zh_more: str = "") -> None:
        out.extend((kind, (f"{en}{en_more}; {fix[0]}", f"{zh}{zh_more}；{fix[1]}")) for en, zh in reasons)

    if survey is not None:
        add("stale", stale_reasons(prov, survey_version=survey))
    if saved is not None:
        add("stale", stale_reasons(prov, policy_hash=saved[1]), en_more=f" (saved as policy/{name} version {saved[0]})",
            zh_more=f"（已保存为 policy/{name} 第 {saved[0]} 版）")
    if flags is not None:
        add("stale", stale_reasons(prov, flags=flags, built_flags=built_flags))
    if new_table:  # an enterprise table published or switched since the flags the sites rest on were classified
        add("stale", stale_reasons(built_flags or fp, enterprise_version=ent))
    built, want = _built_and_saved_settings(store, stored)
    why = other_settings_reason(built, want, policy_name=name) if built is not None and want is not None else None
    if why is not None:
        add("settings", [why], (f"to build them with the saved settings, run `{sites_en}`",
                                f"如需按已保存的设置重新生成，请运行 `{sites_zh}`"))
    return out


def _saved_policy(store: Store, name: str) -> tuple[int, str] | None:
    """The latest version of the rules saved as ``policy/<name>`` and their hash (None: none saved, or unusable)."""
    version = latest_version(store, "policy", name)
    if version is None:
        return None
    try:
        return version, load_document(store, "policy", name, version).hash
    except PlannerError:  # a document this planner refuses: `planner classify` says so, not a staleness check
        return None


def _built_and_saved_settings(store: Store, stored: StoredSites) -> tuple[dict | None, dict | None]:
    """The settings stored sites were built with and those ``planner sites`` would use by default, as comparable
    dicts: the site parameters, and the barrier and protected-land switches where the workspace has such layers
    (without them a switch changes nothing). ``(None, None)``: nothing to compare."""
    prov = stored.provenance
    if not prov.policy_name or prov.site_params is None:
        return None, None
    try:
        ref = resolve_site_params(store, prov.policy_name)
    except PlannerError:  # unusable saved settings: `planner sites` names them, not a staleness check
        return None, None
    built, want = dict(prov.site_params), dict(ref.to_dict()["params"])
    for key, kind in (("use_barriers", "barrier"), ("use_constraints", "constraint")):
        layers = store.layers(kind)
        if key in stored.meta and len(layers) and layers["is_current"].any():
            built[key], want[key] = bool(stored.meta[key]), bool(getattr(ref, key))
    return built, want


# --------------------------------------------------------------------------- scenarios
def site_refs(scenario: sc_mod.Scenario, parcel_sites: pd.DataFrame, sites: pd.DataFrame) -> dict[str, dict]:
    """What a scenario remembers of each site it picks by id: member fingerprint, parcel count, land."""
    if not scenario.sites.ids:
        return {}
    ps = parcel_sites.assign(site_id=parcel_sites["site_id"].astype(str))
    s = sites.assign(site_id=sites["site_id"].astype(str)).set_index("site_id")
    out = {}
    for sid in scenario.sites.ids:  # the handful of sites a user picked
        members = ps.loc[ps["site_id"] == sid, "parcel_id"]
        if not len(members):
            continue
        out[sid] = {"members": D.members_hash(members), "n_parcels": len(members),
                    "land_area_m2": round(float(s.loc[sid, "land_area_m2"]), 1) if sid in s.index else None}
    return out


def check_site_refs(doc: D.ScenarioDoc, parcel_sites: pd.DataFrame) -> list[tuple[str, str]]:
    """Picked sites that vanished or whose land changed since the scenario was saved (``[(en, zh)]``)."""
    out = []
    if not doc.scenario.sites.ids:  # a scenario that picks no sites by id has nothing to check
        return out
    ps = parcel_sites.assign(site_id=parcel_sites["site_id"].astype(str))
    groups = ps.groupby("site_id")["parcel_id"]
    have = set(ps["site_id"].unique())
    for sid in doc.scenario.sites.ids:
        if sid not in have:
            out.append((f"site {sid} picked by scenario {doc.name!r} no longer exists; it is left out",
                        f"情景「{doc.name}」所选片区 {sid} 已不存在，计算时已略去"))
            continue
        ref = doc.site_refs.get(sid)
        if ref and ref.get("members") and ref["members"] != D.members_hash(groups.get_group(sid)):
            out.append((f"site {sid} changed since scenario {doc.name!r} was saved "
                        f"({ref.get('n_parcels')} parcels then, {len(groups.get_group(sid))} now)",
                        f"情景「{doc.name}」保存后片区 {sid} 已变化（当时 {ref.get('n_parcels')} 宗，"
                        f"现在 {len(groups.get_group(sid))} 宗）"))
    return out


@dataclass
class ScenarioRun:
    """A scenario result and what the user should be told about it."""

    result: sc_mod.ScenarioResult
    warnings: list[tuple[str, str]] = field(default_factory=list)
    doc: D.ScenarioDoc | None = None
    #: The stored sites it ran on (:func:`run_stored_scenario`; flags with :data:`ROLLUP_COLUMNS` only).
    stored: StoredSites | None = None


def run_scenario(doc: D.ScenarioDoc, sites: gpd.GeoDataFrame, parcel_sites: pd.DataFrame,
                 parcels: pd.DataFrame | None, *, templates=None, policy_hash: str | None = None,
                 provenance: dict | None = None) -> ScenarioRun:
    """Evaluate a scenario on sites with the parcel rollup (retained classes as the scenario says).

    Vanished picked sites are left out and said so; changed ones are said so.
    ``provenance`` (the sites' :class:`Provenance` meta) goes into the result for reports.
    """
    sc, rollup, warnings = _prepared(doc, sites, parcel_sites, parcels, policy_hash)
    res = sc_mod.run(sites, sc, templates=templates, rollup=rollup)
    res.provenance = dict(provenance or {})
    return ScenarioRun(res, warnings + sc_mod.phasing_warnings(res), doc)


def scenario_sensitivity(doc: D.ScenarioDoc, sites: gpd.GeoDataFrame, parcel_sites: pd.DataFrame,
                         parcels: pd.DataFrame | None, *, templates=None, swing: float = 0.2,
                         params=None, progress=None) -> pd.DataFrame:
    """:func:`planner.scenarios.sensitivity.sensitivity` of a scenario as :func:`run_scenario` runs it (the same
    sites, retained classes and parcel rollup): each uncertain template parameter ``1 -+ swing`` times."""
    from planner.scenarios import sensitivity as sens

    sc, rollup, _ = _prepared(doc, sites, parcel_sites, parcels, None)
    return sens.sensitivity(sites, sc, templates=templates, rollup=rollup, swing=swing,
                            params=params if params is not None else sens.PARAMS, progress=progress)


@dataclass
class ScenarioSensitivity:
    """The sensitivity of one scenario run (:func:`scenario_sensitivity`), as the reports show it."""

    #: The scenario's name (the run's).
    name: str
    #: One row per parameter varied: ``parameter``, ``value_{low,base,high}`` and ``{output}_{low,base,high}``.
    table: pd.DataFrame
    swing: float = 0.2
    #: Whether what starts from enterprise tax or output was left out (a role without ``see_enterprise_figures``).
    hidden: bool = False


def runs_sensitivity(runs: list[ScenarioRun], *, sites: gpd.GeoDataFrame | None = None,
                     parcel_sites: pd.DataFrame | None = None, parcels: pd.DataFrame | None = None, templates=None,
                     swing: float = 0.2, params=None, hide_figures: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> list[ScenarioSensitivity]:
    """:func:`scenario_sensitivity` of each run, in order: the sensitivity section of a comparison report (``planner
    scenario compare --sensitivity``, the comparison page's export) or of a scenario's (``scenario run``).

    Each scenario runs on the sites it ran on: its :class:`StoredSites` (:func:`run_stored_scenario`), else
    ``sites``, ``parcel_sites`` and ``parcels`` (the app's session sites). ``hide_figures``: without what starts from
    enterprise tax (:func:`planner.workflow.visibility.hide_sensitivity_figures`). ``progress(done, total)`` counts
    the model runs: ``1 + 2 x parameters`` a scenario.
    """
    from planner.scenarios import sensitivity as sens
    from planner.workflow.visibility import hide_sensitivity_figures

    params = tuple(params if params is not None else sens.PARAMS)
    per = 1 + 2 * len(params)
    total = per * len(runs)
    out = []
    for i, run in enumerate(runs):
        if run.doc is None:
            raise ValueError(f"scenario {run.result.name!r}: a run without its scenario document has no sensitivity")
        st = run.stored
        s, ps, pp = (st.sites, st.parcel_sites, st.flags) if st is not None else (sites, parcel_sites, parcels)
        if s is None or ps is None:
            raise ValueError(f"scenario {run.result.name!r}: give the sites it ran on")

        def step(share: float, i: int = i) -> None:
            if progress is not None:
                progress(min(total, i * per + round(share * per)), total)

        table = scenario_sensitivity(run.doc, s, ps, pp, templates=templates, swing=swing, params=params,
                                     progress=step)
        if progress is not None:
            progress((i + 1) * per, total)
        out.append(ScenarioSensitivity(run.result.name, hide_sensitivity_figures(table) if hide_figures else table,
                                       swing, hide_figures))
    return out


def _prepared(doc: D.ScenarioDoc, sites: gpd.GeoDataFrame, parcel_sites: pd.DataFrame, parcels: pd.DataFrame | None,
              policy_hash: str | None) -> tuple[sc_mod.Scenario, pd.DataFrame | None, list]:
    """The scenario as it can run on these sites (vanished picked sites left out), its parcel rollup, and the
    warnings about both."""
    warnings = check_site_refs(doc, parcel_sites)
    sc = doc.scenario
    have: set[str] = set()  # the picked ids that exist (a set of a 1M city's 85k ids was 65 ms of every run)
    if sc.sites.ids:
        all_ids = sites["site_id"].astype("string")
        have = set(all_ids[all_ids.isin(list(sc.sites.ids))])
    if sc.sites.ids and not set(sc.sites.ids) <= have:
        kept = tuple(s for s in sc.sites.ids if s in have)
        if not kept:
            msg = (f"scenario {sc.name!r}: none of its sites ({', '.join(sc.sites.ids[:10])}) exists any more; "
                   "open the scenario and pick sites again")
            raise DataError(msg, zh=f"情景「{sc.name}」所选片区均已不存在，请重新选择片区")
        sc = sc_mod.replace(sc, sites=dataclasses.replace(sc.sites, ids=kept))
    if policy_hash and sc.policy_hash and sc.policy_hash != policy_hash:
        warnings.append((f"scenario {sc.name!r} was saved on policy {sc.policy_hash[:12]}; the sites now rest on "
                         f"{policy_hash[:12]}", f"情景「{sc.name}」保存时的识别规则（{sc.policy_hash[:12]}）与当前片区"
                         f"所依据的（{policy_hash[:12]}）不同"))
    rollup = None
    if parcels is not None and len(parcel_sites):
        cols = [c for c in ROLLUP_COLUMNS if c in parcels.columns]
        # the rollup of the sites the scenario picks (the model reads no other site's)
        chosen = sc_mod.select_sites(sites, sc.sites, scenario=sc.name)["site_id"]
        ps = parcel_sites[schema.ids_in(parcel_sites["site_id"], chosen)]
        rollup = sc_mod.parcel_rollup(pd.DataFrame(ps[["parcel_id", "site_id", "role"]]),
                                      pd.DataFrame(parcels[cols]), retain_classes=sc.retain_classes)
    return sc, rollup, warnings


def scenario_doc(scenario: sc_mod.Scenario, *, sites=None, parcel_sites=None) -> D.ScenarioDoc:
    """A scenario document remembering the sites it picks (when the sites are given)."""
    refs = site_refs(scenario, parcel_sites, sites) if sites is not None and parcel_sites is not None else {}
    return D.ScenarioDoc(scenario, refs)


def run_stored_scenario(store: Store, doc: D.ScenarioDoc, *, templates=None,
                        stored: StoredSites | None = None) -> ScenarioRun:
    """Run a scenario on the workspace's stored sites (checked to belong together).

    ``stored`` is the result of ``read_sites(store, <the scenario's sites
    layer>, flag_columns=ROLLUP_COLUMNS)`` when the caller has it already
    (several scenarios on the same sites read them once).
    """
    if stored is None:
        stored = read_sites(store, doc.scenario.sites_layer, flag_columns=ROLLUP_COLUMNS)
    sc = doc.scenario
    if not sc.policy_name and not sc.policy_hash:
        doc = dataclasses.replace(doc, scenario=sc_mod.replace(sc, policy_name=str(stored.provenance.policy_name or ""),
                                                              policy_hash=str(stored.provenance.policy_hash or "")))
    run = run_scenario(doc, stored.sites, stored.parcel_sites, stored.flags, templates=templates,
                       policy_hash=stored.provenance.policy_hash, provenance=stored.provenance.to_meta())
    notes = stale_sites_notes(store, stored)
    run.warnings += stored.warnings + [w for _kind, w in notes]
    if notes:  # what the reports of the run say on the page (:func:`planner.report.text.sites_notes`)
        run.result.provenance["sites_notes"] = [{"kind": k, "en": en, "zh": zh} for k, (en, zh) in notes]
    run.stored = stored
    return run


def compare_runs(runs: list[ScenarioRun | sc_mod.ScenarioResult]):
    """Side-by-side comparison of scenario runs or results (the first is the baseline)."""
    return sc_mod.compare([r.result if isinstance(r, ScenarioRun) else r for r in runs])


# --------------------------------------------------------------------------- survey
def create_workspace(uri, crs) -> Store:
    """Create an empty workspace (``planner workspace init``, the data manager); see :func:`planner.io.store.create_workspace`."""
    from planner.io.store import create_workspace as _create

    require("init_workspace")
    return _create(uri, crs)


def ingest_survey(source, store: Store, **kw):
    """Read, check and publish a survey file (``planner ingest``); see :func:`planner.ingest.ingest`."""
    from planner import ingest as ingest_mod

    if not kw.get("dry_run"):
        kw["user"] = acting_user("ingest", store, kw.get("user"))
    return ingest_mod.ingest(source, store, **kw)


def check_survey(source, **kw):
    """Read and check a survey file with no workspace (``planner ingest --dry-run`` before ``workspace init``).

    The data are checked in the CRS a new workspace for them would get; see
    :func:`planner.ingest.read_survey`. Writes nothing.
    """
    from planner import ingest as ingest_mod

    _gdf, rep = ingest_mod.read_survey(source, **kw)
    rep.dry_run = True
    return rep


def publish_survey(parcels: gpd.GeoDataFrame, store: Store, **kw):
    """Publish checked parcels as a new survey version; see :func:`planner.ingest.publish`."""
    from planner import ingest as ingest_mod

    kw["user"] = acting_user("publish", store, kw.get("user"))
    return ingest_mod.publish(parcels, store, **kw)


def set_current_survey(store: Store, version: int, *, user: str | None = None):
    """Make an existing survey version the current one (a deliberate switch, confirmed by the caller).

    Returns the :class:`~planner.workflow.versions.VersionSwitch` (which version was current, what is out of date
    now); a version the workspace does not have is refused naming those it has. See
    :func:`planner.workflow.versions.switch_version`.
    """
    from planner.workflow.versions import switch_version

    return switch_version(store, "survey", version, user=user)
