"""Data manager (数据管理): upload a survey, map fields, validate, diff, publish or cancel; versions, audit log."""

import copy
from pathlib import Path

import pandas as pd
import streamlit as st

from planner import crs as pcrs
from planner import ingest, schema
from planner import workflow as W
from planner.errors import PlannerError, message_in
from planner.i18n import column_label, geometry_label, ingest_unit_label
from planner.ingest import aliases
from planner.io import readers
from planner.ui import auth, data, keys, new_workspace, page, survey, tables, uploads
from planner.ui.state import lang, md_text, tr, tr_plain
from planner.workflow.permissions import only_text

#: Units the mapping table offers (the ingest's own names, planner/ingest/mapping.py), and how each reads in English.
UNIT_CHOICES = {"元": "yuan", "万元": "10k yuan", "亿元": "100m yuan", "m²": "m²", "亩": "mu", "公顷": "ha",
                "ft²": "ft²", "percent": "percent", "fraction": "fraction"}


def geometry_shown(gtype: str, lang_: str) -> str:
    """A layer's geometry type as the page's language writes it (GDAL's ``"Polygon Z"``: 面 Z)."""
    return geometry_label(gtype, lang_)


def layer_choices(layers: list, lang_: str) -> dict:
    """The picker's options: a layer's id (its name, or ``file › name`` when another file holds a layer of that
    name) -> (the layer, its label with geometry type, row count and, when the name does not say it, its file)."""
    names = [s.name for s in layers]
    out = {}
    for s in layers:
        lid = s.name if names.count(s.name) == 1 else f"{s.where} › {s.name}"
        fmt = dict(name=s.name, geom=geometry_shown(s.geometry_type, lang_), n="?" if s.n is None else f"{s.n:,}")
        in_file = s.member is not None and (Path(s.where).stem != s.name or names.count(s.name) > 1)
        out[lid] = (s, tr_plain("dm_layer_option_in", file=s.where, **fmt) if in_file
                    else tr_plain("dm_layer_option", **fmt))
    return out


def source_layers(path: str) -> list:
    """The layers of the stored upload to pick from (read once per upload: a zip is unpacked to list them)."""
    held = ss.get("dm_layers")
    if not (isinstance(held, tuple) and held[0] == path):
        try:
            held = (path, readers.source_layers(path))
        except PlannerError:  # the reading below says what is wrong with the file
            held = (path, [])
        ss["dm_layers"] = held
    return held[1]


def _earlier_text(name: str, found: dict, current: int | None) -> str:
    """A load equal to the earlier survey version ``found`` in the page's language, with the app's own how-to: that
    version is made current again in the versions list (the library's words name no face's way to switch)."""
    said = ingest.earlier_text(name, found, lang(), current, survey.local_time)
    return said + ("" if lang() == "zh" else " ") + tr_plain("dm_switch_instead", v=found["version"])


def unit_shown(unit: str, lang_: str) -> str:
    """A unit as the page's language writes it (as `planner ingest --lang` does)."""
    return ingest_unit_label(unit, lang_)


settings = page.start("nav_data", need_survey=False)
ws = settings.workspace
new_workspace.render()
ok, _ = data.workspace_ok(ws)
if not ok:
    st.stop()
store = data.store(ws)
ss = st.session_state
# what this role may never do here: the controls stay visible, disabled, and say who may
may_publish, may_switch = auth.may("publish"), auth.may("set_current")

tab_up, tab_ver, tab_ent, tab_log = st.tabs([tr("dm_upload"), tr("dm_versions"), tr("de_tab"), tr("dm_audit")])

