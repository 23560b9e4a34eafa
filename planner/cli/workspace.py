"""``planner workspace``: create a workspace (``init``), show what one holds (``info``; also ``planner info``), copy one (``copy``).

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
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import pandas as pd

from planner import workflow as W
from planner.cli import WORKSPACE_HELP
from planner.errors import IngestError, StoreError
from planner.io.store import open_store

#: Help text of every ``--workspace`` option.


def _shown(uri: str) -> str:
    """A workspace as messages show it: a PostGIS one as ``database/schema`` (README, "The URI"), a file as given."""
    if str(uri).startswith(("postgresql://", "postgres://")):
        from planner.io._pgconn import shown_name

        return shown_name(uri)
    return str(uri)


def workspace_option(uri: str) -> str:
    """``-w WORKSPACE`` for a command a message proposes: a file as given; a PostGIS URI never written out.

    The URI may hold a password, and README promises messages name it ``database/schema`` only: the
    proposal takes it from ``$PLANNER_WORKSPACE`` when that is the one, else says which one to give.
    """
    if not str(uri).startswith(("postgresql://", "postgres://")):
        return f"-w {uri}"
    if os.environ.get("PLANNER_WORKSPACE", "").strip() == str(uri).strip():
        return '-w "$PLANNER_WORKSPACE"'
    return f"-w URI (the postgresql:// address of {_shown(uri)})"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a workspace's survey versions, layers, saved documents and audit log "
                                    "(查看工作空间)")
    _info_args(p, positional=False)
    ws = sub.add_parser("workspace", help="create a workspace or show what it holds (新建/查看工作空间)",
                        description="Workspaces: create one (init) or show one (info).")
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
    init.set_defaults(func=run_init)
    info = wsub.add_parser("info", help="show a workspace's survey versions, layers, saved documents and audit log")
    _info_args(info, positional=True)
    c = wsub.add_parser("copy", help="copy a whole workspace (every version, document and audit row) between "
                        "GeoPackage and PostGIS")
    c.add_argument("source", metavar="SRC", help="workspace to copy (.gpkg or postgresql://...)")
    c.add_argument("destination", metavar="DST", help="new or empty workspace to copy into (.gpkg or postgresql://...)")
    c.set_defaults(func=run_copy)


def _info_args(p: argparse.ArgumentParser, *, positional: bool) -> None:
    if positional:
        p.add_argument("workspace", help=WORKSPACE_HELP)
    else:
        p.add_argument("--workspace", "-w", required=True, help=WORKSPACE_HELP)
    p.add_argument("--audit", type=int, default=10, metavar="N", help="show the last N audit rows (default 10)")
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
    if args.crs:
        crs, why = args.crs, "given with --crs"
    else:
        try:
            prop = propose_for_layer(raw, args.source_crs)
        except IngestError as exc:  # its advice names ingest's --crs: here the data's CRS is --source-crs
            opt = re.compile(r"--crs\b")
            raise IngestError(opt.sub("--source-crs", str(exc)),
                              zh=opt.sub("--source-crs", exc.zh) if exc.zh else None) from None
        for n in prop.notes:
            print(f"note: {n}")
        w, s, e, n_ = prop.lonlat_bounds
        print(f"data: {raw.dataset}, {len(raw):,} features, lon {w:.3f}..{e:.3f}, lat {s:.3f}..{n_:.3f}")
        crs, why = prop.crs, prop.why
    refuse_non_metric(crs, _shown(args.workspace))
    if raw is not None and args.crs:
        src_crs = args.source_crs or raw.crs
        if src_crs is not None:
            warn = area_of_use_note(raw.geoms, src_crs, crs)
            if warn is not None:
                print(warn[0], file=sys.stderr)
    label = crs_label(crs)
    if args.dry_run:
        print(f"would create workspace {_shown(args.workspace)} in {label} ({why}); dry run: nothing was created")
        return 0
    store = W.create_workspace(args.workspace, crs)
    print(f"created workspace {store.label} in {crs_label(store.crs)} ({why})")
    print(f"next: planner ingest SURVEY {workspace_option(args.workspace)}")
    return 0


def run(args: argparse.Namespace) -> int:
    store = open_store(args.workspace)
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 40):
        print(f"workspace {store.label}  CRS {store.crs.name}")
        cat = store.layers()
        print("\nlayers:")
        print(cat[["kind", "name", "version", "n_rows", "is_current", "created_at", "user"]].to_string(index=False)
              if len(cat) else "  (none)")
        docs = store.docs()
        print("\nsaved documents:")
        print(docs.to_string(index=False) if len(docs) else "  (none)")
        log = store.audit_log().tail(args.audit)
        print(f"\naudit (last {len(log)}):")
        print(log[["ts", "user", "action", "kind", "name", "version", "n_rows", "source_file"]].to_string(index=False)
              if len(log) else "  (none)")
    return 0


def run_copy(args: argparse.Namespace) -> int:
    from planner.io.transfer import copy_workspace

    rep = copy_workspace(args.source, args.destination, progress=print)
    print(f"copied {rep.source} -> {rep.destination}: {rep.n_layers} layer versions ({rep.n_rows} rows), "
          f"{rep.n_docs} document versions, {rep.n_audit} audit rows")
    return 0


__all__ = ["register", "run", "run_copy", "run_init"]
