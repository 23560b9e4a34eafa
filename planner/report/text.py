"""Report strings and column labels in Simplified Chinese and English."""

from __future__ import annotations

import math

import pandas as pd

from planner import i18n as _i18n

#: The label table is :data:`planner.i18n.LABELS` (one table for the app and the reports).
LABELS = _i18n.LABELS


#: Report sentences: key -> (zh, en).
TEXT: dict[str, tuple[str, str]] = {
    "title": ("园区标准化改造情景报告", "Standardized-park redevelopment scenario report"),
    "compare_title": ("情景对比报告", "Scenario comparison report"),
    "scenario": ("情景", "Scenario"),
    "generated": ("生成时间", "Generated"),
    "policy": ("数据来源（识别规则、调查版本、片区参数）", "Inputs (three-low policy, survey version, site parameters)"),
    "key_figures": ("主要指标", "Key figures"),
    "timeline": ("分年度进度", "Year by year"),
    "map": ("地块分布", "Site map"),
    "sites": ("地块明细", "Sites"),
    "assumptions": ("模型假设", "Assumptions"),
    "ledger": ("建筑面积账", "Floor-area ledger"),
    "chart_floor": ("建筑面积（万 m²）", "Floor area (10,000 m²)"),
    "chart_money": ("资金（亿元）", "Money (100 M yuan)"),
    "chart_floor_title": ("在建、交付与出租面积", "Under construction, delivered and occupied space"),
    "chart_money_title": ("年度投资与收入", "Investment and income per year"),
    "chart_cmp_floor": ("累计交付面积对比", "Delivered floor area by scenario"),
    "chart_cmp_money": ("累计投资对比", "Cumulative investment by scenario"),
    "chart_cmp_bars": ("主要指标对比", "Key figures by scenario"),
    "start_year_legend": ("启动年份", "Start year"),
    "sites_shown": ("仅列出排名前 {n} 个地块（共 {total} 个），完整明细见 Excel。",
                    "Only the {n} best-ranked of {total} sites are listed; the Excel workbook has them all."),
    "no_sites": ("本情景未选中任何地块。", "This scenario selects no sites."),
    "no_geometry": ("地块表无几何，无法绘图。", "The sites table has no geometry; no map."),
    "method": ("计算方法", "Method"),
    "method_text": (
        "新增建筑面积 = 用地面积 × 目标容积率 − 保留建筑面积；可租赁面积 = 新增面积 × (1 − 配套比例)；"
        "企业数 = 稳定期出租面积 ÷ 每企业面积；投资 = 新增面积 × 综合单价（含土地、拆除、配套）；"
        "回收期 = 投资 ÷ 稳定期年租金。",
        "New floor area = land area × target plot ratio − retained floor area; leasable = new × (1 − support "
        "share); enterprises = stabilized occupied space ÷ space per enterprise; investment = new floor area × "
        "all-in cost (land, demolition, infrastructure included); payback = investment ÷ stabilized annual rent."),
    "legend_under": ("在建", "Under construction"),
    "legend_delivered": ("累计交付", "Delivered"),
    "legend_occupied": ("已出租", "Occupied"),
    "legend_invest": ("投资", "Investment"),
    "legend_rent": ("租金", "Rent"),
    "legend_tax": ("新增税收", "Tax of new space"),
    "in_scenarios": ("包含该地块的情景数", "Scenarios including the site"),
    "site_membership": ("各情景地块差异", "Sites in one scenario and not another"),
    "only_in_baseline": ("仅在基准情景", "Only in baseline"),
    "only_in_scenario": ("仅在本情景", "Only in this scenario"),
    "in_both": ("两者均有", "In both"),
    "baseline": ("基准", "baseline"),
    "none": ("无", "none"),
    "label": ("说明", "Description"),
}


def label(key: str, lang: str = "zh", *, unit: bool = True, both: bool = False) -> str:
    """Column label from the one label table (:func:`planner.i18n.label`)."""
    return _i18n.label(key, lang, unit=unit, both=both)


def kind(key: str) -> str:
    """Number-format kind of a figure (see :data:`planner.i18n.LABELS`)."""
    return _i18n.label_kind(key)


def tr(key: str, lang: str = "zh", **kw) -> str:
    """A report sentence in ``lang`` ("zh" or "en")."""
    zh, en = TEXT[key]
    s = zh if lang == "zh" else en
    return s.format(**kw) if kw else s


def fmt(value, key: str, lang: str = "zh") -> str:
    """Human-readable number for a figure (万/亿 in Chinese, k/M/bn in English)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, str):
        return value
    k = kind(key)
    v = float(value)
    if math.isinf(v):
        return "∞"
    if k == "year":
        return f"{v:.0f}"
    if k == "years":
        return f"{v:.1f}"
    if k == "ratio":
        return f"{v:.2f}"
    if k == "share":
        return f"{v:.0%}"
    if k == "money":
        if lang == "zh":
            return f"{v / 1e8:,.2f} 亿元" if abs(v) >= 1e8 else f"{v / 1e4:,.1f} 万元"
        return f"{v / 1e9:,.2f} bn" if abs(v) >= 1e9 else f"{v / 1e6:,.1f} M"
    if k == "area":
        if lang == "zh" and abs(v) >= 1e4:
            return f"{v / 1e4:,.1f} 万"
        return f"{v:,.0f}"
    return f"{v:,.0f}"


def as_text(df: pd.DataFrame, blank: str = "–") -> pd.DataFrame:
    """Every cell as text; missing values (None, NaN, empty) shown as ``blank``."""
    out = df.astype(object).where(df.notna(), None)
    out = out.map(lambda v: blank if v is None or v == "" else str(v))  # a few dozen cells
    return out


def policy_text(result, lang: str = "en") -> str:
    """The inputs a scenario result rests on: policy name and short hash, survey version, site parameters.

    "–" when nothing is known.
    """
    sc = result.scenario
    prov = getattr(result, "provenance", None) or {}
    parts = []
    if sc.policy_name or sc.policy_hash:
        parts.append(f"{sc.policy_name} (sha256 {sc.policy_hash[:12]})" if sc.policy_hash else sc.policy_name)
    if prov.get("survey_version") is not None:
        parts.append(("调查版本 v{}" if lang == "zh" else "survey v{}").format(prov["survey_version"]))
    params = prov.get("site_params") or prov.get("params")
    if params:
        gap, area = params.get("gap_m", 2.0), params.get("min_area_m2", 10_000.0)
        parts.append(f"片区参数：间距 {gap:g} m，最小面积 {area:,.0f} ㎡" if lang == "zh"
                     else f"site parameters: gap {gap:g} m, min area {area:,.0f} m²")
    if prov.get("result_id"):
        parts.append(("片区结果 {}" if lang == "zh" else "sites result {}").format(prov["result_id"]))
    return " · ".join(parts) or "–"
