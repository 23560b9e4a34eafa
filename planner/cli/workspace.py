"""``planner workspace``: create a workspace (``init``), show what one holds (``info``; also ``planner info``), copy one (``copy``),
make an earlier survey or enterprise table version current again (``use``).

A workspace is a GeoPackage file (``ws.gpkg``) or a schema of a PostGIS
database (``postgresql://user@host:5432/db?schema=name``); every command
takes either. ``planner workspace copy SRC DST`` copies a whole workspace
(every version, document, account and audit row) between the two kinds.

``planner workspace init WS --crs EPSG:32618`` creates an empty workspace in
a projected metric CRS through :func:`planner.io.store.create_workspace`
(one function taking a URI, so other backends plug in there).
``--from FILE`` proposes the CRS from the data (their CGCS2000 3-degree
Gauss-Krüger zone in China, their UTM zone elsewhere) and, with ``--crs``,
warns when the data fall outside that CRS's area of use, with the area
error it would cause.

``planner workspace use survey 2 -w WS`` (or ``use enterprise 2``) makes version 2
current again, as the app's data manager switches it, through
:func:`planner.workflow.versions.switch_version` (the ``set_current`` right; one
audit row per layer switched). It says which version was current, which is now
and which stored results are out of date now. A version the workspace does not
have is refused (exit 2) naming those it has; the version already current is
said and changes nothing (exit 0: a script that makes sure a version is current
may run it again).

Flags and sites built on the version switched to earlier are usually still in the
workspace (every build adds a layer version): the command lists them, when and by
whom they were built, and the command that makes them current again instead of a
rebuild: ``planner workspace use survey 1 --with-results -w WS``, which switches
and restores them in one transaction (:func:`planner.workflow.versions.switch_version`
with ``restore=True``; the version already current: it only restores them).
"""

from __future__ import annotations

import argparse
import re
import sys

from planner import workflow as W
from planner.cli import WORKSPACE_HELP, add_lang_option
from planner.errors import IngestError, StoreError, message_in
from planner.i18n import names_in, t, terminal_text, workspace_option
from planner.i18n import workspace_shown as _shown
from planner.io.store import open_store

#: Help text of every ``--workspace`` option.


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a workspace's survey versions, layers, saved documents and audit log "
                                    "(查看工作空间)")
    _info_args(p, positional=False)
    ws = sub.add_parser("workspace", help="create a workspace, show what it holds, copy it, or make an earlier "
                                          "version current again (新建/查看/复制工作空间，切换当前版本)",
                        description="Workspaces: create one (init), show one (info), copy one (copy), make an earlier "
                                    "survey or enterprise table version current again (use).")
    wsub = ws.add_subparsers(dest="workspace_command", metavar="SUBCOMMAND", required=True)
    init = wsub.add_parser(
        "init", help="create an empty workspace in a projected metric CRS (given, or proposed from a data file)",
        description="Create an empty workspace. Give its CRS with --crs, or let --from FILE propose one from the "
        "data: the CGCS2000 3-degree Gauss-Krüger zone of their longitude in China, their UTM zone elsewhere. "
        "CRSs not in metres (degrees, feet) are refused with a metric proposal. Data in any CRS can be loaded "
        "into the workspace afterwards; ingest reprojects them.")
    init.add_argument("workspace", help="workspace to create (.gpkg or postgresql://...?schema=name); an existing "
                      "one is refused")
    init.add_argument("--crs", help="projected metric CRS, e.g. EPSG:4549 (Jinjiang) or EPSG:32618 (UTM 18N)")
    init.add_argument("--from", dest="source", metavar="FILE",
                      help="a data file (survey layer) to propose the CRS from, or to check --crs against")
    init.add_argument("--layer", help="layer of --from (GeoPackage/FileGDB layer, or dataset stem inside a zip)")
    init.add_argument("--file", dest="member", metavar="FILE",
                      help="with --from a zip of several datasets: the one to read (its path in the zip, file name "
                           "or stem); --layer then names its layer, as `planner ingest --file`")
    init.add_argument("--source-crs", metavar="CRS", help="CRS of --from when it has none or a wrong one")
    init.add_argument("--encoding", help="text encoding of --from (shapefile/CSV)")
    init.add_argument("--dry-run", action="store_true", help="say what would be created; create nothing")
    add_lang_option(init)
    init.set_defaults(func=run_init)
    info = wsub.add_parser("info", help="show a workspace's survey versions, layers, saved documents and audit log")
    _info_args(info, positional=True)
    c = wsub.add_parser("copy", help="copy a whole workspace (every version, document and audit row) between "
                        "GeoPackage and PostGIS")
    c.add_argument("source", metavar="SRC", help="workspace to copy (.gpkg or postgresql://...)")
    c.add_argument("destination", metavar="DST", help="new or empty workspace to copy into (.gpkg or postgresql://...)")
    add_lang_option(c)
    c.set_defaults(func=run_copy)
    use = wsub.add_parser(
        "use", help="make an earlier survey or enterprise table version current again (as the app's data manager "
                    "switches it)",
        description="Make a survey version, or an enterprise table version (with its parcel links), the current one "
        "again: every command and page then works on it. Needs the set_current right (PLANNER_ROLE gis_staff or "
        "admin when set); recorded in the audit log (planner info). Says which version was current and which "
        "stored flags, sites and saved scenarios are out of date now, and which flags and sites built on that "
        "version earlier are still stored (--with-results makes them current again instead of a rebuild). Exit "
        "codes: 0 switched (or restored), or the version was current already (nothing changed); 2 refused (no "
        "such version, a role without the right).")
    use.add_argument("kind", choices=("survey", "enterprise"),
                     help="survey: the parcel survey; enterprise: the enterprise table and its links")
    use.add_argument("version", type=_version, metavar="VERSION",
                     help="the version to make current, e.g. 2 or v2 (planner info lists them)")
    use.add_argument("--with-results", action="store_true",
                     help="also make current again the flags and sites built on VERSION earlier (still stored: "
                          "every build adds a version), instead of rebuilding them; sites with their parcel table "
                          "(同时恢复此前基于该版本生成的识别与片区结果，无需重新计算)")
    use.add_argument("--workspace", "-w", required=True, help=WORKSPACE_HELP)
    add_lang_option(use)
    use.set_defaults(func=run_use)


