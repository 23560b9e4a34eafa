"""``planner ingest``: load a survey file into a workspace as a new survey version."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from planner.errors import IngestError
from planner.i18n import t
from planner.io.store import open_store
from planner.io.writers import check_output, write_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="load a survey layer (zip/shp/gpkg/geojson/fgb/gdb/csv) as a new survey version; 导入调查数据",
        description="Read, map, check and publish a parcel survey layer. A refused load (exit code 2) "
        "leaves the workspace unchanged.",
    )
    p.add_argument("source", nargs="?", help="survey file: .zip, .shp, .gpkg, .geojson, .fgb, .gdb or .csv with "
                                             "WKT (none with -w WS --parquet DIR: DIR gets the workspace's current "
                                             "survey, nothing is published)")
    p.add_argument("--workspace", "-w", help="workspace .gpkg (not needed with --dry-run: the data are then checked "
                                              "in the CRS `planner workspace init --from` would propose)")
    p.add_argument("--mapping", "-m", help="field mapping TOML (fields, units, currency, land-use scheme, checks)")
    p.add_argument("--layer", help="layer of a GeoPackage/FileGDB, or dataset stem inside a zip, or a layer of a "
                                   "GeoPackage inside a zip (a refusal lists them all: file, layer, geometry, rows)")
    p.add_argument("--file", dest="member", metavar="FILE",
                   help="with a zip of several datasets: the one to read (its path in the zip, file name or stem); "
                        "--layer then names its layer (two GeoPackages of the zip may hold a layer of one name)")
    p.add_argument("--crs", help="CRS of the file when it has none or a wrong one (e.g. EPSG:4549), or gcj02")
    p.add_argument("--encoding", help="text encoding of a shapefile/CSV (default: .cpg, then UTF-8, then GB18030)")
    p.add_argument("--survey-name", help="label of the new survey version, e.g. '2025 annual survey'")
    p.add_argument("--mode", choices=("auto", "replace", "update"), default="auto",
                   help="replace the parcel layer, or update: merge a partial survey (default auto: replace only "
                        "when no row was rejected and the file covers at least half of the current parcels' land)")
    p.add_argument("--lock-timeout", type=float, default=None, metavar="SECONDS",
                   help="give up when another writer holds the workspace longer than this "
                        "(default: PLANNER_LOCK_TIMEOUT or 300)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate and report only, with the diff against the current survey that publishing would "
                        "store (as the app's data manager shows it) and any refusal the real run would make; "
                        "write nothing")
    p.add_argument("--publish-again", action="store_true",
                   help="publish a file already published (same checksum), one that changes nothing against "
                        "the current survey, or one whose parcels are those of an earlier version, as a new version "
                        "anyway, e.g. read again with another mapping, units, CRS, encoding or layer (refused "
                        "without it, naming the version, when and by whom)")
    p.add_argument("--report", metavar="OUT", help="write the report to OUT (.csv problems table or .json)")
    p.add_argument("--parquet", metavar="DIR",
                   help="also write the survey as spatially partitioned GeoParquet (Hilbert partitions) to DIR, "
                        "for `--engine dask`; with no --workspace, only there")
    p.add_argument("--partitions", type=int, default=None, metavar="N",
                   help="with --parquet: number of partitions (default: one per 200,000 parcels)")
    p.add_argument("--force", action="store_true", help="with --parquet: replace DIR")
    p.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of the printed report, the --report CSV and the refusals "
                        "(default: PLANNER_LANG, else zh); 报告语言")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.source is None:
        return _refresh(args)
    if args.report:  # before anything is read or published: a report it could not write changes nothing
        check_output(args.report, (".csv", ".json"), workspace=args.workspace, option="--report")
    if args.parquet and not args.dry_run:
        from planner.cli.scale import check_parquet, write_ingested

        check_parquet(args)  # before the workspace is changed: a refused command changes nothing
        if args.workspace is None:  # the partitioned survey instead of a workspace layer
            write_ingested(args)
            return 0
        code = _run(args)
        write_ingested(args, open_store(args.workspace))
        return code
    return _run(args)


def _refresh(args: argparse.Namespace) -> int:
    """``planner ingest -w WS --parquet DIR``: write the workspace's current survey to DIR; publish nothing."""
    if not (args.workspace and args.parquet):
        msg = ("give the survey file to load (or, to write a workspace's current survey as a partitioned survey "
               "without loading anything: -w WS --parquet DIR)")
        raise IngestError(msg, zh="请给出要导入的调查数据文件（或用 -w 工作空间 --parquet 文件夹 写出当前调查版本，不导入新数据）")
    given = [f"--{k.replace('_', '-')}" for k in ("mapping", "layer", "crs", "encoding", "survey_name", "report",
                                                  "publish_again") if getattr(args, k)] + \
            (["--file"] if args.member else []) + (["--dry-run"] if args.dry_run else []) + \
            ([f"--mode {args.mode}"] if args.mode != "auto" else [])
    if given:
        msg = (f"{', '.join(given)}: these read or publish a survey file; with no file, -w WS --parquet DIR only "
               "writes the workspace's current survey to DIR")
        raise IngestError(msg, zh=f"{', '.join(given)} 用于读取或发布调查数据文件；不给文件时只把工作空间的当前调查版本写到 --parquet 文件夹")
    from planner.cli.scale import check_parquet, write_ingested

    check_parquet(args)
    write_ingested(args, open_store(args.workspace, lock_timeout=args.lock_timeout))
    return 0


