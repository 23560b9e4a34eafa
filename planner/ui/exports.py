"""Export what you see: download buttons for the current filter or selection, and the site briefs.

The map page exports the parcels its filters show; the sites page exports
the ranked sites and the selected site's parcels, and prints the selected
site's one-page brief (一地一策, PDF). Files are made only when a button is
clicked (Streamlit's deferred downloads), by :func:`planner.report.geodata.export_layer`
(which picks the columns, in one place) and :mod:`planner.report.pdf`.
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from planner.report.geodata import EXPORT_FORMATS, export_layer
from planner.ui.state import lang, tr

MIME = {"gpkg": "application/geopackage+sqlite3", "shp": "application/zip",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}
SUFFIX = {"gpkg": ".gpkg", "shp": ".zip", "xlsx": ".xlsx", "pdf": ".pdf"}


def may_see_tax() -> bool:
    """Whether the signed-in role may see enterprise tax and output (everyone on a workspace with no accounts)."""
    from planner.ui import data

    settings = st.session_state.get("_settings")
    return data.figures_visible(settings.workspace if settings else "")


def _guard():
    """:func:`planner.ui.auth.download_guard` of the session's workspace."""
    from planner.ui import auth

    settings = st.session_state.get("_settings")
    return auth.download_guard(settings.workspace if settings else "")


def _file_name(name: str, fmt: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name, flags=re.ASCII).strip("_") + SUFFIX[fmt]


def export_buttons(gdf: pd.DataFrame | None, *, kind: str, name: str, key: str, select=None,
                   count: int | None = None) -> None:
    """Three download buttons (GeoPackage, zipped shapefile, Excel) for ``gdf``, or ``select(gdf)`` (``count`` rows).

    Nothing is selected or written until a button is clicked.
    """
    n = 0 if gdf is None else (len(gdf) if count is None else count)
    if not n:
        st.caption(tr("ex_nothing"))
        return
    L = lang()
    may = may_see_tax()
    allowed = _guard()

    def make(fmt: str):
        def build() -> bytes:  # runs on click, in another thread: no session state here
            allowed()  # the account disabled, or its figures taken away, since the page was drawn: nothing
            g = gdf if select is None else select(gdf)
            return export_layer(g, fmt, kind=kind, name=name, lang=L, may_see_tax=may)
        return build

    st.caption(tr("ex_what", n=n))
    cols = st.columns(len(EXPORT_FORMATS))
    for col, fmt in zip(cols, EXPORT_FORMATS, strict=True):
        col.download_button(tr(f"ex_{fmt}"), data=make(fmt), file_name=_file_name(name, fmt), mime=MIME[fmt],
                            key=f"{key}_{fmt}", width="stretch", on_click="ignore",
                            help=tr("ex_shp_help") if fmt == "shp" else None)  # what the zip holds beside the .shp


def brief_button(path: str, policy: dict | None, result, parcels, site_ids: list[str], *, key: str,
                 label: str) -> None:
    """A download button for the one-page briefs (PDF) of ``site_ids`` on this session's sites."""
    from planner.ui import data, results

    if not site_ids:
        return
    L = lang()
    prov = results.policy_provenance(path, policy)
    constraints = data.all_layers(path, "constraint")

    complete = data.reasons_for(path, policy)
    may = may_see_tax()  # decided here: the file is made in another thread, which knows nobody signed in
    allowed = _guard()

    def build() -> bytes:
        import dataclasses

        allowed()

        from planner.report.pdf import site_briefs_pdf
        from planner.workflow.briefs import site_briefs
        from planner.workflow.visibility import blank_result_figures

        listed = _member_reasons(parcels, result.parcel_sites, site_ids, complete)
        briefs = site_briefs(result.sites, result.parcel_sites, listed, site_ids, constraints=constraints,
                             provenance=prov)
        if not may:  # the brief's ledger: its tax after and fiscal payback, as on the scenario pages
            briefs = [dataclasses.replace(b, figures=blank_result_figures(b.figures)) for b in briefs]
        return site_briefs_pdf(briefs, lang=L)

    name = "brief_" + ("_".join(site_ids) if len(site_ids) <= 3 else f"{site_ids[0]}_{len(site_ids)}")
    st.download_button(label, data=build, file_name=_file_name(name, "pdf"), mime=MIME["pdf"], key=key,
                       width="stretch", type="primary", on_click="ignore")


def _member_reasons(parcels, parcel_sites, site_ids: list[str], complete):
    """``parcels`` with the reasons of the parcels of ``site_ids`` (what a brief lists), made for those rows only."""
    if "reason_zh" in parcels.columns:
        return parcels
    members = set(parcel_sites.loc[parcel_sites["site_id"].astype(str).isin(site_ids), "parcel_id"].astype(str))
    rows = complete(parcels[parcels["parcel_id"].astype(str).isin(members)])
    if "reason_zh" not in rows.columns:
        return parcels
    return parcels.assign(reason_zh=rows["reason_zh"], reason_en=rows["reason_en"])  # the other rows: none


def sites_page(path: str, policy: dict | None, result, parcels, selected: str | None, shown) -> None:
    """The sites page's exports: the sites in the table, the selected site's parcels, and briefs (PDF)."""
    with st.expander(tr("ex_title"), expanded=False):
        ok_ids = shown["site_id"].astype(str).tolist() if len(shown) else []
        b1, b2 = st.columns(2)
        with b1:
            brief_button(path, policy, result, parcels, [selected] if selected else [], key="ex_brief_sel",
                         label=tr("ex_brief_selected", id=selected or "—"))
            if not selected:
                st.caption(tr("wf_no_selection"))
        with b2:
            brief_button(path, policy, result, parcels, ok_ids[:10], key="ex_brief_top",
                         label=tr("ex_brief_top", n=min(10, len(ok_ids))))
        st.markdown(f"**{tr('ex_sites')}**")
        export_buttons(shown, kind="sites", name="sites", key="ex_sites")
        if selected:
            ps = result.parcel_sites
            mine = ps[ps["site_id"].astype(str) == selected]
            role = dict(zip(mine["parcel_id"].astype(str), mine["role"], strict=False))

            from planner.ui import data

            complete = data.reasons_for(path, policy)

            def site_parcels(g):  # on click only: a 1M-parcel layer is not scanned on every run of the page
                out = complete(g[g["parcel_id"].astype(str).isin(role)]).copy()
                out["site_id"] = selected
                out["role"] = out["parcel_id"].astype(str).map(role)
                return out

            st.markdown(f"**{tr('ex_site_parcels', id=selected)}**")
            export_buttons(parcels, kind="parcels", name=f"site_{selected}_parcels", key="ex_site_parcels",
                           select=site_parcels, count=len(role))


def map_page(gdf, index, positions, complete=None) -> None:
    """The map page's export: the parcels the current filters show (all parcels without a filter).

    ``complete``: gives the exported rows their reasons (:func:`planner.ui.data.reasons_for`), on click.
    """
    def done(g):
        return g if complete is None else complete(g)

    with st.expander(tr("ex_title"), expanded=False):
        if positions is None:
            export_buttons(gdf, kind="parcels", name="parcels", key="ex_map", select=done)
            return
        ids = index.gdf["parcel_id"].iloc[positions]

        def select(g):
            return done(g[g["parcel_id"].isin(ids)])

        export_buttons(gdf, kind="parcels", name="parcels_filtered", key="ex_map", select=select,
                       count=len(positions))
