"""``planner brief``: printable one-page briefs of sites (一地一策) as a PDF.

``planner brief S0001 S0007 -w WS --out briefs.pdf`` writes one A4 page per
site: a map with scale bar, north arrow and legend; parcels, owners and
enterprises; floor area now and planned; why the site was flagged; its
constraints and retained parcels. ``--top N`` adds the N best-ranked sites;
``--scenario NAME`` takes the planned floor area from a saved scenario's park
template and rules (default: the standard factory template); a named site the
scenario does not select gets what its template would give, and its page says
so. It reads the stored sites through the workflow layer
(:mod:`planner.workflow.briefs`).
"""

from __future__ import annotations

import argparse
import sys

from planner.errors import DataError
from planner.io.store import open_store
from planner.io.writers import check_output, replacing


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("brief", help="one-page PDF briefs of sites (一地一策)")
    p.add_argument("sites", nargs="*", metavar="SITE_ID", help="site ids, e.g. S0001 (and/or --top N)")
    p.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    p.add_argument("--top", type=int, default=None, metavar="N", help="add the N best-ranked sites")
    p.add_argument("--scenario", default=None, metavar="NAME",
                   help="scenario file or saved NAME[@VERSION] whose template gives the planned floor area")
    p.add_argument("--sites-layer", default=None, metavar="NAME", help="stored sites result (default: the current)")
    p.add_argument("--out", required=True, metavar="FILE", help="briefs.pdf")
    p.add_argument("--lang", choices=("zh", "en"), default=None, help="language (default: PLANNER_LANG, else zh)")
    p.set_defaults(func=brief_cmd)


def brief_cmd(args: argparse.Namespace) -> int:
    from planner.cli.scenario import print_warnings, resolve_scenario
    from planner.report.pdf import site_briefs_pdf
    from planner.workflow.briefs import stored_site_briefs

    out = check_output(args.out, (".pdf",), workspace=args.workspace)  # before any work, as every --out
    if not args.sites and not args.top:
        msg = "planner brief: name site ids (e.g. S0001) or --top N"
        raise DataError(msg, zh="请指定片区编号（如 S0001）或 --top N")
    if args.top is not None and args.top < 1:
        msg = "--top must be at least 1"
        raise DataError(msg, zh="--top 至少为 1")
    store = open_store(args.workspace)
    doc = resolve_scenario(args.scenario, store) if args.scenario else None
    briefs = stored_site_briefs(store, args.sites, top=args.top, scenario=doc, sites_layer=args.sites_layer)
    print_warnings(list(briefs[0].warnings) if briefs else [], args.lang)  # the stored sites out of date, and why
    data = site_briefs_pdf(briefs, lang=args.lang)
    with replacing(out) as tmp:  # the previous file stays whole until the new one is
        tmp.write_bytes(data)
    for b in briefs:
        f = b.figures
        n = len(b.parcels)
        note = "" if b.in_scenario else f" (not selected by scenario {b.scenario!r}: what its template would give)"
        print(f"{b.site_id}: {n} parcel{'' if n == 1 else 's'}, {int(b.parcels['kept'].sum())} kept, net new floor "
              f"area {float(f['net_change_m2']):,.0f} m²{note}", file=sys.stdout)
    print(f"wrote {len(briefs)} brief page(s): {out}")
    return 0