def _run(args: argparse.Namespace) -> int:
    from planner.workflow.operations import check_survey, ingest_survey

    if args.workspace is None or (args.dry_run and not Path(args.workspace).exists()
                                  and "://" not in str(args.workspace)):
        if not args.dry_run:
            msg = "give the workspace with --workspace WS (create one with `planner workspace init`), or use --dry-run"
            raise IngestError(msg, zh="请指定工作空间（--workspace），或使用 --dry-run 仅检查数据")
        return _report(args, lambda: check_survey(args.source, mapping=args.mapping, layer=args.layer, crs=args.crs,
                                                  encoding=args.encoding, member=args.member))
    store = open_store(args.workspace, lock_timeout=args.lock_timeout)
    return _report(args, lambda: ingest_survey(args.source, store, mapping=args.mapping, layer=args.layer,
                                               crs=args.crs, encoding=args.encoding, survey_name=args.survey_name,
                                               dry_run=args.dry_run, mode=args.mode,
                                               publish_again=args.publish_again, member=args.member))


def with_hints(exc: IngestError, hints) -> IngestError:
    """A library's refusal (words of no face) with the command line's how-tos ``hints`` (``(en, zh)`` each) added;
    the report goes with it."""
    out = IngestError(" ".join([str(exc), *(en for en, _ in hints)]),
                      zh="".join([exc.zh or str(exc), *(zh for _, zh in hints)]))
    out.report = getattr(exc, "report", None)  # type: ignore[attr-defined]
    return out


def with_publish_again(exc: IngestError, use: tuple[str, int | None, str | None] | None = None) -> IngestError:
    """A refusal of a load that would publish nothing new (``exc.unchanged``, an enterprise table's
    ``exc.refusal``), with the command line's way to publish it anyway; the report goes with it.

    ``use``: ``(kind, version, workspace)`` when the load equals an earlier ``version``: the command that makes it
    current again is said first (:func:`planner.cli.workspace.use_hint`)."""
    return with_hints(exc, [*_use_hints(use), (t("ir_unchanged_again", "en"), t("ir_unchanged_again", "zh"))])


def with_same_file_hints(exc: IngestError, workspace: str | None) -> IngestError:
    """A survey file published before (:func:`planner.ingest.same_file_refusal`), with the command line's ways on:
    ``planner workspace use survey N`` when it is an earlier version (``exc.earlier``), and ``--publish-again``."""
    return with_hints(exc, [*_use_hints(("survey", getattr(exc, "earlier", None), workspace)),
                            (t("ir_same_file_again", "en"), t("ir_same_file_again", "zh"))])


def _use_hints(use) -> list[tuple[str, str]]:
    if use is None or use[1] is None or not use[2]:
        return []
    from planner.cli.workspace import use_hint

    return [use_hint(*use)]


def with_publish_again_notes(rep, kind: str = "survey", workspace: str | None = None) -> None:
    """A dry run's notes that the real run refuses (:meth:`~planner.ingest.report.IngestReport.add_refusal_note`),
    with the command line's ways on (:func:`with_publish_again`; for a note naming an earlier version of ``kind``,
    the command that makes it current again in ``workspace``), in ``rep``'s warnings."""
    earlier = list(getattr(rep, "would_switch", None) or [None] * len(rep.would_refuse))
    for en, zh, v in zip(rep.would_refuse, rep.would_refuse_zh, earlier, strict=True):
        note = IngestError(t("ir_same_file_note", "en", msg=en), zh=t("ir_same_file_note", "zh", msg=zh))
        again = with_publish_again(note, (kind, v, workspace))
        rep.warnings = [str(again) if w == str(note) else w for w in rep.warnings]
        rep.warnings_zh = [again.zh if w == note.zh else w for w in rep.warnings_zh]


def refused_report_text(rep, exc: BaseException, lang: str) -> str:
    """The report of a refused load, its last line pointing to the error printed below it when that says the
    refusal already (not said twice)."""
    text = rep.to_text(lang=lang)
    if rep.refused and rep.refusal and rep.refusal in str(exc):
        head = text.rpartition("\n")[0]
        text = (head or text) + "\n" + t("ir_refused_below", lang)
    return text


def _report(args: argparse.Namespace, load) -> int:
    """Run a load; print its report (to stderr when refused) and write it with --report."""
    try:
        rep = load()
    except IngestError as exc:
        rep = getattr(exc, "report", None)
        if rep is not None:
            print(refused_report_text(rep, exc, args.lang), file=sys.stderr)
            if args.report:
                write_report(rep, args.report, lang=args.lang)
        if getattr(exc, "unchanged", False):  # an earlier version's parcels again: the command to switch to it, too
            raise with_publish_again(exc, ("survey", getattr(exc, "earlier", None), args.workspace)) from None
        if getattr(exc, "same_file", None) is not None:
            raise with_same_file_hints(exc, args.workspace) from None
        raise
    with_publish_again_notes(rep, "survey", args.workspace)
    print(rep.to_text(lang=args.lang))
    if args.report:
        print(t("ir_written", args.lang, path=write_report(rep, args.report, lang=args.lang)))
    return 0
