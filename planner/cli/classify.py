"""``planner classify`` and ``planner policy show``: three-low classification from the command line.

``planner classify --workspace WS [--policy P] [--out FILE]`` reads the
current survey of the workspace, classifies it (:func:`planner.workflow.classify_workspace`),
prints the summary table, stores the flagged layer as ``flags/<policy name>``
(meta: provenance with result id, policy name, hash, survey version) and the
policy as document ``policy/<name>`` in one commit, and optionally writes the flagged parcels to FILE (.gpkg,
.geojson in WGS84, .csv without geometry or with ``--wkt``). FILE is checked before anything is computed or
stored, and replaced only when the new one is complete (:mod:`planner.io.writers`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from planner import workflow as W
from planner.classify.policy import describe, dumps, shipped_policy_names
from planner.errors import DataError
from planner.i18n import STRINGS, t
from planner.io.store import open_store
from planner.io.writers import DELIVERY_GPKG, check_output, replacing, write_csv
from planner.workflow import PolicyDoc, classify_workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="flag three-low parcels of the current survey under a policy (三低识别)")
    p.add_argument("--workspace", "-w", default=None, help="workspace .gpkg (required unless --engine dask; with it, "
                   "the --parquet folder must hold this workspace's current survey)")
    p.add_argument("--policy", "-p", default=None,
                   help="policy NAME[@VERSION]: the policy of that name saved in the workspace (as the app "
                        "saves it), else the shipped policies/NAME.toml; or a TOML/JSON file (default: default)")
    p.add_argument("--out", "-o", default=None, help="also write the flagged parcels to .gpkg / .geojson / .csv")
    p.add_argument("--wkt", action="store_true", help="with a .csv --out: add the geometry as WKT")
    p.add_argument("--survey-version", type=int, default=None, help="survey version (default: the current one)")
    p.add_argument("--no-store", action="store_true", help="do not store the result in the workspace")
    p.add_argument("--force", action="store_true", help="with --engine dask: replace the --out folder")
    p.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of the printed summary (default: PLANNER_LANG, else zh)")
    from planner.cli.scale import add_engine_args

    add_engine_args(p, what="to classify (from `planner ingest --parquet`); --out FLAGS.parquet")
    p.set_defaults(func=run)

    pp = sub.add_parser("policy", help="show a three-low policy's effective rules and their sources (三低识别规则)")
    psub = pp.add_subparsers(dest="policy_command", metavar="ACTION")
    show = psub.add_parser("show", help="print the effective rules with sources")
    show.add_argument("--workspace", "-w", default=None,
                      help="workspace whose saved policies a NAME means (default: $PLANNER_WORKSPACE; without one "
                           "a NAME is a shipped policy)")
    show.add_argument("--policy", "-p", default=None,
                      help="policy NAME[@VERSION] (saved in the workspace, else shipped) or a TOML/JSON file "
                           "(default: default)")
    show.add_argument("--lang", choices=("en", "zh"), default=None, help="language (default: PLANNER_LANG, else zh)")
    show.add_argument("--toml", action="store_true", help="print the normalized TOML instead")
    show.set_defaults(func=run_show)
    ls = psub.add_parser("list", help="list the policies saved in a workspace (every version: who saved it, when)")
    ls.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    from planner.cli import add_lang_option

    add_lang_option(ls)
    ls.set_defaults(func=run_list)
    pp.set_defaults(func=lambda _a: (pp.print_help(), 0)[1])


#: The summary table's words (:func:`planner.classify.flags.summary`): its tables, criteria and categories, (zh, en).
_TABLES = {"class": ("三低分类", "Class"), "criterion": ("判定指标", "Criterion"),
           "unknown_reason": ("未知原因", "Why unknown"), "upgrade_class": ("改造方式", "Upgrade class"),
           "grade": ("等级", "Grade")}
_CRITERIA = {"utilization": ("利用率", "Utilization"), "capacity": ("产能", "Capacity"),
             "contribution": ("贡献", "Contribution")}
_CLASSES = {"three_low": ("三低用地", "Three-low"), "not_three_low": ("非三低", "Not three-low"),
            "out_of_scope": ("不在范围", "Out of scope"), "none": ("无等级", "No grade")}
_HEADS = (("分组", "Group"), ("指标", "Criterion"), ("类别", "Category"), ("地块数", "Parcels"),
          ("用地面积（㎡）", "Land (m²)"), ("用地面积（亩）", "Land (mu)"))


def summary_lines(head: dict, table: pd.DataFrame, lang: str = "zh") -> list[str]:
    """The printed summary of a classification in ``lang``: a line naming the policy (``head``: ``policy``,
    ``hash``, ``survey`` (its version or words), ``parcels``, optionally ``engine``), then the table of
    :func:`planner.classify.flags.summary` with its codes in words and the columns lined up in a terminal
    (Chinese counted two columns a character)."""
    from planner.classify.indicators import MISSING_REASON
    from planner.cli._table import aligned
    from planner.i18n import value_label

    en = lang == "en"
    why = {e: (z, e) for z, e in MISSING_REASON.values()}

    def word(table_: str, value: str) -> str:
        if table_ == "criterion":
            return value_label("flag", value, lang)
        if table_ == "upgrade_class":
            return value_label("upgrade", value, lang)
        pair = (why if table_ == "unknown_reason" else _CLASSES).get(value)
        return pair[en] if pair else value

    rows = [[_TABLES.get(r.table, (r.table, r.table))[en], _CRITERIA.get(r.criterion, (r.criterion, r.criterion))[en],
             word(r.table, r.category), f"{int(r.parcels):,}", f"{r.land_m2:,.1f}", f"{r.land_mu:,.1f}"]
            for r in table.itertuples()]
    survey = head["survey"]
    first = (f"policy {head['policy']!r} (hash {head['hash'][:12]}), {survey}{head['parcels']:,} parcels" if en else
             f"识别规则「{head['policy']}」（哈希 {head['hash'][:12]}），{survey}共 {head['parcels']:,} 个地块")
    if head.get("engine"):
        first += f", engine {head['engine']}" if en else f"，{head['engine'].title()} 引擎"
    return [first, *aligned([h[en] for h in _HEADS], rows, left=3)]


def _stage(msg: str, t0: float) -> None:
    print(f"[classify {time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def writable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Categorical flag columns as plain text, for GDAL writers."""
    out = gdf.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype("string")
    return out


