"""Geodata exports of scenario results (GeoPackage, GeoJSON) and the site columns every export shares."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.crs import to_lonlat_valid
from planner.errors import DataError
from planner.io.writers import DELIVERY_GPKG, write_csv
from planner.scenarios.model import ScenarioResult

#: Site columns written to the sites sheet / layer, in order.
SITE_COLUMNS = (
    "site_id", "rank", "template", "existing_rule", "start_year", "works_start", "delivery", "land_area_m2",
    "land_area_mu", "existing_floor_m2", "retained_floor_m2", "demolished_floor_m2", "new_floor_m2",
    "floor_after_m2", "net_change_m2", "plot_ratio_before", "plot_ratio_after", "leasable_m2", "occupied_m2",
    "enterprises_before", "enterprises_housed", "jobs_before", "jobs_after", "output_before_cny",
    "output_after_cny", "tax_before_cny", "tax_after_cny", "tax_per_mu_after", "investment_cny",
    "construction_cost_cny", "demolition_cost_cny", "other_cost_cny", "rent_cny_yr", "payback_years",
    "fiscal_payback_years",
)


def has_geometry(g) -> bool:
    """True for a GeoDataFrame with an active geometry column and a CRS."""
    return (isinstance(g, gpd.GeoDataFrame) and getattr(g, "_geometry_column_name", None) in g.columns
            and g.crs is not None)


def site_table(result: ScenarioResult) -> pd.DataFrame:
    """The scenario's per-site table in :data:`SITE_COLUMNS` order (no geometry)."""
    cols = [c for c in SITE_COLUMNS if c in result.sites.columns]
    return pd.DataFrame(result.sites[cols])


def template_names(results, lang: str = "zh") -> dict[str, str]:
    """Template code -> its name in ``lang`` (``standard_low_rent`` -> 标准厂房（低租金）) over ``results``."""
    return {k: (t.label_en if lang == "en" else t.label_zh) or k for r in results for k, t in (r.templates or {}).items()}


#: Coded site columns and the column of their names beside them in the geodata (GeoPackage, GeoJSON).
NAME_COLUMNS = {"template": "template_name", "existing_rule": "existing_rule_name"}


def readable(table: pd.DataFrame, result: ScenarioResult, lang: str = "zh") -> dict[str, list[str]]:
    """The names of a site table's coded columns in ``lang``, by column: the template's name
    (``standard_factory`` -> 标准厂房) and the rule for existing buildings (``retain_class`` -> 保留提升分类), as
    the Excel sheets and the reports show them."""
    from planner.i18n import value_label

    out = {}
    if "template" in table.columns:
        names = template_names([result], lang)
        out["template"] = [names.get(str(v), str(v)) if pd.notna(v) else "" for v in table["template"]]
    if "existing_rule" in table.columns:
        out["existing_rule"] = [value_label("existing", v, lang) if pd.notna(v) else "" for v in table["existing_rule"]]
    return out


def layer_name(name: str, default: str = "sites") -> str:
    """``name`` as a GeoPackage layer may be called: other than letters (any script), digits, spaces and ``_-.``
    becomes ``_``; a name GDAL or SQLite refuses (one starting with ``.``/``-``, or ``gpkg``/``sqlite_``, which
    they reserve) gets ``_`` in front. A scenario named ``../x`` or ``="x"`` is written, not refused mid-file."""
    out = "".join(ch if ch.isalnum() or ch in " _-." else "_" for ch in str(name)).strip() or default
    if not (out[0].isalnum() or out[0] == "_") or out.lower().startswith(("gpkg", "sqlite_")):
        out = "_" + out
    return out


def write_sites(result: ScenarioResult, path: str | Path, *, lang: str = "zh") -> Path:
    """Write the sites with their results as GeoPackage (``.gpkg``) or GeoJSON (``.geojson``/``.json``).

    The coded columns keep their codes (``template``, ``existing_rule``: what a script or a join reads) and have
    their names in ``lang`` beside them (``template_name``, ``existing_rule_name``: what QGIS or ArcGIS labels
    with), as the Excel sheets show them."""
    p = Path(path)
    g = result.sites
    if not has_geometry(g):
        msg = f"{p}: the scenario's sites have no geometry/CRS; run it on the workspace sites layer"
        raise DataError(msg)
    table = site_table(result).replace([np.inf, -np.inf], np.nan)
    for c in ("rank", "start_year", "works_start", "delivery"):  # whole numbers and calendar years, as every report
        if c in table.columns:  # shows them (QGIS labelled a site "2028.41666666667"; the Excel sheet says 2028)
            table[c] = np.floor(pd.to_numeric(table[c], errors="coerce") + 1e-9).astype("Int32")
    for col, names in readable(table, result, lang).items():
        table.insert(table.columns.get_loc(col) + 1, NAME_COLUMNS[col], names)
    out = gpd.GeoDataFrame(table, geometry=g.geometry.to_numpy(), crs=g.crs)
    out.insert(0, "scenario", result.name)
    p.parent.mkdir(parents=True, exist_ok=True)
    suffix = p.suffix.lower()
    if suffix == ".gpkg":
        out.to_file(p, layer=layer_name(result.name), driver="GPKG", engine="pyogrio", dataset_options=DELIVERY_GPKG)
    elif suffix in (".geojson", ".json"):
        # named after the scenario: the GeoJSON "name" member was the temporary file's, ".x.tmp-1234"
        to_lonlat_valid(out).to_file(p, layer=layer_name(result.name), driver="GeoJSON", engine="pyogrio")
    else:
        msg = f"{p}: unknown geodata format; use .gpkg or .geojson"
        raise DataError(msg)
    return p


