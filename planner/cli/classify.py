"""``planner classify`` and ``planner policy show``: three-low classification from the command line.

``planner classify --workspace WS [--policy P] [--out FILE]`` reads the
current survey of the workspace, classifies it, prints the summary table,
stores the flagged layer as ``flags/<policy name>`` (meta: policy name, hash,
survey version) and the policy as document ``policy/<name>`` (its dict and
TOML text), and optionally writes the flagged parcels to FILE (.gpkg,
.geojson in WGS84, .csv without geometry or with ``--wkt``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from planner.classify import classify, summary
from planner.classify.policy import (
    describe,
    dumps,
    load_policy,
    policy_hash,
    policy_path,
    policy_to_dict,
)
from planner.errors import DataError
from planner.io.store import open_store
from planner.io.writers import neutralize_frame


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="flag three-low parcels of the current survey under a policy (三低识别)")
    p.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    p.add_argument("--policy", "-p", default=None,
                   help="policy TOML/JSON file or a name in policies/ (default: policies/default.toml)")
    p.add_argument("--out", "-o", default=None, help="also write the flagged parcels to .gpkg / .geojson / .csv")
    p.add_argument("--wkt", action="store_true", help="with a .csv --out: add the geometry as WKT")
    p.add_argument("--survey-version", type=int, default=None, help="survey version (default: the current one)")
    p.add_argument("--no-store", action="store_true", help="do not store the result in the workspace")
    p.set_defaults(func=run)

    pp = sub.add_parser("policy", help="show a three-low policy's effective rules and their sources")
    psub = pp.add_subparsers(dest="policy_command", metavar="ACTION")
    show = psub.add_parser("show", help="print the effective rules with sources")
    show.add_argument("--policy", "-p", default=None, help="policy file or name (default: policies/default.toml)")
    show.add_argument("--lang", choices=("en", "zh"), default="en")
    show.add_argument("--toml", action="store_true", help="print the normalized TOML instead")
    show.set_defaults(func=run_show)
    pp.set_defaults(func=lambda _a: (pp.print_help(), 0)[1])


def _stage(msg: str, t0: float) -> None:
    print(f"[classify {time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def writable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Categorical flag columns as plain text, for GDAL writers."""
    out = gdf.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype("string")
    return out


def write_flags(gdf: gpd.GeoDataFrame, path: str | Path, *, wkt: bool = False) -> None:
    """Write classified parcels by extension: .gpkg, .geojson (WGS84), .csv (no geometry, or WKT)."""
    p = Path(path)
    ext = p.suffix.lower()
    out = writable(gdf)
    if ext == ".gpkg":
        pyogrio.write_dataframe(out, p, layer="flags", driver="GPKG")
    elif ext in (".geojson", ".json"):
        pyogrio.write_dataframe(out.to_crs(4326), p, driver="GeoJSON")
    elif ext == ".csv":
        df = pd.DataFrame(out.drop(columns=out.geometry.name))
        if wkt:
            df["wkt"] = out.geometry.to_wkt()
        neutralize_frame(df).to_csv(p, index=False, encoding="utf-8-sig")  # no live formulas in Excel
    else:
        msg = f"--out {p}: unknown extension {ext!r}; use .gpkg, .geojson or .csv"
        raise DataError(msg)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    policy = load_policy(args.policy)  # ConfigError -> exit 2 with the key named
    if args.out:
        ext = Path(args.out).suffix.lower()
        if ext not in (".gpkg", ".geojson", ".json", ".csv"):
            msg = f"--out {args.out}: unknown extension {ext!r}; use .gpkg, .geojson or .csv"
            raise DataError(msg)
    store = open_store(args.workspace)
    _stage(f"reading survey from {args.workspace}", t0)
    parcels = store.read_parcels(args.survey_version)
    surveys = store.surveys()
    if args.survey_version is None:
        cur = surveys[surveys["is_current"] & (surveys["name"] == "parcels")]
        survey_version = int(cur["version"].iloc[0]) if len(cur) else None
    else:
        survey_version = int(args.survey_version)
    _stage(f"{len(parcels):,} parcels (survey version {survey_version}); policy {policy.name!r}", t0)
    flagged = classify(parcels, policy, progress=lambda s: _stage(s, t0))
    table = summary(flagged, policy)
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.float_format", "{:,.1f}".format):
        print(f"policy {policy.name!r} (hash {policy_hash(policy)[:12]}), survey version {survey_version}, "
              f"{len(flagged):,} parcels")
        print(table.to_string(index=False))
    if args.out:
        _stage(f"writing {args.out}", t0)
        write_flags(flagged, args.out, wkt=args.wkt)
    if not args.no_store:
        _stage("storing flags layer and policy in the workspace", t0)
        src = policy_path(args.policy)
        text = src.read_text(encoding="utf-8") if src.suffix.lower() == ".toml" and src.exists() else dumps(policy)
        h = policy_hash(policy)
        store.save_doc("policy", policy.name, {"name": policy.name, "hash": h, "policy": policy_to_dict(policy),
                                               "toml": text, "source_file": str(src)})
        version = store.write_layer("flags", policy.name, writable(flagged),
                                    meta={"policy_name": policy.name, "policy_hash": h, "survey_version": survey_version},
                                    action="classify")
        _stage(f"stored flags/{policy.name} version {version}", t0)
    return 0


def run_show(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    print(dumps(policy) if args.toml else describe(policy, lang=args.lang))
    return 0
