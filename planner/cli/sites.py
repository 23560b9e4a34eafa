"""``planner sites``: contiguous candidate sites (连片) from the classified parcels of a workspace."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from tqdm import tqdm

from planner import sites as S
from planner.config import load_file
from planner.crs import to_lonlat_valid
from planner.errors import DataError, StoreError
from planner.io.store import open_store
from planner.io.writers import neutralize_frame

STAGES = ("constraints", "adjacency", "barriers", "components", "enclaves", "site outlines", "store")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sites", help="assemble flagged parcels into contiguous candidate sites (连片) and rank them")
    p.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    p.add_argument("--policy", "-p", default=None,
                   help="policy name whose flags layer to use (default: the only flags layer); "
                        "its [sites] table, if any, gives the site parameters")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="TOML/JSON file with a [sites] table (overrides the policy's)")
    p.add_argument("--gap", type=float, default=None, metavar="M", help="gap tolerance in metres (default 2)")
    p.add_argument("--min-area", type=float, default=None, metavar="M2", help="minimum site area in m² (default 10000)")
    p.add_argument("--max-area", type=float, default=None, metavar="M2", help="optional maximum site area in m²")
    p.add_argument("--no-barriers", action="store_true", help="ignore the workspace's barrier layers")
    p.add_argument("--no-constraints", action="store_true", help="ignore the workspace's constraint layers")
    p.add_argument("--apply-edits", default=None, metavar="NAME",
                   help="replay the saved site_edit document NAME on the result")
    p.add_argument("--name", default=None, help="name of the sites layers (default: the policy name)")
    p.add_argument("--out", default=None, metavar="FILE", help="also write sites to FILE (.gpkg, .geojson or .csv)")
    p.set_defaults(func=run)


def _params(args, store, policy_name: str) -> S.SiteParams:
    data: dict = {}
    where = "sites"
    try:
        doc = store.load_doc("policy", policy_name)
        data = dict(doc.get("sites", {}) or {})
        where = f"policy {policy_name!r} [sites]"
    except StoreError:
        pass
    if args.config:
        data = dict(load_file(args.config).get("sites", {}))
        where = f"{args.config} [sites]"
    for key, val in (("gap_m", args.gap), ("min_area_m2", args.min_area), ("max_area_m2", args.max_area)):
        if val is not None:
            data[key] = val
    return S.SiteParams.from_dict(data, where=where)


def write_result(result: S.SiteResult, path: str | Path) -> list[Path]:
    """Write sites (and the parcel-to-site table) to a file chosen by its extension."""
    path = Path(path)
    ext = path.suffix.lower()
    sites = result.sites
    if ext == ".gpkg":
        pyogrio.write_dataframe(sites, path, layer="sites", driver="GPKG")
        pts = gpd.GeoDataFrame(result.parcel_sites, geometry=[None] * len(result.parcel_sites), crs=sites.crs)
        pyogrio.write_dataframe(pts.drop(columns="geometry"), path, layer="site_parcels", driver="GPKG", append=False)
        return [path]
    if ext in (".geojson", ".json"):
        pyogrio.write_dataframe(to_lonlat_valid(sites), path, driver="GeoJSON")
        return [path]
    if ext == ".csv":
        neutralize_frame(sites.drop(columns="geometry")).to_csv(path, index=False)  # no live formulas in Excel
        side = path.with_name(path.stem + "_parcels.csv")
        neutralize_frame(result.parcel_sites).to_csv(side, index=False)
        return [path, side]
    msg = f"--out {path}: unknown extension {ext!r}; use .gpkg, .geojson or .csv"
    raise DataError(msg)


def run(args: argparse.Namespace) -> int:
    store = open_store(args.workspace)
    flags_cat = store.layers("flags")
    flags_cat = flags_cat[flags_cat["is_current"]]
    if not len(flags_cat) or (args.policy and not (flags_cat["name"] == args.policy).any()):
        what = f"for policy {args.policy!r} " if args.policy else ""
        msg = (f"workspace {args.workspace} has no flags layer {what}(classified parcels); "
               f"run `planner classify --workspace {args.workspace}` first")
        raise DataError(msg)
    policy_name = args.policy or (flags_cat["name"].iloc[0] if len(flags_cat) == 1 else None)
    if policy_name is None:
        msg = f"several flags layers ({', '.join(flags_cat['name'])}); choose one with --policy"
        raise DataError(msg)
    params = _params(args, store, policy_name)
    bar = tqdm(total=len(STAGES), desc="sites", unit="stage", leave=False)

    def say(message: str) -> None:
        bar.set_postfix_str(message)
        bar.update(1)

    flagged = store.read_layer("flags", policy_name)
    fmeta = flagged.attrs.get("meta", {})
    barriers = None if args.no_barriers else store.read_all_layers("barrier")
    constraints = None if args.no_constraints else store.read_all_layers("constraint")
    result = S.build_sites(flagged, params, barriers=barriers, constraints=constraints, progress=say)
    if args.apply_edits:
        doc = store.load_doc("site_edit", args.apply_edits)
        result = S.apply_edits(result, doc.get("ops", []), flagged)
    say("store")
    bar.close()
    name = args.name or policy_name
    meta = {"policy_name": policy_name, "policy_hash": fmeta.get("policy_hash"),
            "survey_version": fmeta.get("survey_version"), "params": params.to_dict(),
            "score_formula": params.score_formula(), "edits": args.apply_edits,
            "n_excluded_constraint": len(result.excluded)}
    store.write_layer("sites", name, result.sites, meta=meta, action="build_sites")
    pos = flagged.set_index(flagged["parcel_id"].astype(str)).geometry
    ps = result.parcel_sites.assign(parcel_id=result.parcel_sites["parcel_id"].astype(str))
    pts = gpd.GeoDataFrame(ps, geometry=pos.loc[ps["parcel_id"]].representative_point().to_numpy(),
                           crs=flagged.crs)
    store.write_layer("site_parcels", name, pts, meta=meta, action="build_sites")
    s = result.sites
    ok = s[s["status"] == "ok"]
    print(f"{len(s)} sites from {int((ps['role'] == 'flagged').sum())} flagged parcels "
          f"({len(ok)} ok, {int((s['status'] == 'too_small').sum())} too small, "
          f"{int((s['status'] == 'too_large').sum())} too large); "
          f"{len(result.excluded)} parcels excluded by protected land")
    print(params.score_formula())
    cols = ["rank", "site_id", "n_parcels", "n_owners", "land_area_mu", "plot_ratio", "compactness", "score"]
    with pd.option_context("display.width", 160):
        print(ok.sort_values("rank")[cols].head(10).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"stored as sites/{name} and site_parcels/{name} in {args.workspace}")
    if args.out:
        for p in write_result(result, args.out):
            print(f"wrote {p}")
    print(json.dumps({"sites": len(s), "ok": len(ok)}))
    return 0