#: The suffixes ``--out`` takes.
OUT_SUFFIXES = (".gpkg", ".geojson", ".json", ".csv")


def write_flags(gdf: gpd.GeoDataFrame, path: str | Path, *, wkt: bool = False) -> None:
    """Write classified parcels by extension: .gpkg, .geojson (WGS84), .csv (no geometry, or WKT).

    The file is written beside ``path`` and renamed over it when complete: a failed or killed write leaves the
    previous file as it was.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in OUT_SUFFIXES:
        msg = f"--out {p}: unknown extension {ext!r}; use .gpkg, .geojson or .csv"
        raise DataError(msg, zh=f"--out {p}：不支持的扩展名 {ext!r}，请用 .gpkg、.geojson 或 .csv")
    out = writable(gdf)
    with replacing(p) as tmp:
        if ext == ".gpkg":
            pyogrio.write_dataframe(out, tmp, layer="flags", driver="GPKG", dataset_options=DELIVERY_GPKG)
        elif ext in (".geojson", ".json"):
            pyogrio.write_dataframe(out.to_crs(4326), tmp, layer=p.stem, driver="GeoJSON")  # not the temporary name
        else:
            geo = isinstance(out, gpd.GeoDataFrame)
            df = pd.DataFrame(out.drop(columns=out.geometry.name)) if geo else pd.DataFrame(out)
            if wkt:
                df["wkt"] = out.geometry.to_wkt()
            write_csv(df, tmp, encoding="utf-8-sig")  # no live formulas in Excel


def policy_doc(ref: str | None, store=None) -> PolicyDoc:
    """The policy ``ref`` means (:func:`planner.workflow.operations.resolve_policy`)."""
    return W.operations.resolve_policy(store, ref)[0]


def run(args: argparse.Namespace) -> int:
    if args.engine == "dask":
        from planner.cli.scale import run_classify

        return run_classify(args)
    if not args.workspace:
        msg = "give the workspace with --workspace WS (or a partitioned survey with --engine dask --parquet DIR)"
        raise DataError(msg, zh="请指定工作空间（--workspace），或用 --engine dask --parquet 指定分区数据")
    t0 = time.perf_counter()
    if args.out:  # before anything is computed or stored: a refused command changes nothing
        check_output(args.out, OUT_SUFFIXES, workspace=args.workspace)
    store = open_store(args.workspace)
    doc, source = W.operations.resolve_policy(store, args.policy, args.lang)  # ConfigError -> exit 2, key named
    policy = doc.policy
    _stage(t("cli_classifying", args.lang, ws=store.label, policy=policy.name, source=source), t0)
    out = classify_workspace(store, doc, survey_version=args.survey_version, save=not args.no_store,
                             progress=lambda s: _stage(t(f"cli_stage_{s}", args.lang) if f"cli_stage_{s}" in STRINGS
                                                       else s, t0),
                             geometry=bool(args.out) and not (Path(args.out).suffix.lower() == ".csv" and not args.wkt))
    flagged, table = out.flagged, out.summary
    v = out.provenance.survey_version
    head = {"policy": policy.name, "hash": doc.hash, "parcels": len(flagged),
            "survey": f"survey version {v}, " if args.lang == "en" else f"调查版本 {v}，"}
    print("\n".join(summary_lines(head, table, args.lang)))
    if args.out:
        _stage(t("cli_writing", args.lang, path=args.out), t0)
        write_flags(flagged, args.out, wkt=args.wkt)
    if out.version is not None:
        key = "cli_flags_stored_with_policy" if out.policy_saved else "cli_flags_stored"
        _stage(t(key, args.lang, name=policy.name, v=out.version, pv=out.policy_version,
                 rid=out.provenance.result_id), t0)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from planner.cli.documents import print_versions

    lang = args.lang
    store = open_store(args.workspace)
    print_versions(store, "policy", lang)
    sep = t("ir_list_sep", lang)
    flags = store.layers("flags")
    if len(flags):
        current = flags[flags["is_current"].astype(bool)] if "is_current" in flags.columns else flags
        layers = sep.join(t("cli_name_version", lang, name=n, v=v)
                          for n, v in zip(current["name"], current["version"], strict=True))
        print("\n" + t("cli_policy_flags", lang, layers=layers))
    print("\n" + t("cli_policy_shipped", lang, names=sep.join(shipped_policy_names())))
    return 0


def run_show(args: argparse.Namespace) -> int:
    store = open_store(args.workspace) if args.workspace else None
    doc, source = W.operations.resolve_policy(store, args.policy, args.lang)
    policy = doc.policy
    if not args.toml:
        print(f"# {source}")
    print(dumps(policy) if args.toml else describe(policy, lang=args.lang))
    return 0
