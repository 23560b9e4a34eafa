"""``planner scenario``: run, compare and list redevelopment scenarios (情景模拟与对比).

``planner scenario run SCENARIO [...] -w WS [--out DIR]`` evaluates each
scenario (a TOML/JSON file, or the name of a scenario saved in the workspace)
on the workspace's sites (read once for all), prints its totals, saves it as a
new version of the ``scenario/<name>`` document and writes ``<name>.xlsx``,
``<name>.html``, ``<name>.pdf`` (A4) and ``<name>.gpkg`` into DIR.

``planner scenario compare S1 S2 [...] -w WS --out report.html|.xlsx|.pdf`` runs
each and writes a side-by-side comparison (the first one is the baseline).

``--sensitivity`` (both): each scenario again with each estimated template
parameter alone -20% and +20% (:func:`planner.workflow.runs_sensitivity`),
printed and added to the reports as a section (tornado chart, table, sheet).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from planner import workflow as W
from planner.cli import add_lang_option
from planner.errors import DataError
from planner.i18n import t as line
from planner.io.store import Store, open_store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenario", help="run, compare and list redevelopment scenarios (情景模拟与对比)")
    ssub = p.add_subparsers(dest="scenario_command", metavar="ACTION")

    r = ssub.add_parser("run", help="evaluate scenarios on the workspace's sites, save them, write xlsx/html/pdf/gpkg")
    r.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario TOML/JSON files, or NAME[@VERSION]s of scenarios saved in the workspace; "
                        "several are run on one read of the sites (e.g. scenarios/*.toml)")
    r.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    r.add_argument("--out", default=None, metavar="DIR", help="folder for <name>.xlsx, <name>.html, <name>.pdf, <name>.gpkg")
    r.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of the printed summary and the --out reports (default: PLANNER_LANG, else zh)")
    r.add_argument("--templates", default=None, metavar="PATH", help="extra park template file or folder")
    r.add_argument("--no-save", action="store_true", help="do not save the scenario document in the workspace")
    r.add_argument("--sensitivity", action="store_true",
                   help="also run each scenario with each estimated template parameter alone -20%% and +20%% "
                        "(13 more runs a scenario), print the paybacks of each in --lang and add the section to "
                        "the --out reports")
    r.set_defaults(func=run_cmd)

    c = ssub.add_parser("compare", help="compare scenarios side by side (first = baseline)")
    c.add_argument("scenarios", nargs="*", help="scenario files or saved NAME[@VERSION]s")
    c.add_argument("--saved", default=None, metavar="NAME", help="compare the scenarios of saved comparison NAME")
    c.add_argument("--save", default=None, metavar="NAME", help="save this comparison as document NAME")
    c.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    c.add_argument("--out", default=None, metavar="FILE",
                   help="also write report.html, report.xlsx or report.pdf (A4); without it the table is printed only")
    c.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of the printed table and the --out report (default: PLANNER_LANG, else zh)")
    c.add_argument("--templates", default=None, metavar="PATH", help="extra park template file or folder")
    c.add_argument("--sensitivity", action="store_true",
                   help="add a sensitivity section per scenario to the report: each estimated template parameter "
                        "alone -20%% and +20%%, both paybacks as a tornado chart and a table (13 more runs a "
                        "scenario; printed too)")
    c.set_defaults(func=compare_cmd)

    ls = ssub.add_parser("list", help="list the scenarios saved in a workspace and the park templates")
    ls.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
    add_lang_option(ls)
    ls.set_defaults(func=list_cmd)

    # the app's 复制 / 重命名 / 删除, through the same workflow calls; NAME@VERSION: only while it is the latest
    for action, helptext in (
            ("copy", "save a copy of a saved scenario (NAME or NAME@VERSION) under a new name; also brings back a "
                     "deleted one (copy NAME@VERSION NAME)"),
            ("rename", "rename a saved scenario (its history stays under the old name); NAME@VERSION renames it only "
                       "if VERSION is still its latest"),
            ("delete", "delete a saved scenario (its versions are kept: copy NAME@VERSION NAME brings it back); "
                       "NAME@VERSION deletes it only if VERSION is still its latest")):
        m = ssub.add_parser(action, help=helptext)
        m.add_argument("name", metavar="NAME[@VERSION]")
        if action != "delete":
            m.add_argument("new", metavar="NEW")
        m.add_argument("--workspace", "-w", required=True, help="workspace .gpkg")
        add_lang_option(m, "its confirmation")
        m.set_defaults(func=manage_cmd, action=action, **({"new": None} if action == "delete" else {}))
    p.set_defaults(func=lambda a: (p.print_help(), 0)[1])


def resolve_scenario(ref: str, store: Store) -> W.ScenarioDoc:
    """A scenario document from a file path or a saved ``NAME[@VERSION]``."""
    from planner.scenarios import load_scenario

    path = Path(ref)
    if W.operations.is_file_ref(ref):
        return W.ScenarioDoc(load_scenario(path))
    name, ver = W.parse_ref(ref)
    try:
        return W.load_document(store, "scenario", name, ver)
    except DataError as exc:
        msg = f"scenario {ref!r}: no such file, and {exc}"
        raise DataError(msg, zh=exc.zh) from exc


def _evaluate(ref: str, store: Store, templates_path: str | None, read: dict | None = None,
              doc: W.ScenarioDoc | None = None, lang: str = "zh", said: set | None = None) -> W.ScenarioRun:
    """Run one scenario (``doc``: ``ref`` resolved already); ``read`` keeps the stored sites read so far by layer
    (several scenarios, one read); ``said`` the warnings printed so far (a comparison of scenarios on the same
    out-of-date sites says so once). Under a role without enterprise figures (``PLANNER_ROLE``) its tax and output
    figures are blanked, as the app blanks them, and its reports say so in ``lang``."""
    import dataclasses

    from planner.i18n import t
    from planner.scenarios.templates import load_templates
    from planner.workflow.permissions import current_role
    from planner.workflow.visibility import blank_result, figures_visible

    doc = doc or resolve_scenario(ref, store)
    templates = load_templates(*([templates_path] if templates_path else []))
    key = doc.scenario.sites_layer
    run = W.run_stored_scenario(store, doc, templates=templates, stored=(read or {}).get(key))
    if read is not None:
        read[key] = run.stored
    print_warnings([w for w in run.warnings if said is None or w not in said], lang)
    if said is not None:
        said.update(run.warnings)
    if not figures_visible(store):
        role = current_role()
        note = t("auth_figures_hidden", lang, role=t(f"role_{role}", lang) if role else "—")
        run = dataclasses.replace(run, result=blank_result(run.result, note))
    return run


def print_warnings(warnings: list[tuple[str, str]], lang: str = "zh") -> None:
    """``(en, zh)`` warnings of a run on stderr in ``lang``, one a line (``warning: ...``, ``警告：...``)."""
    from planner.i18n import terminal_text

    for en, zh in warnings:
        print(f"警告：{terminal_text(zh)}" if lang == "zh" else f"warning: {terminal_text(en)}", file=sys.stderr)


def _check_report_folder(out: Path, files: list[Path], workspace: str) -> None:
    """Refuse an ``--out`` the reports cannot go to, before anything is run or saved: a file where the folder
    should be (a traceback after the scenario was saved), or a report that would be the workspace itself (a
    scenario named like the workspace, written beside it, added a layer to it)."""
    from planner.io.writers import check_output

    if out.exists() and not out.is_dir():
        msg = f"--out {out}: a file is there; give a folder for the reports (<name>.xlsx, .html, .pdf, .gpkg)"
        raise DataError(msg, zh=f"--out {out}：此处是文件；请给出存放报告的文件夹")
    if out.is_dir():  # (a new folder is made by the export: nothing in it yet)
        for f in files:  # the rule of every --out (io.writers): not the workspace, nor another one, writable
            check_output(f, (f.suffix,), workspace=workspace, option="--out")


def _background(store: Store):
    return store.read_layer("boundary", "study_area") if store.has_layer("boundary", "study_area") else None


#: Figures the CLI prints for a scenario (the headline figures first; the same labels and units as the reports).
PRINTED = ("n_sites", "net_change_m2", "enterprises_housed", "tax_after_cny", "investment_cny", "payback_years",
           "fiscal_payback_years", "existing_floor_m2", "demolished_floor_m2", "new_floor_m2", "floor_after_m2",
           "plot_ratio_before", "plot_ratio_after", "jobs_after", "tax_before_cny", "rent_cny_yr", "first_delivery",
           "last_delivery")


def _print_totals(res, lang: str = "zh") -> None:
    """A scenario's key figures in ``lang`` (``--lang``), with the reports' labels and units; the numbers line up
    under each other in a terminal, Chinese labels counted two columns a character (:func:`pad`)."""
    from planner.report.text import display_width, fmt, label, pad, tr

    t = res.totals
    print(tr("run_summary", lang, name=res.name, n=int(t["n_sites"])))
    labels = {k: label(k, lang) for k in PRINTED}
    values = {k: fmt(t.get(k), k, lang) for k in PRINTED}
    wl = max(40, *(display_width(x) for x in labels.values()))
    wv = max(14, *(display_width(x) for x in values.values()))
    for k in PRINTED:
        print("  " + pad(labels[k], wl, left=True) + " " + pad(values[k], wv))


def _print_comparison(cmp, lang: str = "en") -> None:
    """The comparison's key figures as the reports show them; scenarios as A, B, C under a legend naming them
    whole (names were cut at 18 characters: "upstairs_all - con")."""
    from planner.i18n import t
    from planner.report.text import comparison_rows, label, pad, scenario_keys, tr

    keys = scenario_keys(cmp.names)
    for i, (k, name) in enumerate(zip(keys, cmp.names, strict=True)):
        print("  " + tr("cmp_legend_base" if i == 0 else "cmp_legend", lang, letter=k, name=name))
    heads = [*keys, *[x for j in range(1, len(keys)) for x in (t("cmp_diff_col", lang, n=keys[j], base=keys[0]),
                                                              t("cmp_pct_col", lang, n=keys[j], base=keys[0]))]]
    print(f"  {'':<40} " + " ".join(pad(h, 16) for h in heads))
    for k, row in comparison_rows(cmp, lang, PRINTED).items():  # the reports' numbers: differences from those shown
        cells = [*row.values, *[x for d, p in zip(row.diffs, row.pcts, strict=True) for x in (d, p)]]
        print("  " + pad(label(k, lang), 40, left=True) + " " + " ".join(pad(x, 16) for x in cells))


def _sensitivity(runs: list[W.ScenarioRun], store: Store, templates_path: str | None,
                 lang: str = "zh") -> list[W.ScenarioSensitivity]:
    """:func:`planner.workflow.runs_sensitivity` of the runs on the sites each ran on, with a progress bar (stderr)
    of the model runs; what starts from enterprise tax is left out for a role that may not see it."""
    from tqdm import tqdm

    from planner.scenarios.templates import load_templates
    from planner.workflow.visibility import figures_visible

    templates = load_templates(*([templates_path] if templates_path else []))
    with tqdm(total=1, desc=line("cli_sensitivity_bar", lang), unit=line("cli_run_unit", lang), leave=False) as bar:
        def step(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return W.runs_sensitivity(runs, templates=templates, hide_figures=not figures_visible(store), progress=step)


def _print_sensitivity(section: W.ScenarioSensitivity, lang: str = "zh") -> None:
    """A scenario's sensitivity as the reports show it: the range of each payback, then the table, in ``lang``."""
    from planner.report.text import (
        display_width,
        label,
        pad,
        sensitivity_empty,
        sensitivity_has_values,
        sensitivity_outputs,
        sensitivity_range,
        sensitivity_rows,
        swing_text,
        tr,
    )

    print(tr("sens_cli_title", lang, pct=swing_text(section.swing), name=section.name))
    if sensitivity_empty(section.table, lang):
        print("  " + sensitivity_empty(section.table, lang))
        return
    for o in sensitivity_outputs(section.table):
        line = sensitivity_range(section.table, o, lang, section.swing)
        if line:
            print("  " + line)
    # the table of the reports with each payback's label once above its three columns (one line of 195 characters)
    rows = sensitivity_rows(section.table, lang, section.swing)
    outs = sensitivity_outputs(section.table)
    lead = len(rows[0]) - 3 * len(outs)  # the parameter, and its value when there is one
    pct = swing_text(section.swing)
    sides = [f"−{pct}", tr("sens_as_is", lang), f"+{pct}"]
    body = rows[1:]
    widths = [max(display_width(x) for x in [rows[0][j], *(r[j] for r in body)]) for j in range(lead)]
    for i, o in enumerate(outs):
        cols = range(lead + 3 * i, lead + 3 * i + 3)
        w = max(display_width(x) for x in [*sides, *(r[j] for r in body for j in cols)])
        w = max(w, -(-(display_width(label(o, lang)) - 2) // 3))  # the label fits over its three columns
        widths += [w] * 3
    heads = [pad(rows[0][j], widths[j], left=True) for j in range(lead)]
    group = [widths[lead + 3 * i] for i in range(len(outs))]
    print("  " + " ".join([*heads, *(pad(label(o, lang), 3 * w + 2) for o, w in zip(outs, group, strict=True))]))
    print("  " + " ".join([*(" " * w for w in widths[:lead]), *(pad(x, w) for w in group for x in sides)]))
    for r in body:
        print("  " + " ".join(pad(c, w, left=j < lead) for j, (c, w) in enumerate(zip(r, widths, strict=True))))
    if not sensitivity_has_values(section.table):
        print("  " + tr("sens_mixed", lang))
    if section.hidden:
        print("  " + tr("sens_hidden", lang))


def run_cmd(args: argparse.Namespace) -> int:
    from planner.report import export_all
    from planner.scenarios import replace

    store = open_store(args.workspace)
    refs = list(args.scenarios)
    docs = [resolve_scenario(ref, store) for ref in refs]  # every file and name checked before anything is saved
    names = [d.scenario.name for d in docs]
    if not args.no_save:  # a name that cannot be saved is refused before any scenario is run or saved
        for ref, n in zip(refs, names, strict=True):
            try:
                W.check_document_name("scenario", n)
            except DataError as exc:
                raise DataError(f"{ref}: {exc} (or run it with --no-save)", zh=f"{ref}：{exc.zh}（或加 --no-save 运行）") from exc
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice and not args.no_save:
        msg = (f"scenario run: {', '.join(twice)} named more than once; each run is saved as scenario/<name>, so "
               "give each scenario its own name (or use --no-save)")
        raise DataError(msg, zh=f"情景 {'、'.join(twice)} 重复；每个情景保存为 scenario/<名称>，请使用不同名称（或加 --no-save）")
    if args.out:  # one scenario's report files would replace another's
        from planner.report import file_stem

        stems = [file_stem(n) for n in names]
        _check_report_folder(Path(args.out), [Path(args.out) / f"{st}.gpkg" for st in stems], args.workspace)
        clash = sorted({f"{n!r}" for n, st in zip(names, stems, strict=True) if stems.count(st) > 1})
        if clash:
            msg = (f"scenario run --out {args.out}: the scenarios {', '.join(clash)} would write the same report "
                   "files (<name>.xlsx, .html, .pdf, .gpkg); rename one, or run them with separate --out folders")
            raise DataError(msg, zh=f"情景 {'、'.join(clash)} 的报告文件名相同，会互相覆盖；请改名，或分别指定 --out 文件夹")
    read: dict = {}  # the sites read once for all scenarios on the same layer
    bg = _background(store) if args.out else None
    for ref, doc in zip(refs, docs, strict=True):
        # a saved scenario is saved again only if nobody saved it while this run worked (else: a clear conflict)
        stored_name = None if W.operations.is_file_ref(ref) else W.parse_ref(ref)[0]
        expect = W.latest_version(store, "scenario", stored_name) if stored_name else False
        run = _evaluate(ref, store, args.templates, read, doc, args.lang)
        res = run.result
        _print_totals(res, args.lang)
        if not args.no_save:
            stored = run.stored  # the sites it ran on, read once
            # the scenario as given (a vanished pick stays in it, to be said again), with the policy it ran on
            sc = replace(run.doc.scenario, policy_name=res.scenario.policy_name, policy_hash=res.scenario.policy_hash)
            doc = W.scenario_doc(sc, sites=stored.sites, parcel_sites=stored.parcel_sites)
            doc = W.ScenarioDoc(sc, {**doc.site_refs, **run.doc.site_refs})  # what it knew of its sites when first saved
            same = W.catalogue.unchanged_version(store, doc)
            if same is not None:
                print(line("cli_scenario_same", args.lang, name=res.name, v=same, ws=store.label))
            else:
                before = W.latest_version(store, "scenario", res.name)
                v = W.save_document(store, doc, expect_version=expect if res.name == stored_name else False)
                print(line("cli_scenario_saved", args.lang, name=res.name, v=v, ws=store.label))
                if before is not None and res.name != stored_name:  # a file of a name saved in the workspace
                    print(line("cli_scenario_latest", args.lang, name=res.name, before=before,
                            who=W.catalogue.saved_by(store, "scenario", res.name, before, args.lang)))
        sens = None
        if args.sensitivity:
            sens = _sensitivity([run], store, args.templates, args.lang)
            _print_sensitivity(sens[0], args.lang)
        if args.out:
            files = export_all(res, args.out, lang=args.lang, background=bg, sensitivity=sens)
            for kind, p in files.items():
                print(line("cli_wrote_kind", args.lang, kind=kind, path=p))
    return 0


def compare_cmd(args: argparse.Namespace) -> int:
    from planner.report import compare_to_excel, write_html

    store = open_store(args.workspace)
    refs = list(args.scenarios)
    if args.saved:
        saved = W.load_document(store, "comparison", args.saved)
        refs = [f"{n}@{v}" if v else n for n, v in saved.scenarios] + refs
    if len(refs) < 2:
        msg = "scenario compare: name at least two scenarios (or a saved comparison with --saved)"
        raise DataError(msg)
    from planner.io.writers import check_output

    out = check_output(args.out, (".html", ".htm", ".xlsx", ".pdf"), workspace=args.workspace) if args.out else None
    if args.save:
        W.check_document_name("comparison", args.save)
    read: dict = {}
    said: set = set()  # the stored sites' warnings once, not once a scenario
    runs = [_evaluate(ref, store, args.templates, read, lang=args.lang, said=said) for ref in refs]
    cmp = W.compare_runs(runs)
    if args.save:
        doc = W.ComparisonDoc(args.save, tuple((r.result.name, None) for r in runs), args.lang)
        print(line("cli_comparison_saved", args.lang, name=args.save, v=W.save_document(store, doc)))
    _print_comparison(cmp, args.lang)
    sens = _sensitivity(runs, store, args.templates, args.lang) if args.sensitivity else None
    for section in sens or []:
        print()
        _print_sensitivity(section, args.lang)
    if out is None:
        return 0
    from planner.io.writers import replacing

    with replacing(out) as tmp:  # a killed command leaves the previous report whole, never half of the new one
        if out.suffix.lower() == ".xlsx":
            compare_to_excel(cmp, tmp, lang=args.lang, sensitivity=sens)
        elif out.suffix.lower() in (".html", ".htm"):
            write_html(cmp, tmp, lang=args.lang, background=_background(store), sensitivity=sens)
        else:
            from planner.report.pdf import comparison_pdf

            tmp.write_bytes(comparison_pdf(cmp, lang=args.lang, background=_background(store), sensitivity=sens))
    print(line("cli_wrote", args.lang, path=out))
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    from planner.cli._table import aligned
    from planner.cli.documents import print_versions
    from planner.scenarios.templates import builtin_templates

    lang = args.lang
    store = open_store(args.workspace)
    print_versions(store, "scenario", lang, restore=line("cli_scenario_restore", lang))
    print("\n" + line("cli_templates", lang))
    rows = [[n, tp.label_en if lang == "en" else tp.label_zh, f"{tp.target_plot_ratio:g}",
             f"{tp.floors_min}-{tp.floors_max}", f"{tp.all_in_cost_per_m2:,.0f}"]
            for n, tp in builtin_templates().items()]
    heads = [line(f"cli_col_{c}", lang) for c in ("name", "template", "plot_ratio", "floors", "all_in_cost")]
    print("\n".join(aligned(heads, rows, left=2, indent="  ")))
    return 0


def manage_cmd(args: argparse.Namespace) -> int:
    """``scenario copy|rename|delete``: what the scenarios page's buttons do, with ``NAME@VERSION`` standing for
    the version the user has seen (a colleague's newer save is then refused, never renamed or deleted unseen); the
    confirmation is said in ``--lang``."""
    store = open_store(args.workspace)
    name, version = W.parse_ref(args.name)
    if version is not None:
        W.load_document(store, "scenario", name, version)  # a version that never was is named as such
    if args.new is not None:
        W.check_document_name("scenario", args.new)
    if args.action == "copy":
        v = W.duplicate_scenario(store, name, args.new, version=version)
        print(line("cli_scenario_copied", args.lang, new=args.new, v=v, src=args.name))
    elif args.action == "rename":
        v = W.rename_scenario(store, name, args.new, expect_version=version if version is not None else False)
        print(line("cli_scenario_renamed", args.lang, name=name, new=args.new, v=v))
    else:
        mark = W.delete_document(store, "scenario", name, expect_version=version if version is not None else False)
        print(line("cli_scenario_deleted", args.lang, name=name, v=mark - 1))
    return 0
