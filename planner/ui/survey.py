"""The data manager's readable views of survey versions: diff table and map, versions, audit log, local time."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from planner import maps
from planner.i18n import column_label, value_label, without_hidden
from planner.i18n import local_time as i18n_local_time
from planner.io.store import catalogue_meta
from planner.ui.assets import ASSET_URL
from planner.ui.state import Settings, redact, tr, tr_plain

#: Colours of the diff map.
DIFF_COLORS = {"added": "#1a9850", "removed": "#d73027", "changed": "#fdae61"}


def _zone():
    """The browser's time zone (Streamlit reports it), else the server's."""
    try:
        tz = st.context.timezone
        return ZoneInfo(tz) if tz else None
    except Exception:  # no browser context (tests, bare mode) or an unknown zone name
        return None


def local_time(iso) -> str:
    """A stored UTC ISO time as ``YYYY-MM-DD HH:MM`` in the user's time zone ("—" when missing)."""
    return i18n_local_time(iso, _zone())


def _text(v) -> str:
    """A stored text as the tables show it: missing as "—"; without control and invisible characters (a
    right-to-left override in a user or file name turned the rest of its cell around), as pages show names."""
    return "—" if v is None or (isinstance(v, float) and pd.isna(v)) or str(v) in ("", "None", "nan") \
        else without_hidden(v)


def _file(v) -> str:
    """A source file as people may see it: its name, never the server path a CLI publish recorded."""
    return redact(_text(v))


def diff_frame(diff: dict, lang: str) -> pd.DataFrame:
    """One row per added, removed or changed parcel (up to the ids the diff lists) and which fields changed."""
    rows = [{"parcel_id": p, "change": value_label("change", "added", lang), "fields": ""}
            for p in diff.get("added_ids", [])]
    rows += [{"parcel_id": p, "change": value_label("change", "removed", lang), "fields": ""}
             for p in diff.get("removed_ids", [])]
    by_id = diff.get("changed_fields_by_id") or {}
    sep = "、" if lang == "zh" else ", "
    rows += [{"parcel_id": p, "change": value_label("change", "changed", lang),
              "fields": sep.join(column_label(f, lang) for f in by_id.get(p, []))} for p in diff.get("changed_ids", [])]
    return pd.DataFrame(rows, columns=["parcel_id", "change", "fields"])