def _version(text: str) -> int:
    """A version as given on the command line: ``2`` or ``v2`` (as messages name it)."""
    digits = text.strip().lower().removeprefix("v")
    if not digits.isdigit() or int(digits) < 1:
        msg = f"not a version: {text!r} (give a number, e.g. 2 or v2)"
        raise argparse.ArgumentTypeError(msg)
    return int(digits)


def _info_args(p: argparse.ArgumentParser, *, positional: bool) -> None:
    if positional:
        p.add_argument("workspace", help=WORKSPACE_HELP)
    else:
        p.add_argument("--workspace", "-w", required=True, help=WORKSPACE_HELP)
    p.add_argument("--audit", type=int, default=10, metavar="N", help="show the last N audit rows (default 10)")
    add_lang_option(p)
    p.set_defaults(func=run)


def run_init(args: argparse.Namespace) -> int:
    from planner.crs import area_of_use_note, crs_label
    from planner.ingest.crs import propose_for_layer
    from planner.io.readers import read_source
    from planner.io.store import refuse_non_metric

    if not args.crs and not args.source:
        msg = "give the workspace CRS with --crs EPSG:xxxx, or a data file with --from FILE to propose one"
        raise StoreError(msg, zh="请用 --crs 指定工作空间坐标系，或用 --from 指定数据文件以推荐坐标系")
    raw = read_source(args.source, layer=args.layer, encoding=args.encoding, member=args.member) if args.source else None
    lang = args.lang
    if args.crs:
        crs, why = args.crs, t("cli_init_given", lang)
    else:
        try:
            prop = propose_for_layer(raw, args.source_crs)
        except IngestError as exc:  # its advice names ingest's --crs: here the data's CRS is --source-crs
            opt = re.compile(r"--crs\b")
            raise IngestError(opt.sub("--source-crs", str(exc)),
                              zh=opt.sub("--source-crs", exc.zh) if exc.zh else None) from None
        for n in prop.notes:
            print(t("ir_note", lang, msg=message_in(n, lang)))
        w, s, e, n_ = prop.lonlat_bounds
        print(t("cli_init_data", lang, dataset=raw.dataset, count=len(raw), w=w, s=s, e=e, n=n_))
        crs, why = prop.crs, message_in(prop.why, lang)
    refuse_non_metric(crs, _shown(args.workspace))
    if raw is not None and args.crs:
        src_crs = args.source_crs or raw.crs
        if src_crs is not None:
            warn = area_of_use_note(raw.geoms, src_crs, crs)
            if warn is not None:
                print(warn[lang != "en"], file=sys.stderr)
    label = crs_label(crs)
    if args.dry_run:
        print(t("cli_init_dry_run", lang, ws=_shown(args.workspace, lang), crs=label, why=why))
        return 0
    store = W.create_workspace(args.workspace, crs)
    print(t("cli_init_created", lang, ws=names_in(store.label, lang), crs=crs_label(store.crs), why=why))
    print(t("cli_init_next", lang, option=workspace_option(args.workspace, lang)))
    return 0


#: The columns ``info`` shows of the layer catalogue, the saved documents and the audit log (headed by
#: ``cli_col_<name>``; a hash by its first 12 characters, as ``planner classify`` names a policy's).
LAYER_COLUMNS = ("kind", "name", "version", "n_rows", "is_current", "created_at", "user", "built_on")
DOC_COLUMNS = ("kind", "name", "version", "created_at", "user", "sha256")
AUDIT_COLUMNS = ("ts", "user", "action", "kind", "name", "version", "n_rows", "source_file")