# -- upload -------------------------------------------------------------------------
with tab_up:
    # a shapefile's own files are taken too, to say in the page's language that they go in a .zip (uploads.py)
    up_key = f"dm_file_{ss.get('dm_gen', 0)}"
    if up_key not in ss and uploads.current() is not None and ss.get("dm_path"):
        # The page was left with a file on the way and is back: Streamlit draws the uploader anew, empty, which
        # would end the upload without a word. The stored file is kept; what was read from it is read again (the
        # mapping and CRS boxes start afresh, so a report made with other choices is not the one published).
        ss["dm_kept"] = True
        ss.pop("dm_result", None)
    up = uploads.uploader(st, tr("dm_upload"), type=[k[1:] for k in (*uploads.UPLOAD_KINDS, *uploads.SHAPEFILE_PARTS)],
                          help=tr("dm_upload_help") + " " + uploads.size_limit_text() if may_publish else only_text("publish", lang()),
                          key=up_key, disabled=not may_publish)
    if not may_publish:
        st.caption("🔒 " + only_text("publish", lang()))
    if up is not None:
        ss.pop("dm_kept", None)
    kept = up is None and ss.get("dm_kept") and uploads.current() is not None
    if kept:
        k1, k2 = st.columns([5, 1], vertical_alignment="center")
        k1.info(tr("dm_kept", name=ss["dm_name"]))
        if k2.button(tr("dm_discard"), key="dm_discard"):
            for k in ("dm_result", "dm_name", "dm_path", "dm_kept"):
                ss.pop(k, None)
            uploads.end()
            st.rerun()
    try:  # stored under a server-made name; the browser's name is only shown (planner/ui/uploads.py)
        upl, fresh = (uploads.current(), False) if kept else uploads.receive(up)
    except PlannerError as exc:
        st.error(tr("dm_refused", err=message_in(exc, lang())))
        upl, fresh, up = None, False, None
    if fresh:
        ss.update(dm_name=upl.name, dm_path=str(upl.path), dm_sha=upl.sha256)
        ss.pop("dm_result", None)
        ss.pop("dm_raw", None)
        ss.pop("dm_crs", None)  # a new file: no CRS picked for the last one carries over (it would override a .prj)
        ss.pop("dm_layer", None)
        ss.pop(keys.DATA_LAYER, None)
    # labels of the choices taken now, in the session's language (a format_func that asked later, outside the run,
    # would answer in the default language)
    auto = tr_plain("dm_auto")
    mode_label = {m: tr_plain(f"dm_publish_as_{m}") for m in ("auto", "update", "replace")}
    view_label = {"table": tr_plain("wf_diff_table"), "map": tr_plain("wf_diff_map")}
    if (up is not None or kept) and ss.get("dm_path"):
        same = ingest.published_as(store, ss.get("dm_sha"))  # the check `planner ingest` refuses on
        if same is not None:  # the same bytes as a published version (uploaded twice?): said before any work is done
            said = tr("dm_same_file", name=ss["dm_name"], v=same["version"], when=survey.local_time(same["created_at"]),
                      user=same["user"] or "?")
            cur = W.current_survey_version(store)
            if ingest.earlier_version(same["version"], cur) is not None:  # an earlier one: where to switch back
                sep = "" if lang() == "zh" else " "
                said += sep + ingest.current_is_text(cur, lang()) + sep + tr("dm_switch_instead", v=same["version"])
            st.info(said)
        layers, layer, member, layer_id = source_layers(ss["dm_path"]), None, None, None
        if len(layers) > 1:  # a zip of several datasets, a GeoPackage of several layers: the officer picks
            # (CLI: --layer, and --file when two files of a zip hold a layer of one name)
            choices = layer_choices(layers, lang())
            polys = [k for k, (s, _) in choices.items() if s.is_polygon]
            held = ss.get(keys.DATA_LAYER)  # the pick made before the page was left (Streamlit forgot the widget)
            if "dm_layer" in ss and ss["dm_layer"] not in choices:
                ss.pop("dm_layer")
            if isinstance(held, tuple) and held[0] == ss["dm_path"] and held[1] in choices:
                keys.seed("dm_layer", held[1])
            elif len(polys) == 1:
                keys.seed("dm_layer", polys[0])  # the one polygon layer
            layer_id = st.selectbox(tr("dm_layer", n=len(layers)), list(choices), index=None, key="dm_layer",
                                    placeholder=tr("choose"), format_func=lambda k: choices[k][1],
                                    help=tr("dm_layer_help"), on_change=lambda: ss.pop("dm_result", None))
            ss[keys.DATA_LAYER] = (ss["dm_path"], layer_id)
            if layer_id is None:
                st.info(tr("dm_layer_pick", name=ss["dm_name"], n=len(layers)))
            else:
                layer, member = choices[layer_id][0].name, choices[layer_id][0].member
        c1, c2 = st.columns(2)
        enc = c1.selectbox(tr("dm_encoding"), ["auto", "utf-8", "gb18030", "gbk"], key="dm_enc",
                           format_func=lambda x: auto if x == "auto" else x)
        enc = None if enc == "auto" else enc
        try:
            raw = (readers.read_source(ss["dm_path"], layer=layer, member=member, encoding=enc)
                   if layer is not None or len(layers) <= 1 else None)
        except Exception as exc:
            st.error(tr("dm_refused", err=message_in(exc, lang())))
            raw = None
        if raw is not None:
            cols = [c for c in raw.gdf.columns if c != raw.gdf.geometry.name]
            guesses = [g for g, _ in pcrs.guess_crs(tuple(raw.gdf.total_bounds))] if len(raw.gdf) else []
            declared = raw.crs.to_string() if raw.crs is not None else None
            crs_opts = (["auto"] if declared else []) + guesses + ["EPSG:4490", "EPSG:4326", "gcj02",
                                                                   "EPSG:4549", "EPSG:4548", "EPSG:4527",
                                                                   "EPSG:4528"]
            # no CRS in the file: none is assumed (GCJ-02 read as CGCS2000 is hundreds of metres off); the user picks
            crs_pick = c2.selectbox(tr("dm_crs") + (f" — {declared}" if declared else ""),
                                    list(dict.fromkeys(crs_opts)), key="dm_crs", index=0 if declared else None,
                                    placeholder=tr("choose"),
                                    format_func=lambda x: auto if x == "auto" else x)
            if declared is None and crs_pick is None:
                hint = tr_plain("dm_no_crs_hint", crs=" / ".join(guesses)) if guesses else ""  # escaped once, below
                st.warning(tr("dm_no_crs", name=ss["dm_name"], hint=hint), icon="⚠️")
            how = message_in(raw.encoding_note, lang()) if raw.encoding_note else ""  # .cpg text: escaped
            st.caption(f"{raw.format} · {tr('dm_n_records', n=len(raw.gdf))} · {raw.encoding or ''}"
                       + ((f"（{md_text(how)}）" if lang() == "zh" else f" ({md_text(how)})") if how else ""))
            st.markdown(f"**{tr('dm_field_map')}**")
            sugg = aliases.match_fields(cols) if aliases is not None else {}
            fields = [f.name for f in schema.FIELDS if f.name != "geometry"]
            table = pd.DataFrame({"canonical": fields,
                                  "label": [column_label(f, lang()) for f in fields],
                                  "source": [sugg.get(f) for f in fields],
                                  "unit": [None] * len(fields)})  # empty: as the field's name says (CZ: 万元 ...)
            edited = st.data_editor(
                table, hide_index=True, width="stretch", key=f"dm_map_{ss['dm_name']}_{layer_id or ''}",
                disabled=["canonical", "label"], placeholder="—",  # an empty cell read "None" on a Chinese page
                column_config={"canonical": tr("dm_target_field"), "label": tr("dm_field_name"),
                               "source": st.column_config.SelectboxColumn(tr("dm_source_field"), options=cols),
                               "unit": st.column_config.SelectboxColumn(tr("dm_unit"), options=list(UNIT_CHOICES),
                                                                        help=tr("dm_unit_help"))})
            l1, l2 = st.columns(2)
            label = l1.text_input(tr("dm_label"), value=Path(ss["dm_name"]).stem, key="dm_label")
            publish_mode = l2.radio(tr("dm_publish_as"), ["auto", "update", "replace"], horizontal=True,
                                    key="dm_mode", help=tr("dm_publish_as_help"),
                                    format_func=mode_label.get)
            if st.button(tr("dm_validation"), key="dm_read", type="secondary"):
                mapping = {"fields": {r.canonical: r.source for r in edited.itertuples()
                                      if isinstance(r.source, str) and r.source},
                           "units": {r.canonical: r.unit for r in edited.itertuples()
                                     if isinstance(r.unit, str) and r.unit}}
                err = None
                with st.status(tr("dm_reading"), expanded=False) as status:
                    try:
                        # the version this load is prepared against: publishing re-checks it under the lock
                        ss["dm_base"] = W.current_survey_version(store)
                        gdf, rep = ingest.read_survey(ss["dm_path"], mapping=mapping, encoding=enc, layer=layer,
                                                      member=member,
                                                      crs=None if crs_pick in ("auto", None) else crs_pick,
                                                      target_crs=store.crs)
                        uploads.relabel(rep)
                        diff = None
                        if store.has_layer("survey", "parcels"):
                            # The diff of what publishing would store (a partial update is merged).
                            planned, diff, mode = ingest.plan_publish(gdf, data.parcels(ws),
                                                                      report=copy.deepcopy(rep), mode=publish_mode)
                            diff["mode"] = mode
                            if any(int(diff.get(f"n_{k}", 0)) for k in ("added", "removed", "changed")):
                                # an earlier version's parcels again: that version is switched to, not copied
                                diff["earlier"] = ingest.equal_earlier_version(
                                    store, planned, current=ss["dm_base"], changed_fields=diff.get("changed_fields"))
                        ss["dm_result"] = (gdf, rep, diff)
                        ss["dm_mode_used"] = publish_mode
                        status.update(label=tr("dm_read_done", n=len(gdf)), state="complete")
                    except Exception as exc:
                        ss.pop("dm_result", None)
                        status.update(label=tr("dm_read_failed"), state="error")
                        err = exc
                if err is not None:
                    st.error(tr("dm_refused", err=message_in(err, lang())))
                    bad = getattr(err, "report", None)  # e.g. another city: its CRS warning explains too
                    for en, zh in zip(getattr(bad, "warnings", []), getattr(bad, "warnings_zh", []), strict=False):
                        st.warning(tr("dm_crs_warning", msg=zh if lang() == "zh" else en), icon="⚠️")
    res = ss.get("dm_result")
    if res is not None and (up is not None or kept):
        gdf, rep, diff = res
        st.subheader(tr("dm_validation"))
        # data outside the workspace CRS's area of use: the area error it causes, before anything is published
        for en, zh in zip(rep.warnings, rep.warnings_zh, strict=False):
            st.warning(tr("dm_crs_warning", msg=zh if lang() == "zh" else en), icon="⚠️")
        m = st.columns(5)
        for col, k in zip(m, ("read", "accepted", "repaired", "rejected", "flagged"), strict=True):
            col.metric(tr(f"dm_n_{k}"), f"{getattr(rep, 'n_' + k):,}", border=True)
        if rep.units:  # what a number was read in (CZ as 万元 ...): a wrong guess multiplies every value
            sep = "；" if lang() == "zh" else "; "
            st.caption(tr("dm_units_used", units=sep.join(
                f"{column_label(k, lang())} ← {rep.mapping.get(k, '?')}: {unit_shown(u, lang())}"
                for k, u in rep.units.items())))
        if rep.notes:  # what the reading did (CRS matched, coverage read as percent, mode chosen ...), as the CLI says
            with st.expander(tr("dm_notes", n=len(rep.notes)), expanded=True):
                for n in rep.notes:
                    st.markdown(tr("dm_note", msg=message_in(n, lang())))
        probs = tables.problems_frame(rep.problems)
        if len(probs):
            tables.show(probs, height=220)
        else:
            st.success(tr("dm_no_problems"))
        if diff is not None:
            st.subheader(tr("dm_diff"))
            if diff.get("id_format"):  # ids written otherwise (case, zeros): published, they re-key the parcels
                en, zh = ingest.id_format_warning(diff["id_format"])
                st.warning(tr("dm_id_format", msg=zh if lang() == "zh" else en), icon="⚠️")
            if diff.get("mode") == "update":
                st.caption(tr("dm_mode_update", n=int(diff.get("n_removed_merged", 0))))
            elif diff.get("mode") == "replace":
                st.caption(tr("dm_mode_replace"))
            d = st.columns(4)
            for col, k, key in zip(d, ("added", "removed", "changed", "unchanged"),
                                   ("dm_added", "dm_removed", "dm_changed", "dm_unchanged"), strict=True):
                col.metric(tr(key), f"{int(diff.get('n_' + k, 0)):,}")
            if diff.get("changed_fields"):
                st.caption(("、" if lang() == "zh" else ", ").join(f"{column_label(k, lang())}: {v:,}"
                                                                   for k, v in diff["changed_fields"].items()))
            changes = survey.diff_frame(diff, lang())
            if len(changes):
                # a map in a hidden tab has no size when it is drawn: show one view at a time
                view = st.radio(tr("wf_diff_view"), ["table", "map"], horizontal=True, key="dm_diff_view",
                                format_func=view_label.get)
                if view == "table":
                    tables.show(changes, height=260, labels={"change": tr("wf_change"),
                                                             "fields": tr("wf_changed_fields")})
                else:
                    survey.diff_map(diff, gdf, data.parcels(ws), settings)
        unchanged = diff is not None and not any(int(diff.get(f"n_{k}", 0)) for k in ("added", "removed", "changed"))
        if unchanged:  # publishing would make a version identical to the current one
            st.warning(tr("dm_nothing_changed", name=ss["dm_name"]), icon="⚠️")
        # or to an earlier one: not offered either; the versions list switches to it (the library names no face's way)
        earlier = diff.get("earlier") if diff is not None else None
        copy_of = md_text(_earlier_text(ss["dm_name"], earlier, ss.get("dm_base"))) if earlier else None
        if copy_of:
            st.warning(copy_of, icon="⚠️")
        b1, b2, _ = st.columns([1, 1, 3])
        if b1.button(tr("dm_publish"), type="primary", key="dm_publish",
                     disabled=not may_publish or unchanged or bool(copy_of),
                     help=tr_plain("dm_nothing_changed", name=ss["dm_name"]) if unchanged else copy_of
                     or (None if may_publish else only_text("publish", lang()))):
            try:
                out = W.publish_survey(gdf, store, report=rep, source_file=ss["dm_name"], sha256=ss["dm_sha"],
                                       label=ss.get("dm_label"), base_version=ss.get("dm_base"),
                                       mode=ss.get("dm_mode_used", "auto"))
            except PlannerError as exc:  # e.g. the survey changed while this load was prepared: nothing published
                same = getattr(exc, "equal_to", None)  # an earlier version's parcels (published meanwhile?)
                st.error(tr("dm_refused", err=_earlier_text(ss["dm_name"], same, W.current_survey_version(store))
                            if same is not None else message_in(exc, lang())))
            else:
                ss["dm_msg"] = tr("dm_published", v=out.version, n=len(gdf))
                for k in ("dm_result", "dm_name", "dm_path", "dm_kept"):
                    ss.pop(k, None)
                uploads.end()
                ss["dm_gen"] = ss.get("dm_gen", 0) + 1
                st.rerun()
        if b2.button(tr("dm_cancel"), key="dm_cancel"):
            for k in ("dm_result", "dm_name", "dm_path", "dm_kept"):
                ss.pop(k, None)
            uploads.end()
            ss["dm_gen"] = ss.get("dm_gen", 0) + 1
            ss["dm_msg"] = tr("dm_cancelled")
            st.rerun()
    if ss.get("dm_msg"):
        st.success(ss.pop("dm_msg"))

