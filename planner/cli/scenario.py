"""``planner scenario``: run, compare and list redevelopment scenarios (情景模拟与对比).

``planner scenario run SCENARIO -w WS [--out DIR]`` evaluates a scenario (a
TOML/JSON file, or the name of a scenario saved in the workspace) on the
workspace's sites, prints its totals, saves the scenario as a new version of
the ``scenario/<name>`` document and writes ``<name>.xlsx``, ``<name>.html``
and ``<name>.gpkg`` into DIR.

``planner scenario compare S1 S2 [...] -w WS --out report.html|.xlsx`` runs
each and writes a side-by-side comparison (the first one is the baseline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from planner.errors import DataError, StoreError
from planner.io.store import Store, open_store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenario", help="run, compare and list redevelopment scenarios (情景模拟与对比)")
    ssub = p.add_subparsers(dest="scenario_command", metavar="ACTION")

    r = ssub.add_parser("run", help="evaluate a scenario on the workspace's sites and write xlsx/html/gpkg")
    r.add_argument("scenario", help="scenario TOML/JSON file, or NAME[@VERSION] of a scenario saved in the workspace")
    r.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    r.add_argument("--out", default=None, metavar="DIR", help="folder for <name>.xlsx, <name>.html, <name>.gpkg")
    r.add_argument("--lang", choices=("zh", "en"), default="zh", help="report language (default zh)")
    r.add_argument("--templates", default=None, metavar="PATH", help="extra park template file or folder")
    r.add_argument("--no-save", action="store_true", help="do not save the scenario document in the workspace")
    r.set_defaults(func=run_cmd)

    c = ssub.add_parser("compare", help="compare scenarios side by side (first = baseline)")
    c.add_argument("scenarios", nargs="+", help="scenario files or saved names")
    c.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    c.add_argument("--out", required=True, metavar="FILE", help="report.html or report.xlsx")
    c.add_argument("--lang", choices=("zh", "en"), default="zh", help="report language (default zh)")
    c.add_argument("--templates", default=None, metavar="PATH", help="extra park template file or folder")
    c.set_defaults(func=compare_cmd)

    ls = ssub.add_parser("list", help="list the scenarios saved in a workspace and the park templates")
    ls.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    ls.set_defaults(func=list_cmd)
    p.set_defaults(func=lambda a: (p.print_help(), 0)[1])


def resolve_scenario(ref: str, store: Store):
    """A scenario from a file path or a saved ``NAME[@VERSION]``."""
    from planner.scenarios import load_scenario, scenario_from_dict

    path = Path(ref)
    if path.suffix.lower() in (".toml", ".json") or path.exists():
        return load_scenario(path)
    name, _, ver = ref.partition("@")
    try:
        doc = store.load_doc("scenario", name, int(ver) if ver else None)
    except StoreError as exc:
        msg = f"scenario {ref!r}: no such file and no saved scenario of that name in the workspace ({exc})"
        raise DataError(msg) from exc
    return scenario_from_dict(doc, where=f"saved scenario {ref}")


def _sites_inputs(store: Store, layer: str | None, retain_classes: tuple[str, ...] = ("retain",)):
    """Sites layer, its parcel rollup (or None) and the layer meta; says what to run when missing."""
    from planner.scenarios import parcel_rollup

    if not store.has_layer("sites", layer):
        what = f"sites/{layer}" if layer else "any sites layer"
        msg = (f"workspace has no {what}; run `planner classify -w WS` and then `planner sites -w WS` first "
               "(or set sites_layer in the scenario)")
        raise DataError(msg)
    sites = store.read_layer("sites", layer)
    meta = sites.attrs.get("meta", {})
    name = layer or store.layers("sites").query("is_current")["name"].iloc[0]
    rollup = None
    if store.has_layer("site_parcels", name) and meta.get("policy_name") and store.has_layer("flags", meta["policy_name"]):
        sp = pd.DataFrame(store.read_layer("site_parcels", name, columns=["parcel_id", "site_id", "role"]))
        flags = store.read_layer("flags", meta["policy_name"])
        cols = [c for c in ("parcel_id", "floor_area_m2", "output_cny", "tax_cny", "employees", "upgrade_class")
                if c in flags.columns]
        rollup = parcel_rollup(sp.drop(columns="geometry", errors="ignore"), pd.DataFrame(flags[cols]),
                               retain_classes=retain_classes)
    return sites, rollup, meta


def _evaluate(ref: str, store: Store, templates_path: str | None):
    from planner.scenarios import replace, run
    from planner.scenarios.templates import load_templates

    sc = resolve_scenario(ref, store)
    sites, rollup, meta = _sites_inputs(store, sc.sites_layer, sc.retain_classes)
    if not sc.policy_name and not sc.policy_hash:
        sc = replace(sc, policy_name=str(meta.get("policy_name") or ""), policy_hash=str(meta.get("policy_hash") or ""))
    elif meta.get("policy_hash") and sc.policy_hash and sc.policy_hash != meta["policy_hash"]:
        print(f"warning: scenario {sc.name!r} was built on policy hash {sc.policy_hash[:12]}, the sites layer on "
              f"{str(meta['policy_hash'])[:12]}; results use the current sites", file=sys.stderr)
    templates = load_templates(*([templates_path] if templates_path else []))
    return run(sites, sc, templates=templates, rollup=rollup)


def _background(store: Store):
    return store.read_layer("boundary", "study_area") if store.has_layer("boundary", "study_area") else None


def _print_totals(res) -> None:
    from planner.report.text import fmt, label

    t = res.totals
    keys = ["n_sites", "land_area_m2", "existing_floor_m2", "demolished_floor_m2", "new_floor_m2", "net_change_m2",
            "plot_ratio_before", "plot_ratio_after", "enterprises_housed", "jobs_after", "tax_before_cny",
            "tax_after_cny", "investment_cny", "rent_cny_yr", "payback_years", "first_delivery", "last_delivery"]
    print(f"scenario {res.name}: {int(t['n_sites'])} sites")
    for k in keys:
        print(f"  {label(k, 'en'):<34} {fmt(t.get(k), k, 'en'):>16}")


def run_cmd(args: argparse.Namespace) -> int:
    from planner.report import export_all, write_html

    store = open_store(args.workspace)
    res = _evaluate(args.scenario, store, args.templates)
    _print_totals(res)
    if not args.no_save:
        v = store.save_doc("scenario", res.name, res.scenario.to_dict())
        print(f"saved as scenario/{res.name} version {v} in {args.workspace}")
    if args.out:
        files = export_all(res, args.out, lang=args.lang)
        bg = _background(store)
        if bg is not None:
            write_html(res, files["html"], lang=args.lang, background=bg)
        for kind, p in files.items():
            print(f"wrote {kind}: {p}")
    return 0


def compare_cmd(args: argparse.Namespace) -> int:
    from planner.report import compare_to_excel, write_html
    from planner.scenarios.comparison import compare

    store = open_store(args.workspace)
    results = [_evaluate(ref, store, args.templates) for ref in args.scenarios]
    cmp = compare(results)
    out = Path(args.out)
    if out.suffix.lower() == ".xlsx":
        compare_to_excel(cmp, out, lang=args.lang)
    elif out.suffix.lower() in (".html", ".htm"):
        write_html(cmp, out, lang=args.lang, background=_background(store))
    else:
        msg = f"--out {out}: use a .html or .xlsx file name"
        raise DataError(msg)
    cols = [*cmp.names, *[c for c in cmp.table.columns if c.endswith(" %")]]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(cmp.table.loc[["n_sites", "new_floor_m2", "enterprises_housed", "jobs_after", "tax_after_cny",
                             "investment_cny", "payback_years"], cols].to_string(float_format=lambda v: f"{v:,.1f}"))
    print(f"wrote {out}")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    from planner.scenarios.templates import builtin_templates

    store = open_store(args.workspace)
    docs = store.docs("scenario")
    print("saved scenarios:")
    print(docs[["name", "version", "created_at", "user", "sha256"]].to_string(index=False) if len(docs) else "  (none)")
    print("\npark templates:")
    for n, t in builtin_templates().items():
        print(f"  {n:<18} {t.label_zh} / {t.label_en}: plot ratio {t.target_plot_ratio}, "
              f"{t.floors_min}-{t.floors_max} floors, {t.all_in_cost_per_m2:,.0f} yuan/m² all-in")
    return 0
