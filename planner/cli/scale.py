"""The Dask engine of ``planner classify``, ``planner sites``, ``planner ingest`` and ``planner sample-data``.

``--engine dask`` runs a command partition by partition on a dask.distributed
cluster over a partitioned survey folder (:mod:`planner.io.geoparquet`): a
new local cluster by default (``--workers N``), or the scheduler given by
``--scheduler tcp://HOST:8786`` (or ``PLANNER_DASK_SCHEDULER``). The dashboard
address is printed, and each stage shows a progress bar fed by the scheduler.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from planner.errors import DataError, message_in
from planner.i18n import t


def workers(text: str) -> int:
    """``--workers`` (argparse ``type``): a whole number of at least 1 (-1 started a cluster of none, and waited)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"{text!r} is not a number of workers (a whole number, 1 or more)"
        raise argparse.ArgumentTypeError(msg)
    return n


def add_engine_args(p: argparse.ArgumentParser, *, what: str) -> None:
    """The ``--engine``, ``--parquet``, ``--scheduler`` and ``--workers`` options of a command."""
    g = p.add_argument_group("province scale (Dask)")
    g.add_argument("--engine", choices=("memory", "dask"), default="memory",
                   help="memory: the workspace in this process (default); dask: a partitioned survey on a Dask cluster")
    g.add_argument("--parquet", metavar="DIR", help=f"with --engine dask: the partitioned survey folder {what}")
    g.add_argument("--scheduler", metavar="ADDRESS", default=os.environ.get("PLANNER_DASK_SCHEDULER"),
                   help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: PLANNER_DASK_SCHEDULER, "
                        "else a new local cluster)")
    g.add_argument("--workers", type=workers, default=None, metavar="N",
                   help="workers of the local cluster (default: the cores, at most 4)")


def _stage(t0: float, lang: str = "en"):
    """A command's stage lines on stderr, after the seconds since ``t0``; a line told as a
    :class:`~planner.errors.Note` (the cluster's and the engine's own) is said in ``lang``."""
    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {message_in(msg, lang)}", file=sys.stderr, flush=True)
    return say


def _seconds(seconds: dict, lang: str) -> str:
    """The time each stage took (``values 1.2 s, grades 0.4 s``), in ``lang``."""
    from planner.i18n import STRINGS

    def stage(k: str) -> str:
        return t(f"cli_dask_stage_{k}", lang) if f"cli_dask_stage_{k}" in STRINGS else k

    return t("cli_dask_sep", lang).join(t("cli_dask_seconds", lang, stage=stage(k), s=v) for k, v in seconds.items())


def _of_survey(info: dict, lang: str = "en") -> str:
    """``survey version N of WS, `` when the folder records its workspace (:func:`planner.io.geoparquet.workspace_record`)."""
    ws = info.get("workspace")
    if not isinstance(ws, dict):
        return ""
    return (f"survey version {ws['survey_version']} of {ws.get('label')}, " if lang == "en" else
            f"{ws.get('label')} 的调查版本 {ws['survey_version']}，")


def _noter(lang: str):
    """What the checks of a survey folder note (:func:`planner.io.geoparquet.check_workspace`), said in ``lang``."""
    def note(msg: str) -> None:
        print(t("cli_dask_note", lang, msg=message_in(msg, lang)), file=sys.stderr, flush=True)
    return note


def _need(args, name: str, hint: str) -> None:
    if not getattr(args, name):
        msg = f"--engine dask needs --{name.replace('_', '-')} ({hint})"
        raise DataError(msg, zh=f"--engine dask 需要 --{name.replace('_', '-')}（{hint}）")


def _client(args, say):
    from planner.scale.cluster import dask_client

    return dask_client(args.scheduler, n_workers=args.workers, say=say)


