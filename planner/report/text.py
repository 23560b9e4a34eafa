"""Report strings and column labels in Simplified Chinese and English."""

from __future__ import annotations

import math

import pandas as pd

#: Figure / column name -> (zh, en, unit, number format kind).
#: kind: "int" (thousands), "area", "money", "ratio", "year", "years", "share", "count", "text".
LABELS: dict[str, tuple[str, str, str, str]] = {
    "n_sites": ("地块数", "Sites", "", "count"),
    "site_id": ("地块编号", "Site", "", "text"),
    "rank": ("排名", "Rank", "", "count"),
    "template": ("园区模板", "Park template", "", "text"),
    "existing_rule": ("现状建筑", "Existing buildings", "", "text"),
    "land_area_m2": ("用地面积", "Land area", "m²", "area"),
    "land_area_mu": ("用地面积", "Land area", "亩 mu", "area"),
    "target_plot_ratio": ("目标容积率", "Target plot ratio", "", "ratio"),
    "existing_floor_m2": ("现状建筑面积", "Existing floor area", "m²", "area"),
    "retained_floor_m2": ("保留建筑面积", "Retained floor area", "m²", "area"),
    "demolished_floor_m2": ("拆除建筑面积", "Demolished floor area", "m²", "area"),
    "new_floor_m2": ("新增建筑面积", "New floor area", "m²", "area"),
    "floor_after_m2": ("改造后建筑面积", "Floor area after", "m²", "area"),
    "net_change_m2": ("建筑面积净增", "Net floor area change", "m²", "area"),
    "plot_ratio_before": ("现状容积率", "Plot ratio before", "", "ratio"),
    "plot_ratio_after": ("改造后容积率", "Plot ratio after", "", "ratio"),
    "leasable_m2": ("可租赁面积", "Leasable floor area", "m²", "area"),
    "occupied_m2": ("稳定期出租面积", "Occupied (stabilized)", "m²", "area"),
    "enterprises_before": ("现状企业数", "Enterprises before", "", "count"),
    "enterprises_housed": ("可容纳企业数", "Enterprises housed", "", "count"),
    "enterprises": ("入驻企业数", "Enterprises", "", "count"),
    "jobs_before": ("现状就业", "Jobs before", "", "count"),
    "jobs_after": ("改造后就业", "Jobs after", "", "count"),
    "jobs_new": ("新增就业", "New jobs", "", "count"),
    "output_before_cny": ("现状年产值", "Output before", "元/年 CNY/yr", "money"),
    "output_after_cny": ("改造后年产值", "Output after", "元/年 CNY/yr", "money"),
    "output_new_cny": ("新增产值", "Output of new space", "元 CNY", "money"),
    "tax_before_cny": ("现状年税收", "Tax before", "元/年 CNY/yr", "money"),
    "tax_after_cny": ("改造后年税收", "Tax after", "元/年 CNY/yr", "money"),
    "tax_new_cny": ("新增空间税收", "Tax of new space", "元 CNY", "money"),
    "tax_per_mu_after": ("改造后亩均税收", "Tax per mu after", "元/亩 CNY/mu", "money"),
    "investment_cny": ("总投资", "Investment", "元 CNY", "money"),
    "construction_cost_cny": ("建安费用", "Construction cost", "元 CNY", "money"),
    "demolition_cost_cny": ("拆除费用", "Demolition cost", "元 CNY", "money"),
    "other_cost_cny": ("土地、配套及其他", "Land, infrastructure, other", "元 CNY", "money"),
    "rent_cny_yr": ("年租金收入", "Rent income", "元/年 CNY/yr", "money"),
    "rent_cny": ("租金收入", "Rent income", "元 CNY", "money"),
    "payback_years": ("租金回收期", "Payback on rent", "年 yr", "years"),
    "fiscal_payback_years": ("租金+税收回收期", "Payback on rent + tax gain", "年 yr", "years"),
    "start_year": ("启动年份", "Start year", "", "year"),
    "works_start": ("开工", "Works start", "年 yr", "years"),
    "delivery": ("交付", "Delivery", "年 yr", "years"),
    "first_delivery": ("首批交付", "First delivery", "年 yr", "years"),
    "last_delivery": ("末批交付", "Last delivery", "年 yr", "years"),
    "peak_investment_cny_yr": ("年度投资峰值", "Peak annual investment", "元/年 CNY/yr", "money"),
    "new_floor_per_site_m2": ("地块平均新增面积", "New floor area per site", "m²", "area"),
    "m2_per_enterprise": ("每企业面积", "Space per enterprise", "m²", "area"),
    "year": ("年份", "Year", "", "year"),
    "sites_started": ("启动地块", "Sites started", "", "count"),
    "sites_delivered": ("交付地块", "Sites delivered", "", "count"),
    "under_construction_m2": ("在建面积", "Under construction", "m²", "area"),
    "delivered_m2": ("累计交付面积", "Delivered (cumulative)", "m²", "area"),
    "cum_investment_cny": ("累计投资", "Cumulative investment", "元 CNY", "money"),
    "cum_rent_cny": ("累计租金", "Cumulative rent", "元 CNY", "money"),
    "cum_tax_new_cny": ("累计新增税收", "Cumulative tax of new space", "元 CNY", "money"),
    "parameter": ("参数", "Parameter", "", "text"),
    "source": ("来源", "Source", "", "text"),
    "figure": ("指标", "Figure", "", "text"),
    "value": ("数值", "Value", "", "text"),
}

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
    """Column label, e.g. ``"新增建筑面积 New floor area (m²)"`` (``both``) or one language."""
    zh, en, u, _ = LABELS.get(key, (key, key, "", "text"))
    text = f"{zh} {en}" if both else (zh if lang == "zh" else en)
    if unit and u:
        if not both:  # keep the unit in the report's language
            u = u.split(" ")[0] if lang == "zh" else u.split(" ")[-1]
        text += f" ({u})"
    return text


def kind(key: str) -> str:
    """Number-format kind of a figure (see :data:`LABELS`)."""
    return LABELS.get(key, ("", "", "", "text"))[3]


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
