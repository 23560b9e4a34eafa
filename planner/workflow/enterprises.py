"""Enterprise tables in a workspace: load and publish a version, and join the current one into the parcels.

``planner enterprise ingest`` and the app's data manager call
:func:`ingest_enterprises`; every analysis reads parcels through
:func:`analysis_parcels`, so per-mu indicators and the grade come from the
enterprise figures once a table is published (and from the survey's own
fields before).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner import enterprise as E
from planner.errors import DataError, Note, message_in
from planner.io.store import LayerWrite, Store, source_sha256
from planner.workflow.permissions import acting_user

#: The one enterprise table of a workspace (name of its layers).
NAME = "enterprises"


@dataclass
class EnterpriseLoad:
    """What loading an enterprise table read, found and (unless a dry run) published."""

    report: object
    table: pd.DataFrame
    links: pd.DataFrame
    link_how: str
    join: dict = field(default_factory=dict)
    version: int | None = None


def enterprise_version(store: Store) -> int | None:
    """The current enterprise table version (None: the workspace has none)."""
    cat = store.layers("enterprise")
    cur = cat[cat["is_current"] & (cat["name"] == NAME)] if len(cat) else cat
    return int(cur["version"].iloc[-1]) if len(cur) else None


def ingest_enterprises(source: str | os.PathLike, store: Store, *, mapping=None, link: str | os.PathLike | None = None,
                       encoding: str | None = None, dry_run: bool = False, user: str | None = None,
                       label: str | None = None, source_name: str | None = None,
                       link_name: str | None = None) -> EnterpriseLoad:
    """Read, check, link and (unless ``dry_run``) publish an enterprise table as a new version.

    The links are checked against the current survey (unmatched codes and
    parcel ids, enterprises without parcels are problems in the report). The
    table and its links are written in one commit under the writer lock; a
    refused load (:class:`~planner.errors.IngestError`) writes nothing.
    ``source_name`` / ``link_name``: the files' names as the user knows them
    (an app upload is stored under a server-made name), for the audit log.
    """
    mp = E.as_enterprise_mapping(mapping)
    ent, rep = E.read_enterprises(source, mapping=mp, encoding=encoding)
    link_rows = None
    if link is not None:
        link_rows, link_problems = E.read_links(link, encoding=encoding)
        rep.problems += link_problems
    parcels = store.read_parcels() if store.has_layer("survey", "parcels") else None
    links, how = E.links_for(ent, mp.link, parcels, link_rows)
    share_zh = "建筑面积" if mp.link.share == "floor" else "用地面积"
    rep.notes.append(Note(f"enterprises linked to parcels by {how}; shared by {mp.link.share} area",
                          zh=f"企业按{message_in(how, 'zh')}关联到宗地；跨宗地企业按{share_zh}分摊"))
    counts: dict = {}
    if parcels is not None:
        joined = E.join_enterprises(parcels, ent, links, share=mp.link.share, parcels_without=mp.link.parcels_without)
        rep.problems += joined.problems
        rep.notes += joined.notes
        counts = joined.counts
        n_p = int((joined.parcels["n_enterprises"] > 0).sum())
        rep.notes.append(Note(f"{counts['enterprises_linked']:,} of {len(ent):,} enterprises reach {n_p:,} parcels "
                              "of the current survey",
                              zh=f"{len(ent):,} 家企业中有 {counts['enterprises_linked']:,} 家关联到当前调查版本的 "
                                 f"{n_p:,} 宗地块"))
    else:
        rep.notes.append(Note("the workspace has no survey yet: the links are checked when one is published",
                              zh="工作空间尚无调查数据：发布调查数据时再核对关联"))
    unlinked = None
    if parcels is not None and len(ent) and not counts.get("enterprises_linked"):
        # published, every parcel's tax and output would turn unknown ("low contribution" would vanish)
        name = link_name or (Path(link).name if link else None) or source_name or Path(source).name
        unlinked = DataError(
            f"{name}: none of the {len(ent):,} enterprises reaches a parcel of the current survey (linked by {how}); "
            "publishing it would leave every parcel without tax and output. Check the link table's parcel ids and "
            "credit codes against the survey",
            zh=f"{name}：{len(ent):,} 家企业均未关联到当前调查版本的任何宗地（关联方式：{message_in(how, 'zh')}）；发布后所有宗地将失去"
               "税收和产值。请核对关联表的宗地代码和统一社会信用代码")
        rep.notes.append(Note(str(unlinked), zh=unlinked.zh))
    rep.dry_run = dry_run
    src = Path(source)
    rep.sha256 = source_sha256(src) if src.is_file() else None
    out = EnterpriseLoad(rep, ent, links, how, counts)
    if dry_run:
        return out
    if unlinked is not None:
        raise unlinked
    user = acting_user("ingest", store, user)
    meta = {"label": label, "link": {"by": mp.link.by, "how": how, "share": mp.link.share, "years": mp.link.years,
                                     "parcels_without": mp.link.parcels_without},
            "join": counts, "ingest": rep.summary(), "link_file": link_name or (Path(link).name if link else None)}
    with store.write_lock("publish_enterprises"):
        versions = store.write_layers(
            [LayerWrite("enterprise", NAME, ent.reset_index(drop=True), meta=meta, source_file=source_name or src.name,
                        sha256=rep.sha256),
             LayerWrite("enterprise_link", NAME, _storable_links(links), meta=meta,
                        source_file=link_name or (Path(link).name if link else source_name or src.name))],
            user=user, action="publish_enterprises")
    out.version = versions[("enterprise", NAME)]
    return out


def set_current_enterprises(store: Store, version: int, *, user: str | None = None) -> None:
    """Make an enterprise table version (and its links, written in the same commit) the current one."""
    user = acting_user("set_current", store, user)
    with store.write_lock("set_current_enterprises"):
        store.set_current("enterprise", NAME, int(version), user=user)
        store.set_current("enterprise_link", NAME, int(version), user=user)


def _storable_links(links: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"key": links["key"].astype("string").to_numpy(),
                        "parcel_id": links["parcel_id"].astype("string").to_numpy(),
                        "source_row": pd.to_numeric(links["source_row"], errors="coerce").to_numpy()})
    return out if len(out) else pd.DataFrame({"key": pd.Series(["-"], dtype="string"), "parcel_id": ["-"],
                                              "source_row": [float("nan")]}).iloc[:0]


def analysis_parcels(store: Store, survey_version: int | None = None, *, geometry: bool = True) -> gpd.GeoDataFrame:
    """The parcels every analysis reads: a survey version with the current enterprise table joined in.

    Without an enterprise table the survey's own fields are used as they
    are. ``attrs["enterprise_version"]`` says which table was joined (None).
    ``geometry=False`` reads the attributes only (a plain DataFrame) unless a
    parcel lacks a positive ``land_area_m2``: its area then comes from its
    polygon, so the geometry is read after all.
    """
    parcels = store.read_parcels(survey_version, geometry=geometry)
    if not geometry and len(parcels) and not _land_known(parcels):
        parcels = store.read_parcels(survey_version)
    v = enterprise_version(store)
    parcels.attrs["enterprise_version"] = v
    if v is None:
        return parcels
    ent = store.read_layer("enterprise", NAME)
    meta = ent.attrs.get("meta") or {}
    spec = E.LinkSpec(**{k: v_ for k, v_ in (meta.get("link") or {}).items() if k in ("by", "share", "years",
                                                                                       "parcels_without")})
    if spec.by == "parcels" or (spec.by == "auto" and meta.get("link", {}).get("how", "").startswith("the parcels")):
        links, _ = E.links_for(ent, E.LinkSpec(by="parcels"), parcels)
    else:
        links = store.read_layer("enterprise_link", NAME)
    joined = E.join_enterprises(parcels, ent, links, share=spec.share, parcels_without=spec.parcels_without)
    out = joined.parcels
    out.attrs.update(parcels.attrs)
    out.attrs["enterprise_version"] = v
    out.attrs["enterprise_join"] = joined.counts
    return out


def _land_known(parcels: pd.DataFrame) -> bool:
    """Whether every parcel has a positive ``land_area_m2`` (no area has to come from geometry)."""
    if "land_area_m2" not in parcels.columns:
        return False
    land = pd.to_numeric(parcels["land_area_m2"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return bool((land > 0).all())


__all__ = ["NAME", "EnterpriseLoad", "analysis_parcels", "enterprise_version", "ingest_enterprises",
           "set_current_enterprises"]
