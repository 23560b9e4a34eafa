"""``planner sites``: contiguous candidate sites (连片) from the classified parcels of a workspace.

Site parameters come from a saved ``site_params`` document (``--params``),
else a file's ``[sites]`` table (``--config``), else the settings saved for the
policy (``site_params/<policy>``, as the app's sites page saves them), else the
policy's ``[sites]`` table, then the flags below. Site ids are kept from the previous build where
the land is the same (:mod:`planner.sites.ids`); sites and their parcel table
are stored in one commit (:func:`planner.workflow.build_workspace_sites`).
``--out`` and the names are checked before anything is built or stored.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
from pathlib import Path

import geopandas as gpd
import pyogrio
from tqdm import tqdm

from planner import workflow as W
from planner.crs import to_lonlat_valid
from planner.errors import DataError, message_in
from planner.i18n import t
from planner.io.store import open_store
from planner.io.writers import DELIVERY_GPKG, check_output, replacing, write_csv
from planner.report.text import fmt
from planner.sites import SiteResult

STAGES = ("constraints", "adjacency", "barriers", "components", "streets", "enclaves", "site outlines", "store")


def finite(text: str) -> float:
    """An option's number (argparse ``type``): NaN and infinity are refused, naming the option (exit 2).

    ``float`` reads "nan" and "inf", and NaN passes every range test: ``--gap nan`` gave other sites.
    """
    try:
        v = float(text)
    except ValueError:
        msg = f"{text!r} is not a number"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(v):
        msg = f"{text!r} is not a finite number"
        raise argparse.ArgumentTypeError(msg)
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sites", help="assemble flagged parcels into contiguous candidate sites (连片) and rank them")
    p.add_argument("--workspace", "-w", default=None, help="workspace .gpkg (required unless --engine dask; with it, "
                   "the --parquet folder must hold this workspace's current survey)")
    p.add_argument("--policy", "-p", default=None,
                   help="policy name whose flags layer to use (default: the only flags layer); "
                        "its [sites] table, if any, gives the site parameters")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="TOML/JSON file with a [sites] table (overrides the policy's)")
    p.add_argument("--gap", type=finite, default=None, metavar="M", help="gap tolerance in metres (default 2)")
    p.add_argument("--min-area", type=finite, default=None, metavar="M2", help="minimum site area in m² (default 10000)")
    p.add_argument("--max-area", type=finite, default=None, metavar="M2",
                   help="maximum site area in m²: larger clusters are split into compact sub-sites (0: no limit)")
    p.add_argument("--max-owners", type=int, default=None, metavar="N",
                   help="maximum number of owners (land-right holders) per site, split like --max-area (0: no limit)")
    p.add_argument("--difficulty-weight", type=finite, default=None, metavar="W",
                   help="weight of assembly difficulty (owners, enterprises, retained parcels) in the score "
                        "(default 0.15; 0 leaves it out)")
    p.add_argument("--no-street-split", action="store_true",
                   help="do not split sites at streets (empty gaps of 6-25 m between flagged parcels, mapped roads)")
    p.add_argument("--no-barriers", action="store_true", help="ignore the workspace's barrier layers")
    p.add_argument("--no-constraints", action="store_true", help="ignore the workspace's constraint layers")
    p.add_argument("--params", default=None, metavar="NAME",
                   help="use the saved site_params document NAME (default: the one saved for the policy, as the "
                        "app saves it, else the policy's [sites])")
    p.add_argument("--save-params", default=None, metavar="NAME",
                   help="also save the site parameters used as the site_params document NAME")
    p.add_argument("--no-edits", action="store_true",
                   help="do not replay the site edits saved for the policy (by default they are, as in the app, "
                        "when they were made with the same site settings)")
    p.add_argument("--apply-edits", default=None, metavar="NAME[@V]",
                   help="replay the saved site_edit document NAME (as saved by the app) on the result")
    p.add_argument("--name", default=None, help="name of the sites layers (default: the policy name)")
    p.add_argument("--out", default=None, metavar="FILE", help="also write sites to FILE (.gpkg, .geojson or .csv)")
    p.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of the printed summary (default: PLANNER_LANG, else zh)")
    from planner.cli.scale import add_engine_args

    add_engine_args(p, what="of classified parcels (from `planner classify --engine dask`); sites go to --out; "
                            "--policy/--config name a file with a [sites] table")
    p.set_defaults(func=run)


#: The suffixes ``--out`` takes.
OUT_SUFFIXES = (".gpkg", ".geojson", ".json", ".csv")


def output_files(path: str | Path) -> list[Path]:
    """The files :func:`write_result` writes for ``path``: a CSV has its parcel table and its record
    (:func:`output_record`) beside it."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return [path, path.with_name(path.stem + "_parcels.csv"), path.with_name(path.stem + ".planner.json")]
    return [path]


