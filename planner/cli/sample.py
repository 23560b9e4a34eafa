"""``planner sample-data``: generate the synthetic Jinjiang sample city as a workspace."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from planner.cli import add_lang_option
from planner.errors import DataError
from planner.i18n import t
from planner.io.writers import check_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample-data",
        help="generate a realistic synthetic industrial district of Jinjiang as a workspace (生成样例数据)",
        description="Generate a seeded sample city (parcels, roads, river, railway, ecological buffer, "
        "farmland) inside the real Jinjiang boundary and write it as a GeoPackage workspace.",
    )
    p.add_argument("--parcels", type=int, default=20_000, metavar="N", help="number of parcels (default 20000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--out", required=True, help="workspace .gpkg to create")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--survey-update", metavar="ZIP", help="also write a partial survey update (zipped GBK shapefile)")
    p.add_argument("--update-seed", type=int, default=2025, help="seed of the survey update (default 2025)")
    p.add_argument("--enterprises", metavar="XLSX", help="also write the tax bureau's enterprise table (xlsx)")
    p.add_argument("--enterprise-links", metavar="CSV", help="with --enterprises: where the link table (GBK csv) goes "
                                                            "(default: enterprise_parcels.csv beside the xlsx)")
    p.add_argument("--province", action="store_true",
                   help="write a province of sample cities (one per --parcels-per-city) as a partitioned survey "
                        "folder --out DIR.parquet, built in parallel on a Dask cluster")
    p.add_argument("--parcels-per-city", type=int, default=100_000, metavar="N",
                   help="with --province: parcels per city and partition (default 100000)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=os.environ.get("PLANNER_DASK_SCHEDULER"),
                   help="with --province: Dask scheduler address (default: PLANNER_DASK_SCHEDULER, else a new local "
                        "cluster)")
    from planner.cli.scale import workers

    p.add_argument("--workers", type=workers, default=None, metavar="N", help="with --province: local Dask workers")
    add_lang_option(p, "what it prints (its progress and what it wrote)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from planner.sample import build_city, write_survey_update, write_workspace

    if args.province:
        from planner.cli.scale import write_province

        return write_province(args)

    out = Path(args.out)
    if out.exists() and not out.is_dir() and not args.force:  # before the city is built (a minute at 1M parcels)
        msg = f"{out} exists; choose another --out or pass --force to replace it"
        raise DataError(msg, zh=f"{out} 已存在：请换一个 --out，或加 --force 替换它")
    check_output(out, (".gpkg",), new_workspace=True)  # a folder, a missing or read-only folder
    lang = args.lang
    t0 = time.perf_counter()
    city = build_city(args.parcels, args.seed, progress=True, lang=lang)
    t1 = time.perf_counter()
    write_workspace(city, args.out, overwrite=args.force, progress=True, lang=lang)
    t2 = time.perf_counter()
    where = t("cli_sample_inside" if city.inside_boundary else "cli_sample_beyond", lang)
    print(t("cli_sample_written", lang, n=len(city.parcels), km2=city.info["study_area_km2"], where=where,
            built=t1 - t0, written=t2 - t1, out=args.out), file=sys.stderr)
    if args.survey_update:
        s = write_survey_update(city, args.survey_update, seed=args.update_seed)
        print(t("cli_sample_update", lang, path=args.survey_update, rows=s["n_rows"], replaced=s["n_replaced"],
                changed=s["n_changed"], new=s["n_new"], merged=s["n_merged"]), file=sys.stderr)
    if args.enterprises:
        from planner.sample.enterprises import write_enterprise_tables

        links = args.enterprise_links or str(Path(args.enterprises).with_name("enterprise_parcels.csv"))
        e = write_enterprise_tables(city.parcels, args.enterprises, links)
        print(t("cli_sample_enterprises", lang, path=args.enterprises, rows=e["enterprises"], links=links,
                n_links=e["links"], multi=e["multi_tenant_parcels"]), file=sys.stderr)
    return 0