def run_classify(args: argparse.Namespace) -> int:
    """``planner classify --engine dask --parquet SURVEY --out FLAGS``."""
    from planner.cli.classify import policy_doc
    from planner.io import geoparquet as gpq
    from planner.scale.classify import classify_partitioned

    _need(args, "parquet", "the partitioned survey to classify")
    if args.survey_version is not None or args.wkt:
        msg = ("--engine dask classifies the partitioned survey folder as it is: --survey-version and --wkt need a "
               "workspace (write the version wanted with `planner ingest ... --parquet`)")
        raise DataError(msg, zh="--engine dask 按分区数据文件夹原样识别：--survey-version、--wkt 需要工作空间")
    if not args.out or Path(args.out).suffix.lower() != ".parquet":
        msg = "--engine dask writes a partitioned survey folder: give --out FLAGS.parquet"
        raise DataError(msg, zh="--engine dask 输出分区数据文件夹：请给出 --out 名称.parquet")
    say = _stage(time.perf_counter(), args.lang)
    doc = policy_doc(args.policy)
    policy = doc.policy
    # before a cluster is started or reached: a refused command changes nothing (and waits for nothing)
    info = gpq.check_survey(args.parquet)
    gpq.check_workspace(args.parquet, info, args.workspace, note=_noter(args.lang))
    gpq.check_target(args.out, overwrite=args.force, reads=(args.parquet,))
    with _client(args, say) as client:
        say(t("cli_dask_classifying", args.lang, path=args.parquet, policy=policy.name))
        run = classify_partitioned(args.parquet, policy, args.out, client=client, say=say, overwrite=args.force,
                                   lang=args.lang)
    from planner.cli.classify import summary_lines

    head = {"policy": policy.name, "hash": doc.hash, "parcels": run.n_parcels, "survey": _of_survey(info, args.lang),
            "engine": "dask"}
    print("\n".join(summary_lines(head, run.summary, args.lang)))
    say(t("cli_dask_wrote", args.lang, out=run.out, secs=_seconds(run.seconds, args.lang)))
    return 0


def site_params(args):
    """Site parameters for a build with no workspace: ``--config``'s or the policy file's ``[sites]``, then flags."""
    from planner import config
    from planner import workflow as W
    from planner.cli.sites import param_overrides
    from planner.sites import SiteParams

    doc = W.SiteParamsDoc(name="sites")
    if args.config:
        data = config.load_file(args.config)
        doc = dataclasses.replace(doc, params=SiteParams.from_dict(dict(data.get("sites", {})),
                                                                   where=f"{args.config} [sites]"))
    elif args.policy:
        doc = dataclasses.replace(doc, params=W.PolicyDoc.from_file(args.policy).site_params())
    # the options as the workspace engine takes them (--max-owners, --difficulty-weight and --no-street-split were
    # ignored here)
    return W.operations.with_site_overrides(doc, param_overrides(args))


def run_sites(args: argparse.Namespace) -> int:
    """``planner sites --engine dask --parquet FLAGS [--out FILE]``."""
    from planner.cli.sites import write_result
    from planner.io import geoparquet as gpq
    from planner.scale.sites import build_sites_partitioned

    _need(args, "parquet", "the classified partitioned survey, from `planner classify --engine dask`")
    if args.apply_edits or args.params or args.save_params:
        msg = "--engine dask builds sites only: --params, --save-params and --apply-edits need a workspace"
        raise DataError(msg, zh="--engine dask 只生成连片地块；--params、--save-params、--apply-edits 需要工作空间")
    say = _stage(time.perf_counter(), args.lang)
    doc = site_params(args)
    info = gpq.check_survey(args.parquet, need=("parcel_id", "three_low", "input_row"),
                            hint="classify them with `planner classify --engine dask`",
                            hint_zh="请先运行 planner classify --engine dask")
    gpq.check_workspace(args.parquet, info, args.workspace, note=_noter(args.lang))
    bar = gpq.read_layer(args.parquet, "barriers") if doc.use_barriers else None
    con = gpq.read_layer(args.parquet, "constraints") if doc.use_constraints else None
    # the folder checked (its workspace's version), its layers and its partitions are one survey, or nothing is written
    with gpq.unchanged_while_read(args.parquet, info), _client(args, say) as client:
        say(t("cli_dask_assembling", args.lang, path=args.parquet))
        run = build_sites_partitioned(args.parquet, doc.params, client=client, barriers=bar, constraints=con,
                                      say=say, lang=args.lang)
    result = run.result
    pol = info.get("policy") or {}
    if pol:  # what the flags are: a rerun killed before its replace left the previous classification
        when = str(info.get("written", "")).split(" ")[0]
        print(f"flags of {args.parquet}: policy {pol.get('name')!r} (hash {str(pol.get('hash'))[:12]}), "
              f"{_of_survey(info)}classified {when or 'at an unknown time'}" if args.lang == "en" else
              f"{args.parquet} 的识别结果：识别规则「{pol.get('name')}」（哈希 {str(pol.get('hash'))[:12]}），"
              f"{_of_survey(info, 'zh')}{when + ' 识别' if when else '识别时间未知'}")
    from planner.cli.sites import summary_lines

    more = (f"; engine dask, {run.n_groups:,} groups, {run.n_cross_pairs:,} pairs across partitions" if args.lang == "en"
            else f"；Dask 引擎，{run.n_groups:,} 组，跨分区地块对 {run.n_cross_pairs:,} 对")
    print("\n".join(summary_lines(result, args.lang, more=more, columns=(
        "rank", "site_id", "n_parcels", "n_owners", "land_area_mu", "plot_ratio", "compactness", "score"))))
    if args.out:  # what they were built from, as the folder records it: a later command can tell a stale output
        record = {"engine": "dask", "parquet": str(args.parquet), "workspace": info.get("workspace"),
                  "policy": info.get("policy"), "classified_from": info.get("classified_from"),
                  "site_params": result.params.to_dict()}
        for p in write_result(result, args.out, record):
            print(t("cli_wrote", args.lang, path=p))
    say(_seconds(run.seconds, args.lang))
    return 0