#: Where an output keeps what it was built from: GeoPackage layer metadata item, GeoJSON foreign member.
RECORD_KEY = "planner"


def output_record(path: str | Path) -> dict | None:
    """What a ``planner sites --out`` file was built from (None when it records nothing: written before, or by
    another tool): ``{"workspace": {"uri", "label", "survey_version", "published_at", ...}, ...}``, the record
    :func:`planner.io.geoparquet.check_workspace` compares with the workspace's current survey.

    It is the GeoPackage's ``sites`` layer metadata, the GeoJSON's ``"planner"`` member, a CSV's
    ``<stem>.planner.json`` beside it.
    """
    path = Path(path)
    ext = path.suffix.lower()
    try:
        if ext == ".gpkg":
            text = (pyogrio.read_info(path, layer="sites").get("layer_metadata") or {}).get(RECORD_KEY)
            return json.loads(text) if text else None
        if ext in (".geojson", ".json"):
            return json.loads(path.read_text(encoding="utf-8")).get(RECORD_KEY)
        side = output_files(path)[-1]
        rec = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else None
    except (OSError, ValueError) as exc:
        msg = f"{path}: cannot read what it was built from ({exc})"
        raise DataError(msg, zh=f"{path}：无法读取其生成依据（{exc}）") from exc
    return _check_csv_pair(path, rec) if rec is not None else None


def check_out(path: str | Path, workspace=None) -> Path:
    """Refuse, before anything is built or stored, an ``--out`` that cannot or must not be written."""
    return check_output(path, OUT_SUFFIXES, workspace=workspace, also=output_files(path)[1:])


