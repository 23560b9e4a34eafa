"""``planner info``: what a workspace holds (survey versions, layers, documents, audit)."""

from __future__ import annotations

import argparse

import pandas as pd

from planner.io.store import open_store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a workspace's survey versions, layers, saved documents and audit log")
    p.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    p.add_argument("--audit", type=int, default=10, metavar="N", help="show the last N audit rows (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = open_store(args.workspace)
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 40):
        print(f"workspace {args.workspace}  CRS {store.crs.name}")
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