def check_parquet(args) -> None:
    """``planner ingest --parquet DIR``: refuse DIR before the survey is read or published (exit 2, nothing changed)."""
    from planner.io import geoparquet as gpq

    gpq.check_target(args.parquet, overwrite=args.force, option="--parquet", suffix=False)


def write_ingested(args, store=None) -> None:
    """``planner ingest --parquet DIR``: the published survey (or, with no workspace, the checked file) as parquet."""
    from planner.io import geoparquet as gpq

    say = _stage(time.perf_counter(), args.lang)
    workspace = None
    if store is not None:
        # the version read is the version recorded (a publish by someone else meanwhile is not mislabelled)
        workspace = gpq.workspace_record(store)
        parcels = store.read_parcels(workspace["survey_version"])
        bar, con = store.read_all_layers("barrier"), store.read_all_layers("constraint")
    else:
        from planner import ingest as ingest_mod

        parcels, rep = ingest_mod.read_survey(args.source, mapping=args.mapping, layer=args.layer, crs=args.crs,
                                              encoding=args.encoding, member=args.member)
        print(rep.to_text(lang=args.lang))
        bar = con = None
    info = gpq.write_partitioned_survey(parcels, args.parquet, npartitions=args.partitions, barriers=bar,
                                        constraints=con, overwrite=args.force, workspace=workspace,
                                        source=str(args.source or f"{store.label} survey version "
                                                                  f"{workspace['survey_version']}"))
    of = t("cli_parquet_of", args.lang, v=workspace["survey_version"], ws=store.label) if workspace else ""
    say(t("cli_parquet_written", args.lang, path=args.parquet, n=info["n_parcels"], k=info["npartitions"], of=of))


def write_province(args) -> int:
    """``planner sample-data --province --parcels N --out DIR.parquet``."""
    from planner.sample.province import write_province as _write

    say = _stage(time.perf_counter(), args.lang)
    from tqdm import tqdm

    from planner.io import geoparquet as gpq

    gpq.check_target(args.out, overwrite=args.force, suffix=False)  # before the cluster starts
    n_cities = -(-args.parcels // args.parcels_per_city)
    lang = args.lang
    with _client(args, say) as client, tqdm(total=n_cities, desc=t("cli_sample_cities", lang), unit=t("cli_city_unit", lang)) as pb:
        info = _write(args.out, args.parcels, client=client, parcels_per_city=args.parcels_per_city, seed=args.seed,
                      overwrite=args.force, progress=lambda _f: pb.update(1))
    say(t("cli_sample_province", lang, n=info["n_parcels"], cities=info["npartitions"], out=args.out))
    return 0