def info_lines(store, audit: int = 10, lang: str = "zh") -> list[str]:
    """What ``planner info`` prints of ``store`` in ``lang``: its name and CRS, its layer versions, saved documents
    and last ``audit`` audit rows, as tables lined up in a terminal (:func:`planner.cli._table.frame_lines`).
    Kinds, names, versions, users and times are shown as stored."""
    from planner.cli._table import frame_lines
    from planner.workflow.catalogue import layer_catalogue

    def table(df, cols) -> list[str]:
        return frame_lines(df, [c for c in cols if c in df.columns], lang) if len(df) else [t("cli_none", lang)]

    docs = store.docs()
    if "sha256" in docs.columns:
        docs = docs.assign(sha256=docs["sha256"].str[:12])
    log = store.audit_log().tail(audit)
    return [t("cli_ws_head", lang, ws=names_in(store.label, lang), crs=store.crs.name),
            "", t("cli_ws_layers", lang), *table(layer_catalogue(store, lang), LAYER_COLUMNS),
            "", t("cli_ws_docs", lang), *table(docs, DOC_COLUMNS),
            "", t("cli_ws_audit", lang, n=len(log)), *table(log, AUDIT_COLUMNS)]


def run(args: argparse.Namespace) -> int:
    print("\n".join(terminal_text(x) for x in info_lines(open_store(args.workspace), args.audit, args.lang)))
    return 0


def run_copy(args: argparse.Namespace) -> int:
    from planner.io.transfer import copy_workspace

    lang = args.lang
    rep = copy_workspace(args.source, args.destination, progress=lambda msg: print(message_in(msg, lang)))
    print(t("cli_copied", lang, src=names_in(rep.source, lang), dst=names_in(rep.destination, lang),
            layers=rep.n_layers, rows=rep.n_rows, docs=rep.n_docs, audit=rep.n_audit))
    return 0


def use_hint(kind: str, version: int, uri: str) -> tuple[str, str]:
    """The command line's how-to it adds to the library's refusals of a load equal to an earlier version, in
    English and Chinese ("To make vN current again: planner workspace use KIND N -w WS")."""
    return tuple(t("cli_use_instead", lg, v=version, kind=kind, option=workspace_option(uri, lg))
                 for lg in ("en", "zh"))  # type: ignore[return-value]


def use_lines(sw, uri: str, lang: str = "zh") -> list[str]:
    """What ``planner workspace use`` prints of a :class:`~planner.workflow.versions.VersionSwitch` in ``lang``."""
    ws, what = names_in(sw.workspace, lang), t(f"ver_kind_{sw.kind}", lang)
    if sw.changed:
        was = f"v{sw.previous}" if sw.previous is not None else t("cli_use_none", lang)
        out = [t("cli_use_switched", lang, ws=ws, what=what, v=sw.version, was=was)]
    else:
        out = [t("cli_use_already_restored" if sw.restored else "cli_use_already", lang, ws=ws, what=what,
                 v=sw.version)]
    if sw.restored:
        out.append(t("cli_use_restored", lang, what=what, v=sw.version))
        out += [_restorable_line(r, lang) for r in sw.restored]
    sep = "；" if lang == "zh" else "; "
    if sw.stale:
        out.append(t("cli_use_stale", lang))
        out += [t("cli_use_stale_item", lang, what=r.what, why=sep.join(zh if lang == "zh" else en
                                                                        for en, zh in r.reasons)) for r in sw.stale]
        if sw.scenarios:
            out.append(t("cli_use_stale_scenarios", lang, names=("、" if lang == "zh" else ", ").join(sw.scenarios)))
        if sw.restorable:
            out.append(t("cli_use_restorable", lang, what=what, v=sw.version))
            out += [_restorable_line(r, lang) for r in sw.restorable]
            out.append(t("cli_use_restore_how", lang, kind=sw.kind, v=sw.version, option=workspace_option(uri, lang)))
        if {r.what for r in sw.stale} - {r.what for r in sw.restorable}:  # some can only be rebuilt
            out.append(t("cli_use_rebuild", lang, option=workspace_option(uri, lang)))
    if sw.fresh:
        out.append(t("cli_use_fresh", lang, v=sw.version, names=("、" if lang == "zh" else ", ").join(sw.fresh)))
    if not sw.stale and not sw.fresh:
        out.append(t("cli_use_nothing_stored", lang))
    return out


def _restorable_line(r, lang: str) -> str:
    """One result :func:`use_lines` offers or says restored: ``flags/default v1 (built 2025-03-01 10:30 by ada)``."""
    from planner.i18n import local_time

    return t("cli_use_restorable_item", lang, what=r.what, version=r.version, when=local_time(r.created_at),
             user=r.user or "—")


def run_use(args: argparse.Namespace) -> int:
    from planner.workflow.versions import switch_version

    sw = switch_version(open_store(args.workspace), args.kind, args.version, restore=args.with_results)
    print("\n".join(terminal_text(x) for x in use_lines(sw, args.workspace, args.lang)))
    return 0


__all__ = ["register", "run", "run_copy", "run_init", "run_use", "use_hint", "use_lines"]