# --------------------------------------------------------------------------- "export what you see"
#: Columns each kind of export writes, in order (those present): the one place that picks them.
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "parcels": ("parcel_id", "owner", "enterprise", "land_use", "status", "land_area_m2", "land_area_mu",
                "floor_area_m2", "plot_ratio", "coverage", "output_cny", "tax_cny", "output_per_mu", "tax_per_mu",
                "employees", "year_built", "low_utilization", "low_capacity", "low_contribution", "n_low",
                "n_unknown", "three_low", "upgrade_class", "grade", "reason_zh", "reason_en", "site_id", "role"),
    "sites": ("site_id", "rank", "status", "score", "n_parcels", "n_owners", "n_enterprises", "land_area_m2",
              "land_area_mu", "floor_area_m2", "plot_ratio", "flagged_share", "compactness", "constraint_overlap_m2",
              "n_retained_inside", "difficulty", "potential_floor_area_m2"),
}
#: Enterprise tax and output columns: written only for users who may see them (accounts and roles, issue 14).
RESTRICTED_COLUMNS = frozenset({"output_cny", "tax_cny", "output_per_mu", "tax_per_mu", "output_before_cny",
                                "output_after_cny", "tax_before_cny", "tax_after_cny", "tax_per_mu_after",
                                "tax_new_cny"})
EXPORT_FORMATS = ("gpkg", "shp", "xlsx")


def export_columns(gdf: pd.DataFrame, kind: str, *, may_see_tax: bool = True) -> list[str]:
    """The columns an export of ``kind`` ("parcels" or "sites") writes from ``gdf``, in order.

    Tax and output columns are left out when ``may_see_tax`` is False.
    """
    cols = [c for c in EXPORT_COLUMNS[kind] if c in gdf.columns]
    return [c for c in cols if may_see_tax or c not in RESTRICTED_COLUMNS]


#: Shapefile (dBase, 10 characters) names of the export columns longer than that: cut at 10 they read
#: "land_area_" and "land_area1" (m² or mu?), "low_utiliz", "potential_".
SHAPEFILE_FIELDS = {
    "land_area_m2": "land_m2", "land_area_mu": "land_mu", "floor_area_m2": "floor_m2", "output_per_mu": "output_mu",
    "low_utilization": "low_util", "low_capacity": "low_cap", "low_contribution": "low_contr",
    "upgrade_class": "upgrade", "n_enterprises": "n_enterpr", "flagged_share": "flag_share",
    "compactness": "compact", "constraint_overlap_m2": "constr_m2", "n_retained_inside": "n_retained",
    "potential_floor_area_m2": "pot_flr_m2",
}


def _short_names(cols: list[str]) -> dict[str, str]:
    """Unique field names of at most 10 characters (dBase) for a shapefile: :data:`SHAPEFILE_FIELDS`, else the
    name cut to 10 (and numbered when that is taken)."""
    out, used = {}, set()
    for c in cols:
        base = SHAPEFILE_FIELDS.get(c, c)[:10]
        name, i = base, 1
        while name.lower() in used:
            suffix = str(i)
            name = base[: 10 - len(suffix)] + suffix
            i += 1
        used.add(name.lower())
        out[c] = name
    return out


#: Bytes a dBase text field holds (a shapefile's text): GDAL cut longer text there without a word to the receiver.
DBF_TEXT_BYTES = 254


def _utf8_bytes(col: pd.Series) -> np.ndarray:
    """The UTF-8 length in bytes of each text of ``col``; 0 for a missing value or anything but text. In Arrow
    (20,000 parcels' reasons: a few ms; 0.5 s encoding them one by one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(col.array if hasattr(col, "array") else col, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # text mixed with numbers: one by one
        return col.map(lambda v: len(v.encode("utf-8")) if isinstance(v, str) else 0).to_numpy(dtype=np.int64)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return np.zeros(len(col), dtype=np.int64)
    return pc.binary_length(arr).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


def _cut_text(table: pd.DataFrame, limit: int = DBF_TEXT_BYTES) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """``table`` with every text longer than ``limit`` UTF-8 bytes cut at a whole character and ended with "…"
    (within ``limit``), and, by column, the whole texts of the rows cut (index as ``table``)."""
    out, cut = table.copy(), {}
    for c in table.columns:
        col = table[c]
        if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
            continue
        long = _utf8_bytes(col) > limit
        if long.any():
            cut[c] = col[long]
            out[c] = out[c].astype(object)
            out.loc[long, c] = [v.encode("utf-8")[: limit - 3].decode("utf-8", errors="ignore") + "…"
                                for v in cut[c]]
    return out, cut


def _stored_label(col: str, lang: str) -> str:
    """A column's name in ``lang`` with the unit its values are stored in (a label in 万㎡ would misstate m²)."""
    from planner.i18n import LABELS, _unit, column_label, display_unit, label

    if display_unit(col, lang) is None:
        return column_label(col, lang)
    u = _unit(LABELS[col][2], lang)
    return f"{label(col, lang, unit=False)}（{u}）" if lang == "zh" else f"{label(col, lang, unit=False)} ({u})"