def write_result(result: SiteResult, path: str | Path, record: dict | None = None) -> list[Path]:
    """Write sites (and the parcel-to-site table) to a file chosen by its extension.

    ``record``: what the sites were built from (the workspace and survey version, the folder, the policy), kept
    in the output (:func:`output_record`) so a later command can tell an output of an older survey.
    Each file is written beside its target and renamed over it when complete: a failed or killed write leaves
    the previous files as they were.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in OUT_SUFFIXES:
        msg = f"--out {path}: unknown extension {ext!r}; use .gpkg, .geojson or .csv"
        raise DataError(msg, zh=f"--out {path}：不支持的扩展名 {ext!r}，请用 .gpkg、.geojson 或 .csv")
    sites = result.sites
    files = output_files(path)
    text = json.dumps(record or {}, ensure_ascii=False, default=str)
    if ext == ".gpkg":
        with replacing(path) as tmp:
            pyogrio.write_dataframe(sites, tmp, layer="sites", driver="GPKG", dataset_options=DELIVERY_GPKG,
                                    metadata={RECORD_KEY: text} if record else None)
            pts = gpd.GeoDataFrame(result.parcel_sites, geometry=[None] * len(result.parcel_sites), crs=sites.crs)
            pyogrio.write_dataframe(pts.drop(columns="geometry"), tmp, layer="site_parcels", driver="GPKG",
                                    append=False)
    elif ext in (".geojson", ".json"):
        with replacing(path) as tmp:
            pyogrio.write_dataframe(to_lonlat_valid(sites), tmp, layer=path.stem, driver="GeoJSON",  # not the temporary name
                                    layer_options={"FOREIGN_MEMBERS_COLLECTION": json.dumps({RECORD_KEY: record})}
                                    if record else None)
    else:  # all three written first, then renamed one after the other, the record last (the blocks end inside out)
        with replacing(files[2]) as rec, replacing(files[1]) as side, replacing(files[0]) as tmp:
            write_csv(sites.drop(columns="geometry"), tmp)  # no live formulas in Excel
            write_csv(result.parcel_sites, side)
            # the two tables' checksums: a command killed between the renames leaves a pair the record tells apart
            rec.write_text(json.dumps({**(record or {}), CSV_FILES_KEY: {files[0].name: _sha256(tmp),
                                                                         files[1].name: _sha256(side)}},
                                      ensure_ascii=False, default=str), encoding="utf-8")
    return files


#: The key of a CSV record holding the SHA-256 of the sites table and the parcel table it describes.
CSV_FILES_KEY = "files"


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _check_csv_pair(path: Path, rec: dict) -> dict:
    """``rec`` without its checksums, once the CSV pair beside it is the one it was written with."""
    rec = dict(rec)
    sums = rec.pop(CSV_FILES_KEY, None) or {}
    for p in output_files(path)[:2]:
        want = sums.get(p.name)
        if want is not None and (not p.is_file() or _sha256(p) != want):
            msg = (f"{p}: not the file its record {output_files(path)[-1].name} was written with (changed since, or a "
                   f"command stopped while replacing them); run planner sites --out {path} again")
            raise DataError(msg, zh=f"{p}：与其生成记录 {output_files(path)[-1].name} 不一致（之后被修改，或命令在替换"
                                    f"文件时中断）；请重新运行 planner sites --out {path}")
    return rec


def param_overrides(args: argparse.Namespace) -> dict:
    """The site settings given as options (None: not given), for either engine
    (:func:`planner.workflow.operations.with_site_overrides`)."""
    return {"gap_m": args.gap, "min_area_m2": args.min_area, "max_area_m2": args.max_area,
            "max_owners": args.max_owners, "difficulty_weight": args.difficulty_weight,
            "split_streets": False if args.no_street_split else None,
            "use_barriers": False if args.no_barriers else None,
            "use_constraints": False if args.no_constraints else None}


#: The top sites' columns ``planner sites`` prints.
TOP_COLUMNS = ("rank", "site_id", "n_parcels", "n_owners", "n_enterprises", "n_retained_inside", "difficulty",
               "land_area_mu", "plot_ratio", "compactness", "score")


def summary_lines(result: SiteResult, lang: str = "zh", *, kept: int | None = None, more: str = "",
                  columns=TOP_COLUMNS, top: int = 10) -> list[str]:
    """What ``planner sites`` prints of a build, in ``lang``: how many sites of how many flagged parcels (by status,
    parcels cut out by protected land, ids kept from the previous build; ``more`` after), the score's formula and
    the ``top`` sites ranked, with the reports' labels and numbers (:func:`planner.report.text.fmt`) lined up."""
    from planner.cli._table import aligned
    from planner.report.text import label

    s, ps = result.sites, result.parcel_sites
    st = s["status"]
    n = {"sites": len(s), "flagged": int((ps["role"] == "flagged").sum()), "ok": int((st == "ok").sum()),
         "small": int((st == "too_small").sum()), "large": int((st == "too_large").sum()),
         "excluded": len(result.excluded)}
    if lang == "en":
        first = (f"{n['sites']:,} sites from {n['flagged']:,} flagged parcels ({n['ok']:,} ok, {n['small']:,} too "
                 f"small, {n['large']:,} too large); {n['excluded']:,} parcels excluded by protected land"
                 + (f"; {kept:,} site ids kept from the previous build" if kept is not None else "") + more)
        formula = f"score = {result.params.score_formula().removeprefix('score = ')}"
    else:
        first = (f"{n['flagged']:,} 个三低地块组成 {n['sites']:,} 个片区（符合 {n['ok']:,} 个，面积过小 {n['small']:,} 个，"
                 f"面积过大 {n['large']:,} 个）；{n['excluded']:,} 个地块因位于保护用地内被排除"
                 + (f"；{kept:,} 个片区沿用上次的编号" if kept is not None else "") + more)
        formula = f"综合得分公式：{result.params.score_formula('zh').removeprefix('综合得分 = ')}"
    ok = s[st == "ok"].sort_values("rank").head(top)
    rows = [[fmt(v, c, lang) if c not in ("rank", "site_id") else str(v) for c, v in zip(columns, r, strict=True)]
            for r in ok[list(columns)].itertuples(index=False)]
    return [first, formula, *aligned([label(c, lang) for c in columns], rows, left=2)]


