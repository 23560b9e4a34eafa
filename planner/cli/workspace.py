"""``planner info`` (what a workspace holds) and ``planner workspace init|copy`` (make one, move one).

A workspace is a GeoPackage file (``ws.gpkg``) or a schema of a PostGIS
database (``postgresql://user@host:5432/db?schema=name``); every command
takes either, through :func:`planner.io.store.open_store`.
"""

from __future__ import annotations

import argparse

import pandas as pd

from planner.errors import StoreError
from planner.io.store import open_store

#: Help text of every ``--workspace`` option.
WORKSPACE_HELP = "workspace: a .gpkg file or postgresql://user@host:port/db?schema=name (default: $PLANNER_WORKSPACE)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a workspace's survey versions, layers, saved documents and audit log")
    p.add_argument("--workspace", "-w", required=True, help=WORKSPACE_HELP)
    p.add_argument("--audit", type=int, default=10, metavar="N", help="show the last N audit rows (default 10)")
    p.set_defaults(func=run)

    w = sub.add_parser("workspace", help="create a workspace, or copy one between GeoPackage and PostGIS")
    wsub = w.add_subparsers(dest="workspace_command", metavar="ACTION", required=True)
    i = wsub.add_parser("init", help="create an empty workspace (GeoPackage file or PostGIS schema)")
    i.add_argument("destination", metavar="WORKSPACE", help="new .gpkg file or postgresql://...?schema=name")
    i.add_argument("--crs", required=True, help="projected metric CRS of the workspace, e.g. EPSG:4549")
    i.set_defaults(func=run_init)
    c = wsub.add_parser("copy", help="copy a whole workspace (every version, document and audit row)")
    c.add_argument("source", metavar="SRC", help="workspace to copy (.gpkg or postgresql://...)")
    c.add_argument("destination", metavar="DST", help="new or empty workspace to copy into (.gpkg or postgresql://...)")
    c.set_defaults(func=run_copy)


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


def run_init(args: argparse.Namespace) -> int:
    from planner.io.transfer import _exists

    if _exists(args.destination):
        try:
            store = open_store(args.destination)
        except StoreError:
            store = None
        if store is not None:
            msg = f"workspace {store.label} already exists (CRS {store.crs.name}); nothing was changed"
            raise StoreError(msg, zh=f"工作空间 {store.label} 已存在（坐标系 {store.crs.name}），未做任何修改")
        if not str(args.destination).startswith(("postgresql://", "postgres://")):
            msg = f"{args.destination} exists and is not a planner workspace; choose a new file name"
            raise StoreError(msg, zh=f"{args.destination} 已存在且不是 planner 工作空间，请换一个文件名")
    store = open_store(args.destination, create=True, crs=args.crs)
    print(f"created workspace {store.label} (CRS {store.crs.name})")
    return 0


def run_copy(args: argparse.Namespace) -> int:
    from planner.io.transfer import copy_workspace

    rep = copy_workspace(args.source, args.destination, progress=print)
    print(f"copied {rep.source} -> {rep.destination}: {rep.n_layers} layer versions ({rep.n_rows} rows), "
          f"{rep.n_docs} document versions, {rep.n_audit} audit rows")
    return 0
