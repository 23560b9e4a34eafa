"""``planner enterprise``: load a tax bureau's enterprise table (and its link to parcels) as a new version.

``planner enterprise ingest TABLE.xlsx -w WS [--link LINKS.csv] [--mapping M.toml] [--share floor]``
reads and checks the table (credit codes with their check digit, duplicates,
figures), links the enterprises to the current survey's parcels, reports
every problem (unmatched codes, parcels the survey does not have, enterprises
without parcels) and publishes the table as a new version; from then on the
per-mu indicators and the grade of ``planner classify`` come from it. The
files a version came from (the current one or an earlier one), or a table
that gives its enterprises and links again, are refused (exit code 2),
naming the version (an earlier one is made current again with
``planner workspace use enterprise N -w WS``), unless ``--publish-again``.
``planner enterprise show -w WS`` lists the versions and what the current one joins.
Both print in ``--lang`` (else ``PLANNER_LANG``, else Chinese): the report, the
confirmations, the versions table and the join summary; ``--report``'s CSV too.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from planner.cli import add_lang_option
from planner.cli.ingest import refused_report_text, with_publish_again, with_publish_again_notes
from planner.cli.workspace import _shown, workspace_option
from planner.errors import IngestError
from planner.i18n import t, terminal_text
from planner.io.store import open_store
from planner.io.writers import check_output, write_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enterprise", help="load an enterprise (tax bureau) table and its link to parcels; 导入企业亩均效益数据",
                       description="Enterprise tables: tax, output, energy per enterprise (统一社会信用代码), "
                                   "joined to the parcels they use.")
    esub = p.add_subparsers(dest="enterprise_command", metavar="SUBCOMMAND", required=True)
    ing = esub.add_parser("ingest", help="read, check, link and publish an enterprise table (xlsx/csv)",
                          description="A refused load (exit code 2) leaves the workspace unchanged.")
    ing.add_argument("source", help="enterprise table: .xlsx or .csv (GBK or UTF-8)")
    ing.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    ing.add_argument("--link", metavar="FILE", help="link table (统一社会信用代码 + 宗地代码 per row), .xlsx or .csv")
    ing.add_argument("--mapping", "-m", help="enterprise mapping TOML ([source], [fields], [units], [link], [checks])")
    ing.add_argument("--share", choices=("land", "floor"), help="share an enterprise on several parcels by land "
                                                               "(default) or floor area (overrides [link] share)")
    ing.add_argument("--encoding", help="text encoding of a CSV (default: UTF-8, else GB18030/GBK)")
    ing.add_argument("--label", help="label of the new version, e.g. '2024 亩均效益评价'")
    ing.add_argument("--dry-run", action="store_true", help="check and report only, with any refusal the real run "
                                                           "would make; write nothing")
    ing.add_argument("--publish-again", action="store_true",
                     help="publish as a new version anyway a load that is a version again (the current one or "
                          "an earlier one): its very files (same checksums, same link settings; e.g. read again "
                          "with another mapping) or other files giving the same enterprises and links (refused "
                          "without it, naming the version)")
    ing.add_argument("--report", metavar="OUT", help="write the report to OUT (.csv problems table or .json)")
    add_lang_option(ing, "the printed report, the --report CSV and the refusals; 报告语言")
    ing.set_defaults(func=run_ingest)
    show = esub.add_parser("show", help="the enterprise table versions and what the current one joins")
    show.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    add_lang_option(show, "the versions table and the join summary")
    show.set_defaults(func=run_show)


#: The columns ``show`` lists of the enterprise table versions (headed by ``cli_col_<name>``).
SHOW_COLUMNS = ("version", "created_at", "user", "n_rows", "is_current", "source_file")


def run_ingest(args: argparse.Namespace) -> int:
    from planner.enterprise import as_enterprise_mapping
    from planner.workflow.enterprises import ingest_enterprises

    if args.report:  # before anything is read or published: a report it could not write changes nothing
        check_output(args.report, (".csv", ".json"), workspace=args.workspace, option="--report")
    lang = args.lang
    store = open_store(args.workspace)
    mp = as_enterprise_mapping(args.mapping)
    if args.share:
        mp = dataclasses.replace(mp, link=dataclasses.replace(mp.link, share=args.share))
    try:
        load = ingest_enterprises(args.source, store, mapping=mp, link=args.link, encoding=args.encoding,
                                  dry_run=args.dry_run, label=args.label, publish_again=args.publish_again)
    except IngestError as exc:
        rep = getattr(exc, "report", None)
        if rep is not None:
            print(refused_report_text(rep, exc, lang), file=sys.stderr)
            if args.report:
                write_report(rep, args.report, lang=lang)
        if getattr(exc, "refusal", None) is None:
            raise
        raise with_publish_again(exc, ("enterprise", exc.refusal.switch_to, args.workspace)) from None
    rep = load.report
    with_publish_again_notes(rep, "enterprise", args.workspace)  # the dry run's note of a refusal, with the ways on
    print(rep.to_text(lang=lang))
    if load.version is not None:
        print(t("cli_ent_published", lang, v=load.version, option=workspace_option(args.workspace, lang)))
    if args.report:
        print(t("ir_written", lang, path=write_report(rep, args.report, lang=lang)))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from planner.cli._table import frame_lines
    from planner.workflow.enterprises import analysis_parcels, enterprise_version

    lang = args.lang
    store = open_store(args.workspace)
    cat = store.layers("enterprise")
    if not len(cat):
        print(t("cli_ent_none", lang, ws=_shown(args.workspace, lang)))
        return 0
    # lined up in display columns (Chinese heads and names two a character); file names and users as stored
    print("\n".join(terminal_text(x) for x in frame_lines(cat, [c for c in SHOW_COLUMNS if c in cat.columns], lang)))
    v = enterprise_version(store)
    if v is not None and store.has_layer("survey", "parcels"):
        p = analysis_parcels(store)
        c = p.attrs.get("enterprise_join", {})
        print(t("cli_ent_joined", lang, v=v, e=c.get("enterprises_linked", 0), p=int((p["n_enterprises"] > 0).sum()),
                n=len(p), m=int((p["n_enterprises"] > 1).sum()), none=c.get("enterprises_without_parcel", 0)))
    return 0