def run(args: argparse.Namespace) -> int:
    if args.out:  # before anything is built or stored: a refused command changes nothing
        check_out(args.out, workspace=args.workspace)
    if args.engine == "dask":
        from planner.cli.scale import run_sites

        return run_sites(args)
    if not args.workspace:
        msg = "give the workspace with --workspace WS (or classified parquet with --engine dask --parquet DIR)"
        raise DataError(msg, zh="请指定工作空间（--workspace），或用 --engine dask --parquet 指定分区数据")
    for kind, value in (("sites", args.name), ("site_params", args.save_params)):
        if value is not None:  # "" is refused, not read as "not given"
            W.check_document_name(kind, value)
    store = open_store(args.workspace)
    policy_name = W.operations.flags_name(store, args.policy)
    overrides = param_overrides(args)
    params = W.operations.resolve_site_params(store, policy_name, params_name=args.params, config_file=args.config,
                                              overrides=overrides)
    edits, edits_ref = None, None
    if args.apply_edits:
        name, ver = W.parse_ref(args.apply_edits, "site_edit")
        edits = W.load_document(store, "site_edit", name, ver)
        edits_ref = f"{name}@{ver or W.latest_version(store, 'site_edit', name)}"
    elif not args.no_edits:
        # the edits planners saved for this policy on the sites page (or the variant the stored sites were built
        # with), replayed as the app replays them
        layer = args.name or policy_name
        built_with = (W.Provenance.from_meta(store.read_layer("sites", layer, columns=["site_id"], geometry=False)
                                             .attrs.get("meta")).edits if store.has_layer("sites", layer) else None)
        ename = W.operations.edits_in_use(store, policy_name, built_with)
        ver = W.latest_version(store, "site_edit", ename)
        saved = W.load_document(store, "site_edit", ename, ver) if ver is not None else None
        who = W.catalogue.saved_by(store, "site_edit", ename, ver, args.lang) if ver is not None else ""
        if saved is not None and saved.made_with(params):
            edits, edits_ref = saved, f"{ename}@{ver}"
            print(t("cli_replaying_edits", args.lang, n=len(saved.ops), ref=edits_ref, who=who))
        elif saved is not None:
            print(t("cli_edits_other_settings", args.lang, ref=f"{ename}@{ver}", who=who), file=sys.stderr)
    bar = tqdm(total=len(STAGES), desc=t("cli_sites_bar", args.lang), unit=t("cli_stage_unit", args.lang),
               leave=False)

    def say(message: str) -> None:
        bar.set_postfix_str(message_in(message, args.lang))
        bar.update(1)

    built = W.build_workspace_sites(store, policy_name=policy_name, params=params, edits=edits, edits_ref=edits_ref,
                                    name=args.name, progress=say)
    bar.close()
    if args.save_params:
        v = W.save_document(store, dataclasses.replace(params, name=args.save_params))
        print(t("cli_site_params_saved", args.lang, name=args.save_params, v=v))
    result, name = built.result, built.name
    s = result.sites
    ok = s[s["status"] == "ok"]
    kept = int((built.id_table["status"] == "kept").sum()) if len(built.id_table) else 0
    print("\n".join(summary_lines(result, args.lang, kept=kept)))
    print(t("cli_sites_stored", args.lang, name=name, ws=store.label, rid=built.provenance.result_id))
    if args.out:
        from planner.io.geoparquet import workspace_record

        v = built.provenance.survey_version  # None: flags stored without a survey version (nothing to record)
        record = {"engine": "workspace", "workspace": workspace_record(store, v) if v is not None else None,
                  "provenance": built.provenance.to_meta()}
        for p in write_result(result, args.out, record):
            print(t("cli_wrote", args.lang, path=p))
    print(json.dumps({"sites": len(s), "ok": len(ok)}))
    return 0