def export_layer(gdf: gpd.GeoDataFrame, fmt: str, *, kind: str, name: str, lang: str = "zh",
                 may_see_tax: bool = True) -> bytes:
    """One export of a filtered layer as bytes: GeoPackage, zipped shapefile (UTF-8, with ``.cpg``) or Excel.

    Parameters
    ----------
    gdf : GeoDataFrame
        The rows the user sees (the current filter or selection).
    fmt : {"gpkg", "shp", "xlsx"}
    kind : {"parcels", "sites"}
        Which columns to write (:func:`export_columns`).
    name : str
        Layer and file name inside the GeoPackage or zip.
    lang : str
        Language of the Excel headers.
    may_see_tax : bool
        False leaves the enterprise tax and output columns out.
    """
    import tempfile
    import zipfile

    if fmt not in EXPORT_FORMATS:
        msg = f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}"
        raise DataError(msg, zh=f"未知的导出格式 {fmt}")
    cols = export_columns(gdf, kind, may_see_tax=may_see_tax)
    # ASCII file names: zip tools on Chinese Windows read names in GBK
    safe = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_" else "_" for ch in name).strip("_") or "export"
    table = pd.DataFrame(gdf[cols]).replace([np.inf, -np.inf], np.nan)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if fmt == "xlsx":
            from planner.report.excel import table_to_excel

            return table_to_excel(table, d / f"{safe}.xlsx", lang=lang).read_bytes()
        out = gpd.GeoDataFrame(table, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
        for c in out.columns:
            if pd.api.types.is_bool_dtype(out[c]) or str(out[c].dtype) == "boolean":
                out[c] = out[c].astype("Int64")
        if fmt == "gpkg":  # a MultiPolygon layer whichever rows were picked (as the workspace stores polygons)
            out.to_file(d / f"{safe}.gpkg", layer=safe, driver="GPKG", engine="pyogrio", promote_to_multi=True,
                        dataset_options=DELIVERY_GPKG)
            return (d / f"{safe}.gpkg").read_bytes()
        short = _short_names(cols)
        # a dBase text field holds 254 bytes (85 Chinese characters): longer text (a parcel's reasons) is cut at a
        # whole character and ends with "…"; its whole text goes in <name>_text.csv, keyed by the id to join on
        shp_table, cut = _cut_text(pd.DataFrame(out[cols]))
        out[cols] = shp_table
        out = out.rename(columns=short)
        out.to_file(d / f"{safe}.shp", driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        # what each field holds, in the units stored (m², yuan: never the reports' 万㎡), opened in Excel too
        fields = pd.DataFrame({"field": [short[c] for c in cols], "column": cols,
                               "zh": [_stored_label(c, "zh") for c in cols],
                               "en": [_stored_label(c, "en") for c in cols]})
        if cut:
            key = next((c for c in ("parcel_id", "site_id") if c in cols), None)
            mask = np.zeros(len(table), dtype=bool)
            for v in cut.values():
                mask |= table.index.isin(v.index)
            full = pd.DataFrame({short[key]: table[key].to_numpy()[mask]} if key else
                                {"row": np.flatnonzero(mask) + 1})  # the row of the layer, from 1
            for c, v in cut.items():
                full[short[c]] = table[c].where(table.index.isin(v.index)).to_numpy()[mask]
            write_csv(full, d / f"{safe}_text.csv")
            join = f"{short[key]}" if key else "row"
            fields["note_zh"] = [f"{len(cut[c])} 行超过 {DBF_TEXT_BYTES} 字节，在完整字符处截断并以“…”结尾；全文见 "
                                 f"{safe}_text.csv（按 {join} 关联）" if c in cut else "" for c in cols]
            fields["note_en"] = [f"{len(cut[c])} row(s) longer than {DBF_TEXT_BYTES} bytes, cut at a whole character "
                                 f"and ended with '…'; whole text in {safe}_text.csv (join on {join})" if c in cut
                                 else "" for c in cols]
        write_csv(fields, d / f"{safe}_fields.csv")
        buf = d / f"{safe}.zip"
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(d.iterdir()):
                if p.stem in (safe, f"{safe}_fields", f"{safe}_text") and p.suffix != ".zip":
                    z.write(p, p.name)
        return buf.read_bytes()