# -- versions: local time, user, source file; switching asks first ----------------------------------------------
with tab_ver:
    cat = store.surveys()
    if len(cat):
        tables.show(survey.versions_frame(cat, lang()), labels={"label": tr("dm_label")})
        cur = int(cat.loc[cat["is_current"], "version"].max()) if cat["is_current"].any() else None
        others = [int(v) for v in cat["version"] if int(v) != cur]
        pend = ss.get(keys.DATA_SWITCH)
        if others:
            c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
            v = c1.selectbox(tr("wf_switch_to"), others, index=None, key="dm_ver", placeholder=tr("choose"),
                             format_func=lambda x: f"v{x}")
            if c2.button(tr("dm_set_current"), key="dm_set", disabled=v is None or not may_switch,
                         help=None if may_switch else only_text("set_current", lang())):
                ss[keys.DATA_SWITCH] = int(v)
                st.rerun()
        if pend is not None:
            st.warning(tr("wf_confirm_switch", v=pend, cur=cur))
            k1, k2, _ = st.columns([1, 1, 3])
            if k1.button(tr("wf_confirm_switch_yes", v=pend), key="dm_set_yes", type="primary",
                         disabled=not may_switch, help=None if may_switch else only_text("set_current", lang())):
                ss.pop(keys.DATA_SWITCH, None)
                try:
                    sw = W.operations.set_current_survey(store, pend)
                except PlannerError as exc:  # a role taken away meanwhile, a colleague's write holding the lock...
                    ss["dm_ver_msg"] = [("error", tr("dm_switch_refused", err=exc))]
                else:
                    ss["dm_ver_msg"] = survey.switch_said(sw, lang())  # and what it left out of date
                st.rerun()
            if k2.button(tr("dm_cancel"), key="dm_set_no"):
                ss.pop(keys.DATA_SWITCH, None)
                st.rerun()
        if ss.get("dm_ver_msg"):
            survey.show_said(ss.pop("dm_ver_msg"))
        if pend is None:  # flags and sites built on the current version earlier: made current again, not rebuilt
            survey.restore_offer(store, "survey", key="dm_restore", said_key="dm_ver_msg")
    else:
        st.info(tr("no_survey"))
    st.markdown(f"**{tr('dm_layers')}**")
    lay = W.layer_catalogue(store, lang())[["kind", "name", "version", "is_current", "built_on", "created_at", "user",
                                            "n_rows"]].copy()
    lay["created_at"] = lay["created_at"].map(survey.local_time)
    tables.show(lay)

# -- enterprise tables: upload, check, publish; versions ---------------------------------------------
with tab_ent:
    from planner.ui import enterprise as ent_ui

    ent_ui.render(store, ws)

# -- audit -----------------------------------------------------------------------------
with tab_log:
    log = survey.audit_frame(store.audit_log().iloc[::-1], lang())
    # a count that is not one (an account change) is a dash, as the other columns show it, not "None"
    log["n_rows"] = log["n_rows"].map(lambda v: "—" if v is None or pd.isna(v) else f"{int(v):,}")
    tables.show(log)