def diff_geometries(diff: dict, new: gpd.GeoDataFrame, current: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Added and changed parcels (new geometry) and removed ones (old geometry), with a ``change`` column."""
    parts = []
    for kind, src, ids in (("added", new, diff.get("added_ids", [])), ("changed", new, diff.get("changed_ids", [])),
                           ("removed", current, diff.get("removed_ids", []))):
        if ids:
            g = src[src["parcel_id"].astype(str).isin(set(map(str, ids)))][["parcel_id", "geometry"]].copy()
            g["change"] = kind
            parts.append(g.to_crs(current.crs))
    if not parts:
        return gpd.GeoDataFrame({"parcel_id": [], "change": []}, geometry=[], crs=current.crs)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=current.crs)


def diff_map(diff: dict, new: gpd.GeoDataFrame, current: gpd.GeoDataFrame, settings: Settings) -> None:
    """A map of the added (green), removed (red) and changed (orange) parcels."""
    g = diff_geometries(diff, new, current)
    if not len(g):
        return
    idx = maps.LayerIndex.build(g.reset_index(drop=True), id_col="parcel_id", area_col=None)
    b = idx.lonlat_bounds()
    m, gcj = maps.make_map(b, basemap=settings.basemap, tianditu_key=settings.tianditu_key,
                           custom_url=settings.custom_url, asset_base=ASSET_URL,
                           wheel_hint=tr("map_wheel_hint"))  # a page read by scrolling
    v = maps.viewport_features(idx, b, maps.zoom_for_bounds(b, 700, 360), columns=("change",), gcj02=gcj,
                               max_features=3000)
    out = v.gdf.copy()
    out["_c"] = out["change"].map(DIFF_COLORS).fillna("#999999")
    out["change"] = out["change"].map(lambda k: value_label("change", k, settings.lang))
    maps.geojson_layer(out, tr("dm_diff"), tooltip={"parcel_id": column_label("parcel_id", settings.lang),
                                                    "change": tr("wf_change")}).add_to(m)
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    st_folium(m, key="dm_diff_map", height=360, use_container_width=True, returned_objects=[])
    sw = " ".join(f'<span style="color:{c}">■</span> {value_label("change", k, settings.lang)}'
                  for k, c in DIFF_COLORS.items())
    st.markdown(sw, unsafe_allow_html=True)


def versions_frame(cat: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Survey versions as read by people: local time, user, source file, label (no raw JSON, no "None")."""
    labels = []
    for m in cat["meta"]:
        labels.append(_text(catalogue_meta(m).get("label")))
    return pd.DataFrame({"version": cat["version"].astype(int).to_numpy(),
                         "created_at": cat["created_at"].map(local_time).to_numpy(),
                         "user": cat["user"].map(_text).to_numpy(), "n_rows": cat["n_rows"].to_numpy(),
                         "is_current": cat["is_current"].to_numpy(),
                         "source_file": cat["source_file"].map(_file).to_numpy(), "label": labels})


def switch_said(sw, lang: str) -> list[tuple[str, str]]:
    """What a page says after a version switch (:class:`~planner.workflow.versions.VersionSwitch`), as ``(level,
    Markdown)`` pairs for :func:`show_said`: which version is current now (and was), the stored results it left
    out of date with why, the saved scenarios run on those sites and the pages to rebuild them on, and what is
    up to date again. The command line's :func:`planner.cli.workspace.use_lines` says the same with commands."""
    what = tr_plain(f"ver_kind_{sw.kind}")
    sep, lsep = ("；", "、") if lang == "zh" else ("; ", ", ")

    def named(item: str) -> str:
        return _named(item, lang)

    if not sw.changed:
        out = [("info", tr("dm_switched_already", v=sw.version, what=what))]
    elif sw.previous is None:
        out = [("success", tr("dm_switched", v=sw.version))]
    else:
        out = [("success", tr("dm_switched_from", v=sw.version, was=sw.previous, what=what))]
    if sw.stale:
        items = lsep.join(tr_plain("dm_switched_stale_item", what=named(r.what),  # escaped once, by the tr below
                                   why=sep.join(zh if lang == "zh" else en for en, zh in r.reasons))
                          for r in sw.stale)
        text = tr("dm_switched_stale", items=items)
        if sw.scenarios:
            text += "  \n" + tr("dm_switched_scenarios", names=lsep.join(sw.scenarios))
        # the results built on this version earlier, when every stale one has one, are offered instead of a rebuild
        # (:func:`restore_offer`, below the versions)
        rebuild = {r.what for r in sw.stale} - {r.what for r in sw.restorable}
        out.append(("warning", text + ("  \n" + tr("dm_switched_rebuild") if rebuild else "")))
    if sw.fresh:
        out.append(("info", tr("dm_switched_fresh", v=sw.version, names=lsep.join(named(f) for f in sw.fresh))))
    return out


def _named(item: str, lang: str) -> str:
    """A stored result as pages name it: "flags/default" -> "三低识别结果 default"."""
    kind, _, name = item.partition("/")
    return f"{value_label('kind', kind, lang)} {name}"


def restorable_text(found, lang: str) -> str:
    """The results of ``found`` (:class:`~planner.workflow.versions.Restorable`) as one plain line: "Three-low
    flags default v1 (built 2025-03-01 10:30 by ada), ..." (Markdown-escaped once, by the ``tr`` it goes into)."""
    return ("、" if lang == "zh" else ", ").join(
        tr_plain("dm_restorable_item", what=_named(r.what, lang), version=r.version, when=local_time(r.created_at),
                 user=_text(r.user)) for r in found)


def restore_offer(store, kind: str, *, key: str, said_key: str) -> None:
    """Offer the stored results built earlier on the current ``kind`` ("survey"/"enterprise") version, where the
    current ones are out of date with it (:func:`planner.workflow.versions.restorable_results`, read from the
    catalogue), and a button making them current again instead of a rebuild: disabled without the
    ``set_current`` right, as the switch; what it did is kept in ``session_state[said_key]`` for
    :func:`show_said` after the rerun. Shown only when there is something to restore."""
    from planner.errors import PlannerError
    from planner.ui import auth
    from planner.ui.state import lang
    from planner.workflow.permissions import only_text
    from planner.workflow.versions import restorable_results, restore_results

    found = restorable_results(store, kind)
    if not found:
        return
    lg = lang()
    st.info(tr("dm_restorable", what=tr_plain(f"ver_kind_{kind}"), v=found[0].on, items=restorable_text(found, lg)))
    may = auth.may("set_current")
    if st.button(tr("dm_restore"), key=key, disabled=not may, help=None if may else only_text("set_current", lg)):
        try:  # only what was shown, if it still is on offer (read again under the writer lock)
            done = restore_results(store, kind, only=found)
        except PlannerError as exc:  # a role taken away meanwhile, a colleague's write holding the lock...
            st.session_state[said_key] = [("error", tr("dm_restore_refused", err=exc))]
        else:
            st.session_state[said_key] = (
                [("success", tr("dm_restored", items=restorable_text(done.restored, lg)))] if done.restored
                else [("warning", tr("dm_restore_gone"))])
        st.rerun()


def show_said(said: list[tuple[str, str]]) -> None:
    """Show :func:`switch_said`'s messages (kept in the session across the rerun after the switch)."""
    for level, text in said:
        getattr(st, level)(text)


#: Audit-detail keys worth showing, in order.
_DETAIL_KEYS = ("label", "policy_name", "survey_version", "edits", "result_id")


def _detail(text) -> str:
    try:
        d = json.loads(text) if isinstance(text, str) and text.startswith("{") else None
    except ValueError:
        d = None
    if not d:
        return _text(text) if not isinstance(text, str) or not text.startswith("{") else "—"
    parts = [f"{k}: {without_hidden(d[k])}" for k in _DETAIL_KEYS if d.get(k) not in (None, "")]
    return "; ".join(parts) or "—"


def audit_frame(log: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The audit log with local times, readable details and no "None"."""
    out = pd.DataFrame({"ts": log["ts"].map(local_time), "user": log["user"].map(_text), "action": log["action"],
                        "kind": log["kind"], "name": log["name"].map(_text),
                        "version": log["version"].map(lambda v: "—" if pd.isna(v) else f"v{int(v)}"),
                        "n_rows": log["n_rows"], "source_file": log["source_file"].map(_file),
                        "detail": log["detail"].map(_detail).map(redact)})
    return out.reset_index(drop=True)
