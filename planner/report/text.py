"""Report strings and column labels in Simplified Chinese and English."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner import i18n as _i18n
from planner.i18n import display_width, pad  # noqa: F401 (the reports' and the commands' padding)

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
    "in_scenario": ("是否入选", "Selected"),
    "map": ("地块分布", "Site map"),
    "sites": ("地块明细", "Sites"),
    "assumptions": ("模型假设", "Assumptions"),
    "ledger": ("建筑面积账", "Floor-area ledger"),
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
        "规划总建筑面积 = 用地面积 × 目标容积率（保留建筑计入）；新建建筑面积 = 规划总建筑面积 − 保留建筑面积；"
        "新增产业空间 = 规划总建筑面积 − 现状建筑面积 = 新建 − 拆除；可租赁面积 = 新建面积 × (1 − 配套比例)；"
        "企业数 = 稳定期出租面积 ÷ 每企业面积；投资 = 新建面积 × 综合单价（含土地、拆除、配套）；"
        "仅计租金回收期 = 投资 ÷ 稳定期年租金；租金+税收回收期 = 投资 ÷ (年租金 + 年税收增量)。交付年份为整年，回收期保留一位小数。",
        "Gross planned floor area = land area × target plot ratio (retained buildings count toward it); floor area "
        "built = planned − retained; net new floor area = planned − existing = built − demolished; leasable = built "
        "× (1 − support share); enterprises = stabilized occupied space ÷ space per enterprise; investment = floor "
        "area built × all-in cost (land, demolition, infrastructure included); payback, rent only = investment ÷ "
        "stabilized annual rent; payback, rent + tax = investment ÷ (annual rent + annual tax gain). Delivery "
        "years are calendar years; paybacks are in years to one decimal."),
    "legend_under": ("在建", "Under construction"),
    "legend_delivered": ("累计交付", "Delivered"),
    "legend_occupied": ("已出租", "Occupied"),
    "legend_invest": ("投资", "Investment"),
    "legend_rent": ("租金", "Rent"),
    "legend_tax": ("新增税收", "Tax of new space"),
    "in_scenarios": ("地块所在情景", "Scenarios taking the site"),
    "site_membership": ("各情景地块差异", "Sites in one scenario and not another"),
    "only_in_baseline": ("仅在基准情景", "Only in baseline"),
    "only_in_scenario": ("仅在本情景", "Only in this scenario"),
    "in_both": ("两者均有", "In both"),
    "only_in_scenario_ids": ("仅在本情景的片区编号", "Site ids only in this scenario"),
    "baseline": ("基准", "baseline"),
    "none": ("无", "none"),
    "label": ("说明", "Description"),
    "unit": ("单位", "Unit"),
    "chart_floor_parts": ("建筑面积构成：保留、拆除、新建", "Floor area: retained, demolished, built"),
    "cmp_map_title": ("各情景的地块分布", "Sites of each scenario"),
    "group_both": ("两个情景都有", "In both"),
    "group_all": ("所有情景都有", "In every scenario"),
    "group_only": ("仅 {name}", "{name} only"),
    "legend_more": ("其余 {n} 类", "{n} more groups"),
    "and_more": ("…等另外 {n} 个", "… and {n} more"),
    "policy_edited": ("（含未保存的修改，基于 {base}）", " (with unsaved changes, based on {base})"),
    "sites_warning": ("警告：{text}", "Warning: {text}"),
    "sites_note": ("说明：{text}", "Note: {text}"),
    "policy_label": ("识别规则 {name}", "policy {name}"),
    "headline": ("一分钟看懂", "At a glance"),
    "difference": ("差值", "Difference"),
    "compare_table": ("指标对照表", "Side-by-side figures"),
    "cmp_legend": ("{letter}：{name}", "{letter}: {name}"),
    "cmp_legend_base": ("{letter}：{name}（基准）", "{letter}: {name} (baseline)"),
    "yearly": ("逐年曲线", "Year by year"),
    "role_flagged": ("三低地块", "Three-low parcel"),
    "role_absorbed": ("并入的小地块", "Absorbed small parcel"),
    "role_retained_inside": ("保留地块（高效）", "Retained parcel (high performer)"),
    "role_added": ("手动加入", "Added by hand"),
    "brief_title": ("一地一策 · 片区 {id}", "Site brief · {id}"),
    "brief_subtitle": ("低效工业用地连片改造策划", "Contiguous redevelopment of under-used industrial land"),
    "brief_map": ("片区位置与地块", "Site and parcels"),
    "brief_outline": ("片区边界", "Site boundary"),
    "brief_constraints": ("管控约束", "Constraints"),
    "brief_facts": ("基本情况", "Facts"),
    "brief_floor": ("现状与规划建筑面积", "Floor area now and planned"),
    "brief_why": ("认定理由（三低地块数）", "Why it was flagged (three-low parcels)"),
    "brief_constraints_retained": ("管控约束与保留地块", "Constraints and retained parcels"),
    "brief_parcels": ("地块清单", "Parcels"),
    "brief_no_constraint": ("无管控约束重叠。", "No overlap with constraints."),
    "brief_overlap": ("与管控约束重叠 {area} ㎡（已从片区中扣除）", "Overlaps constraints on {area} m² (cut out of the site)"),
    "brief_under": ("按情景「{name}」（{template}）测算", "Under scenario '{name}' ({template})"),
    "brief_default": ("按默认园区模板（{template}）测算", "With the default park template ({template})"),
    "brief_more_parcels": ("另有 {n} 宗地块未列出。完整清单：在应用「{page}」页选中片区 {id}，点「{export}」→「{what}」。",
                           "{n} more parcels not listed. Full list: in the app's {page} page select site {id}, then "
                           "{export} → {what}."),
    # -- briefs: status, the two plot ratios, what the figures keep, sites a scenario does not select
    "brief_status": ("片区状态", "Site status"),
    "brief_status_min": ("{status}（<{area}㎡）", "{status} (< {area} m²)"),
    "brief_status_max": ("{status}（>{area}㎡）", "{status} (> {area} m²)"),
    "brief_land_split": ("宗地面积 {gross} ㎡，扣除后片区用地 {net} ㎡。", "Parcel land {gross} m², site land after the cut-out {net} m²."),
    "brief_plot_ratio_parcels": ("容积率（按宗地面积）", "Plot ratio (÷ parcel land)"),
    "brief_plot_ratio_before": ("现状容积率（按片区用地）", "Plot ratio before (÷ site land)"),
    "brief_plot_ratio_after": ("改造后容积率（按片区用地）", "Plot ratio after (÷ site land)"),
    "brief_kept_count": ("测算保留地块", "Parcels kept in figures"),
    "brief_difficulty_scale": ("实施难度：权利人 {owners} 分/个，企业 {enterprises} 分/家，内部保留地块 {retained} 分/宗。",
                               "Difficulty points: {owners} per land-right holder, {enterprises} per enterprise, "
                               "{retained} per retained parcel inside (higher is harder)."),
    "brief_kept": ("测算保留 {n} 宗地块，建筑面积 {floor}（{rule}）：",
                   "The figures keep {n} parcel{s}, {floor} of floor area ({rule}):"),
    "brief_kept_none": ("测算不保留任何地块（{rule}）。", "The figures keep no parcel ({rule})."),
    "brief_rule_demolish": ("现状建筑全部拆除", "all existing buildings demolished"),
    "brief_rule_retain": ("现状建筑全部保留，加建至目标容积率", "all existing buildings kept, infill to the target plot ratio"),
    "brief_rule_retain_class": ("保留提升分类{classes}及内部高效地块",
                                "kept: upgrade class {classes}, and high performers"),
    "brief_kept_yes": ("保留", "Kept"),
    "brief_kept_no": ("拆除", "Demolished"),
    "brief_not_selected": ("情景「{name}」未选入本片区；以下为按其模板（{template}）与规则测算的参考值",
                           "Not selected by scenario '{name}': figures show what its template ({template}) and rules "
                           "would give"),
    "brief_floor_not_selected": ("现状与规划建筑面积（情景未选入）", "Floor area now and planned (not in scenario)"),
    "brief_unit_cny_mu": ("元/亩", "yuan/mu"),
    "brief_unit_cny_tce": ("元/吨标准煤", "yuan/tce"),
    "brief_unit_persons_ha": ("人/公顷", "persons/ha"),
    "brief_unit_years": ("年", "years"),
    "brief_out_of_date": ("已过期：本简报所依据的已存储片区结果与工作空间当前的数据不一致，以下数字可能已不再成立。",
                          "Out of date: the stored sites this brief rests on no longer match the workspace's data; "
                          "its figures may no longer hold."),
    "brief_settings_note": ("说明：本简报所依据的已存储片区结果所用设置与已保存的设置不同。",
                            "Note: the stored sites this brief rests on were built with other settings than the saved "
                            "ones."),
    "now": ("现状", "Now"),
    "planned": ("规划", "Planned"),
    "page": ("第 {i} 页 / 共 {n} 页", "Page {i} of {n}"),
    "parcel_id": ("地块编号", "Parcel id"),
    "owner": ("权利人", "Land-right holder"),
    "enterprise": ("企业", "Enterprise"),
    "role": ("类型", "Role"),
    "reasons": ("认定理由", "Reasons"),
    "sites_in_report": ("地块明细（前 {n} 个）", "Sites (first {n})"),
    "run_summary": ("情景 {name}：{n} 个片区", "scenario {name}: {n} sites"),
    # -- the sensitivity section (each estimated template parameter alone lower and higher)
    "sens_title": ("敏感性分析：各估计参数单独 ±{pct}", "Sensitivity: each estimated parameter alone ±{pct}"),
    "sens_note": ("回收期取决于若干估计参数（租金、综合造价等，来源等级见“模型假设”）。下面每个参数单独下调、上调 {pct}"
                  "（其余不变），情景重新计算：条形越长，结论越依赖该假设。",
                  "The paybacks rest on estimated parameters (rent, all-in cost...; their source grades are under "
                  "Assumptions). Below, the scenario is run again with each parameter alone {pct} lower and higher, "
                  "the rest unchanged: the longer the bar, the more the conclusion rests on that assumption."),
    "sens_range": ("{figure} {base}：任一参数单独 ±{pct} 时在 {lo} 至 {hi} {unit}之间，影响最大的是{param}。",
                   "{figure} {base}: between {lo} and {hi} {unit} with any one parameter ±{pct}; {param} moves it most."),
    "sens_param": ("参数", "Parameter"),
    "sens_value": ("参数值（−{pct} / 现值 / +{pct}）", "Value (−{pct} / as is / +{pct})"),
    "sens_low": ("参数 −{pct}", "Parameter −{pct}"),
    "sens_high": ("参数 +{pct}", "Parameter +{pct}"),
    "sens_as_is": ("现值", "as is"),
    "sens_unchanged": ("不变", "unchanged"),
    "sens_chart": ("{name}：回收期敏感性", "{name}: payback sensitivity"),
    "sens_mixed": ("本情景使用多个园区模板，各模板的参数值见“模型假设”。",
                   "This scenario uses several park templates: each one's values are under Assumptions."),
    "sens_hidden": ("按当前角色权限，以企业税收为基础的指标（租金+税收回收期、亩均税收）未列出。",
                    "Figures that start from enterprise tax (payback rent + tax, tax per mu) are left out for this role."),
    "sens_none": ("无可变动的估计参数。", "No estimated parameter to vary."),
    "sens_no_figures": ("本情景没有可计算的回收期（未选中地块，或租金为零）。",
                        "This scenario has no payback to vary (it selects no sites, or earns no rent)."),
    "sens_cli_title": ("敏感性（各参数单独 ±{pct}）：{name}", "sensitivity (each parameter alone ±{pct}): {name}"),
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


def _number(x: float) -> str:
    """A scaled amount with the decimals it needs: 1,780.0 · 22.3 · 5.25 · 0.045."""
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 10:
        return f"{x:,.1f}"
    if ax >= 1:
        return f"{x:,.2f}"
    dec = min(4, 2 - int(math.floor(math.log10(ax))))
    return f"{x:,.{dec}f}".rstrip("0").rstrip(".")


def scaled(value, key: str, lang: str = "zh") -> float:
    """An amount in its display unit (万㎡/亿元 in Chinese, m²/million yuan in English); other figures as they are."""
    du = _i18n.display_unit(key, lang)
    v = float(value)
    return v / du[0] if du else v


def pct_change(value, missing: str = "–") -> str:
    """A relative change as reports show it: ``+12.3%``, ``-4.0%``; ``0.0%`` when it rounds to zero (a plot ratio of
    2.4999 against 2.5 printed ``-0.0%``); ``missing`` when undefined."""
    try:
        v = round(float(value), 1)
    except (TypeError, ValueError):
        return missing
    if not math.isfinite(v):
        return missing
    return "0.0%" if v == 0 else f"{v:+.1f}%"


def fmt(value, key: str, lang: str = "zh", *, unit: bool = False) -> str:
    """Human-readable number for a figure, in the unit its label names (:func:`planner.i18n.display_unit`).

    Amounts are in 万㎡ and 亿元 in Chinese, m² and million yuan in English; calendar years are whole years
    (a delivery in October 2028 is "2028"), durations (paybacks) have one decimal (17.33 and 17.02 years read
    "17.3" and "17.0", not "17" twice beside a difference of 1.8%).
    ``unit=True`` appends the unit (cards); tables leave it to the header.

    Examples
    --------
    >>> fmt(17_800_000.0, "net_change_m2"), fmt(17_800_000.0, "net_change_m2", "en", unit=True)
    ('1,780.0', '17,800,000 m²')
    >>> fmt(2028.8, "last_delivery"), fmt(16.94, "fiscal_payback_years", unit=True)
    ('2028', '16.9 年')
    >>> fmt(3.0, "difficulty"), fmt(2.5, "difficulty")
    ('3', '2.5')
    """
    text = _fmt(value, key, lang, unit)
    if text.startswith("-") and text[1:2].isdigit():  # never "-0": a difference too small to show is 0
        num = text[1:].split(" ")[0].replace(",", "")
        try:
            if float(num) == 0:
                return text[1:]
        except ValueError:
            pass
    return text


def _fmt(value, key: str, lang: str, unit: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, str):
        return value
    k = kind(key)
    v = float(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"  # a payback that never comes, or a difference to one
    du = _i18n.display_unit(key, lang)
    if k == "year":
        return f"{math.floor(v + 1e-9):d}"
    if k == "years":  # a duration (payback): one decimal, so 17.3 and 17.0 years do not both read "17"
        text = f"{v:,.1f}"
        return f"{text} {'年' if lang == 'zh' else 'years'}" if unit else text
    if k == "ratio":
        return f"{v:.2f}"
    if k == "share":
        return f"{v:.0%}"
    if du is not None:
        x = v / du[0]
        text = f"{x:,.0f}" if du[0] == 1.0 else _number(x)
        return f"{text} {du[1]}" if unit else text
    if k in ("area", "money"):
        _zh, _en, u, _k = LABELS.get(key, ("", "", "", ""))
        text = f"{v:,.0f}"
        return f"{text} {_i18n._unit(u, lang)}" if unit and u else text
    if k == "points" and abs(v - round(v)) > 1e-9:  # points of difficulty weighted 1.5 per owner: 2.5 is not "2"
        return f"{v:,.1f}"
    return f"{v:,.0f}"


_NUMBER = re.compile(r"-?[\d,]+(\.\d+)?")


def decimals_shown(text: str) -> int:
    """Decimals of a number as shown ("1,780.0" -> 1, "17" -> 0); 0 for anything else."""
    return len(text.split(".")[1]) if _NUMBER.fullmatch(text) and "." in text else 0


def same_precision(values, key: str, lang: str = "zh") -> list[str]:
    """A column (or a comparison's row) of figures as :func:`fmt` shows them, all with the decimals of the most
    precise one (a site table's tax column read 0.93, 0.835, 0.59: one precision per column). The HTML and PDF
    site tables and the comparison tables and cards show numbers by this one rule. A true zero reads "0" in any
    column, in both languages ("0.000" beside 0.678 万㎡ retained read as "less than 5 m²", where none is; the
    English column of m² said "0").

    Examples
    --------
    >>> same_precision([93e6, 83.5e6, 59e6, float("nan")], "tax_after_cny", "zh")
    ['0.930', '0.835', '0.590', '–']
    >>> same_precision([6_778.3, 0.0, 12_300.0], "retained_floor_m2", "zh")
    ['0.678', '0', '1.230']
    >>> same_precision([2026.0, 2027.0], "start_year", "zh")
    ['2026', '2027']
    """
    values = list(values)
    texts = [fmt(v, key, lang) for v in values]
    decimals = [decimals_shown(t) for t in texts]
    d = max(decimals, default=0)
    return [fmt(f"{scaled(v, key, lang):,.{d}f}", key, lang) if _NUMBER.fullmatch(t) and n < d and t != "0" else t
            for v, t, n in zip(values, texts, decimals, strict=True)]


def shown_number(text: str) -> float:
    """The number a figure's text shows, in its display unit: ``"1,780.0"`` -> 1780.0, ``"∞"`` -> inf,
    ``"–"`` -> nan (a unit after a space is ignored)."""
    t = str(text).split(" ")[0].replace(",", "")
    if t in ("∞", "+∞", "-∞"):
        return -math.inf if t.startswith("-") else math.inf
    try:
        return float(t)
    except ValueError:
        return math.nan


def with_unit(text: str, key: str, lang: str = "zh") -> str:
    """A figure's number as shown (:func:`fmt`, :func:`same_precision`) with the unit :func:`fmt` ``unit=True``
    gives it: "11.6" -> "11.6 亿元/年", "17.3" -> "17.3 years"; anything but a number as it is."""
    if not _NUMBER.fullmatch(text):
        return text
    k = kind(key)
    u = ("年" if lang == "zh" else "years") if k == "years" else unit_of(key, lang) if k in ("area", "money") else ""
    return f"{text} {u}" if u else text


def scenario_keys(names) -> list[str]:
    """Short column keys of scenarios for tables too narrow for their names: A, B, C, … (a legend names them
    whole): three names of 40 characters made the PDF comparison table's headers eight lines tall.

    >>> scenario_keys(["上楼方案", "b", "c"])
    ['A', 'B', 'C']
    """
    letters = [chr(ord("A") + i) for i in range(26)]
    return [letters[i] if i < 26 else f"S{i + 1}" for i in range(len(list(names)))]


@dataclass(frozen=True)
class FigureRow:
    """One key figure of a comparison as every report shows it (:func:`figure_row`).

    ``values``: the scenarios' values as shown, baseline first, in one precision; ``diffs``: each other scenario
    less the baseline, computed from the values shown (a difference of "0" never stands beside "-1.8%");
    ``pcts``: the relative change of the unrounded values, so a Chinese and an English report (亿元, million yuan)
    print the same percentage, and "0.0%" beside a difference shown as 0; ``ways``: +1 better, -1 worse, 0 neither or no difference (:data:`~planner.scenarios.comparison.BETTER`).
    """

    key: str
    values: tuple[str, ...]
    diffs: tuple[str, ...]
    pcts: tuple[str, ...]
    ways: tuple[int, ...]

    def diff_with_unit(self, i: int, lang: str = "zh", *, minus: str = "-") -> str:
        """The ``i``-th difference with its unit (cards): "+180.7 亿元/年", "−0.3 years" (``minus``), "±0.0 年"."""
        d = self.diffs[i]
        if d == "–":
            return d
        num = d.lstrip("+-")
        sign = "±" if shown_number(d) == 0 else "+" if d.startswith("+") else minus
        return sign + with_unit(num, self.key, lang)


def figure_row(values, key: str, lang: str = "zh") -> FigureRow:
    """One figure of several scenarios (baseline first) as tables and cards show it: the values in one precision
    (:func:`same_precision`), the differences from those values, not from the unrounded ones, and the percentages
    from the unrounded values (a percentage of a rounded baseline magnifies its rounding: 11.2 亿元 for 11.244
    made a rise to 186.4 亿元 "+1564.3%" where it is +1557.7%, as the English report in million yuan said). A
    reader who divides the difference shown by the baseline shown gets the percentage to within that rounding.

    Examples
    --------
    >>> r = figure_row([17.33, 17.02, 17.04], "payback_years", "en")
    >>> r.values, r.diffs, r.pcts, r.ways
    (('17.3', '17.0', '17.0'), ('-0.3', '-0.3'), ('-1.8%', '-1.7%'), (1, 1))
    >>> figure_row([1_124.4e6, 18_636.2e6], "rent_cny_yr", "zh").pcts == figure_row(
    ...     [1_124.4e6, 18_636.2e6], "rent_cny_yr", "en").pcts
    True
    >>> figure_row([2031.0, 2050.0], "last_delivery").pcts  # a calendar year has no percentage
    ('–',)
    """
    from planner.scenarios.comparison import BETTER, CALENDAR_YEARS

    shown = same_precision(values, key, lang)
    base = shown_number(shown[0])
    raw = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").astype(float).tolist()
    diffs, pcts, ways = [], [], []
    for text, v_raw in zip(shown[1:], raw[1:], strict=True):
        v = shown_number(text)
        dec = max(decimals_shown(text), decimals_shown(shown[0]))
        with np.errstate(invalid="ignore"):
            d = round(v - base, dec) if math.isfinite(v - base) else v - base
        if math.isnan(d):
            diffs.append("–")
        elif math.isinf(d):
            diffs.append("+∞" if d > 0 else "-∞")
        else:
            zero = d == 0 and _i18n.display_unit(key, lang) is not None  # an amount: "0", as a true zero reads
            diffs.append("0" if zero else ("+" if d > 0 else "-" if d < 0 else "") + f"{abs(d):,.{dec}f}")
        ok = math.isfinite(d) and math.isfinite(base) and base != 0 and key not in CALENDAR_YEARS
        # the change of the values themselves, the same in every unit (11.2 亿元 is 1,124.4 million yuan: from the
        # values shown, rent income rose "+1564.3%" in Chinese and "+1557.7%" in English); a difference shown as 0
        # stands beside 0.0%
        pct = 0.0 if d == 0 else (v_raw - raw[0]) / abs(raw[0]) * 100.0 if raw[0] else math.nan
        pcts.append(pct_change(pct) if ok else "–")
        ways.append(int(BETTER.get(key, 0) * (np.sign(d) if not math.isnan(d) else 0)))
    return FigureRow(key, tuple(shown), tuple(diffs), tuple(pcts), tuple(ways))


def comparison_rows(cmp, lang: str = "zh", keys=None) -> dict[str, FigureRow]:
    """:func:`figure_row` of every key figure of a :class:`~planner.scenarios.Comparison` (or of ``keys``), in
    the table's order: what the HTML, PDF and CLI tables, the report cards and the app's comparison page show."""
    t = cmp.table
    keys = list(t.index) if keys is None else [k for k in keys if k in t.index]
    return {k: figure_row(t.loc[k, list(cmp.names)].astype(float).tolist(), k, lang) for k in keys}


#: Timeline columns whose figure-wide label would misname them: a year's investment is not "总投资" (the total).
TIMELINE_KEYS = {"investment_cny": "investment_in_year_cny"}


def timeline_key(key: str) -> str:
    """The label key of a timeline column or curve metric (:data:`TIMELINE_KEYS`; others keep theirs)."""
    return TIMELINE_KEYS.get(key, key)


def as_text(df: pd.DataFrame, blank: str = "–") -> pd.DataFrame:
    """Every cell as text; missing values (None, NaN, empty) shown as ``blank``."""
    out = df.astype(object).where(df.notna(), None)
    out = out.map(lambda v: blank if v is None or v == "" else str(v))  # a few dozen cells
    return out


def unit_of(key: str, lang: str = "zh") -> str:
    """The unit a figure is shown in (万㎡, 亿元, m², million yuan, 年...); "" when it has none."""
    du = _i18n.display_unit(key, lang)
    if du is not None:
        return du[1]
    u = LABELS.get(key, ("", "", "", ""))[2]
    return _i18n._unit(u, lang) if u else ""


def counted(text: str, n: int, lang: str = "zh") -> str:
    """A legend entry with its count: ``仅 A（785）`` in Chinese (full-width brackets, as the app's legend),
    ``A only (785)`` in English.

    >>> counted("所有情景都有", 10), counted("In every scenario", 10, "en")
    ('所有情景都有（10）', 'In every scenario (10)')
    """
    return f"{text}（{int(n):,}）" if lang == "zh" else f"{text} ({int(n):,})"


def group_label(group: str, names, lang: str = "zh") -> str:
    """Label of a comparison-map group (:meth:`planner.scenarios.Comparison.site_groups`)."""
    if group == "both":
        return tr("group_both", lang)
    if group == "all":
        return tr("group_all", lang)
    if group in list(names):
        return tr("group_only", lang, name=group)
    return group


def policy_text(result, lang: str = "en") -> str:
    """The inputs a scenario result rests on: the policy actually used (name, short hash, marked when it had
    unsaved changes), survey version, site parameters, sites result.

    The provenance of the result (what the sites were built from) comes first; the scenario's own saved
    policy name is used only when the result has none. "–" when nothing is known.
    """
    sc = result.scenario
    prov = getattr(result, "provenance", None) or {}
    name = prov.get("policy_name") or sc.policy_name
    h = prov.get("policy_hash") or sc.policy_hash
    parts = []
    if name or h:
        pol = tr("policy_label", lang, name=name or "–") + (f" (sha256 {h[:12]})" if h else "")
        if prov.get("policy_edited"):
            pol += tr("policy_edited", lang, base=prov.get("policy_base") or name or "–")
        parts.append(pol)
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


def sites_notes(results, lang: str = "zh") -> list[str]:
    """What reports of scenario results say of the stored sites they ran on: out of date ("Warning: the stored
    sites 'default' are out of date: ...; to rebuild them, run ..."), or built with other settings than the saved
    ones ("Note: ..."), as :func:`planner.workflow.operations.run_stored_scenario` noted them in the results'
    provenance (``sites_notes``); each once, however many of the results ran on the same sites. [] when none.

    Examples
    --------
    >>> from types import SimpleNamespace as R
    >>> n = {"kind": "stale", "en": "the stored sites 'a' are out of date: x", "zh": "已存储的片区结果 a 已过期：x"}
    >>> sites_notes([R(provenance={"sites_notes": [n]}), R(provenance={"sites_notes": [n]}), R(provenance={})], "en")
    ["Warning: the stored sites 'a' are out of date: x"]
    >>> sites_notes([R(provenance={"sites_notes": [{**n, "kind": "settings"}]})], "zh")
    ['说明：已存储的片区结果 a 已过期：x']
    """
    out = []
    for r in results:
        for n in (getattr(r, "provenance", None) or {}).get("sites_notes") or ():
            text = tr("sites_warning" if n.get("kind") == "stale" else "sites_note", lang,
                      text=n.get("zh") if lang == "zh" else n.get("en"))
            if text not in out:
                out.append(text)
    return out


def policy_used(result, lang: str = "en") -> str:
    """Just the policy part of :func:`policy_text`: name, short hash, marked when it had unsaved changes."""
    sc = result.scenario
    prov = getattr(result, "provenance", None) or {}
    name = prov.get("policy_name") or sc.policy_name
    h = prov.get("policy_hash") or sc.policy_hash
    if not (name or h):
        return "–"
    out = f"{name or '–'} ({h[:12]})" if h else str(name)
    if prov.get("policy_edited"):
        out += tr("policy_edited", lang, base=prov.get("policy_base") or name or "–")
    return out


def _param_number(v, param: str):
    """A number in the assumptions as people write it: ``2,600`` and ``5,600,000`` (not ``2600.0``), ``0.175``;
    years without a thousands separator. Anything else as it is."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return v
    if float(v).is_integer():
        year = param.endswith("year") and not param.endswith("per_year")
        return str(int(v)) if year else f"{int(v):,}"
    text = repr(float(v))  # every digit the value has
    whole, dot, frac = text.partition(".")
    return text if "e" in text or not dot else f"{int(whole):,}.{frac}" if whole != "-0" else text


#: Template parameters that are shares of 1 (land, floor area, occupancy): the assumptions show them as percentages
#: ("45%", "60%, 77.5%, 95%"), as their sources state them ("30-60%"), where they read 0.45 and 0.6, 0.775, 0.95.
SHARE_PARAMS = frozenset({"coverage", "road_yard_share", "green_share", "facility_share", "support_floor_share",
                          "absorption"})


def _share_text(v):
    """A share (or a list of shares written "0.6, 0.775, 0.95") as percentages; anything else as it is."""
    def pct(x: float) -> str:
        return f"{round(x * 100, 4):g}%"

    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and math.isfinite(v):
        return pct(float(v))
    if isinstance(v, str):
        try:
            return ", ".join(pct(float(x)) for x in v.split(","))
        except ValueError:
            return v
    return v


def assumptions_table(result, lang: str = "zh") -> pd.DataFrame:
    """The assumptions of a scenario result as readers see them: parameter labels (not keys), one column per
    park template under its name, coded values translated, the policy actually used, sources in ``lang``."""
    from planner.scenarios.model import assumptions_in

    a = assumptions_in(result.assumptions, lang)
    names = {}
    tpl_cols = [c for c in a.columns if c not in ("parameter", "source")]
    for c in tpl_cols:
        row = a.loc[a["parameter"] == ("label_en" if lang == "en" else "label_zh"), c]
        names[c] = str(row.iloc[0]) if len(row) and row.iloc[0] else str(c)
    a = a[~a["parameter"].isin(["label_zh", "label_en"])].copy()
    a[tpl_cols] = a[tpl_cols].astype(object)
    kept = ("、" if lang == "zh" else ", ").join(
        _i18n.value_label("upgrade", k, lang) for k in result.scenario.retain_classes)
    for c in tpl_cols:
        a.loc[a["parameter"] == "scenario.existing", c] = [  # which classes are kept, not a fixed "class 'retain'"
            _i18n.value_label("existing", v, lang) + ((f"：{kept}" if lang == "zh" else f": {kept}")
                                                      if v == "retain_class" else "")
            for v in a.loc[a["parameter"] == "scenario.existing", c]]
        budget = a["parameter"] == "scenario.budget_per_year"  # 60 亿元, not 6,000,000,000
        a.loc[budget & a[c].notna(), c] = [fmt(v, "investment_cny", lang, unit=True)
                                           for v in a.loc[budget & a[c].notna(), c]]
        a.loc[a["parameter"] == "policy", c] = policy_used(result, lang)
        a.loc[a["parameter"].isin(["scenario.sites_per_year", "scenario.budget_per_year"]) & a[c].isna(), c] = \
            "不限" if lang == "zh" else "no limit"
        a[c] = [_share_text(v) if p in SHARE_PARAMS else _param_number(v, p)
                for v, p in zip(a[c], a["parameter"], strict=True)]
    a["parameter"] = [_i18n.param_label(p, lang) for p in a["parameter"]]
    a = as_text(a)
    return a.rename(columns={"parameter": label("parameter", lang), "source": label("source", lang), **names})


# --------------------------------------------------------------------------- sensitivity
#: The figures a sensitivity section shows for each parameter (the tornado's bars): both paybacks.
SENSITIVITY_SHOWN = ("payback_years", "fiscal_payback_years")


def swing_text(swing: float) -> str:
    """A swing as its sections print it: ``0.2`` -> ``"20%"``."""
    return f"{swing:.0%}"


def sensitivity_outputs(table: pd.DataFrame) -> list[str]:
    """The shown figures (:data:`SENSITIVITY_SHOWN`) a sensitivity table has, with a finite base."""
    out = []
    for o in SENSITIVITY_SHOWN:
        if f"{o}_base" in table.columns and len(table):
            b = pd.to_numeric(table[f"{o}_base"], errors="coerce").to_numpy(float)
            if np.isfinite(b).any():
                out.append(o)
    return out


def param_value_text(v) -> str:
    """A template parameter's value in a sensitivity table: ``3,400``, ``24``, ``0.45``; "–" when unknown."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)) or pd.isna(v):
        return "–"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 100 or v.is_integer() else f"{v:,.3g}"


def sensitivity_empty(table: pd.DataFrame, lang: str = "zh") -> str | None:
    """Why a sensitivity table has nothing to show (no parameter varied, or no finite payback), else None."""
    if not len(table):
        return tr("sens_none", lang)
    return None if sensitivity_outputs(table) else tr("sens_no_figures", lang)


def sensitivity_has_values(table: pd.DataFrame) -> bool:
    """Whether the table names each parameter's value (a scenario on one park template)."""
    return "value_base" in table.columns and len(table) > 0 and bool(table["value_base"].notna().all())


def sensitivity_order(table: pd.DataFrame) -> np.ndarray:
    """The rows of a sensitivity table, the parameter that moves the first shown payback most first (the tornado's
    order, top down; ties as the table has them)."""
    outs = sensitivity_outputs(table)
    if not outs:
        return np.arange(len(table))

    def side(s: str) -> np.ndarray:
        return pd.to_numeric(table[f"{outs[0]}_{s}"], errors="coerce").to_numpy(float)

    span = sum(np.nan_to_num(np.abs(side(s) - side("base")), nan=0.0, posinf=0.0) for s in ("low", "high"))
    return np.argsort(-span, kind="stable")


def sensitivity_rows(table: pd.DataFrame, lang: str = "zh", swing: float = 0.2) -> list[list[str]]:
    """A sensitivity table as text, header first: per parameter (in the tornado's order) its label, its value lower /
    as is / higher (one template) and each shown payback at ``-swing``, as it is and ``+swing`` (one decimal, as
    every payback)."""
    table = table.iloc[sensitivity_order(table)]
    pct = swing_text(swing)
    outs = sensitivity_outputs(table)
    values = sensitivity_has_values(table)
    head = [tr("sens_param", lang), *([tr("sens_value", lang, pct=pct)] if values else [])]
    for o in outs:
        head += [f"{label(o, lang)} −{pct}", f"{label(o, lang)} {tr('sens_as_is', lang)}", f"{label(o, lang)} +{pct}"]
    rows = [head]
    for _, r in table.iterrows():
        row = [_i18n.param_label(r["parameter"], lang)]
        if values:
            row.append(" / ".join(param_value_text(r.get(f"value_{s}")) for s in ("low", "base", "high")))
        for o in outs:
            row += [fmt(r.get(f"{o}_{s}"), o, lang) for s in ("low", "base", "high")]
        rows.append(row)
    return rows


def _short_param(name: str, lang: str) -> str:
    """A parameter's label without its unit ("综合造价", "All-in cost"), for sentences."""
    return re.split(r"（| \(", _i18n.param_label(name, lang))[0]


def sensitivity_range(table: pd.DataFrame, output: str, lang: str = "zh", swing: float = 0.2) -> str | None:
    """One sentence: the figure as it is, the range it takes with any one parameter ``±swing``, and the parameter
    that moves it most ("仅计租金回收期 29.0 年：任一参数单独 ±20% 时在 24.2 至 36.3 年之间，影响最大的是综合造价。");
    None without finite figures.

    Examples
    --------
    >>> t = pd.DataFrame({"parameter": ["all_in_cost_per_m2", "rent_per_m2_month"], "payback_years_base": [20.0, 20.0],
    ...                   "payback_years_low": [16.0, 25.0], "payback_years_high": [24.0, 16.7]})
    >>> sensitivity_range(t, "payback_years", "en")
    'Payback, rent only 20.0 years: between 16.0 and 25.0 years with any one parameter ±20%; Rent moves it most.'
    """
    if f"{output}_base" not in table.columns or not len(table):
        return None
    base = float(pd.to_numeric(table[f"{output}_base"], errors="coerce").iloc[0])
    sides = table[[f"{output}_low", f"{output}_high"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    if not math.isfinite(base) or not np.isfinite(sides).any():
        return None
    span = np.nanmax(np.where(np.isfinite(sides), np.abs(sides - base), np.nan), axis=1)
    most = str(table["parameter"].iloc[int(np.nanargmax(span))])
    finite = sides[np.isfinite(sides)]
    lo, hi = min(base, float(finite.min())), max(base, float(finite.max()))
    base_text = fmt(base, output, lang, unit=True)
    return tr("sens_range", lang, figure=label(output, lang, unit=False), base=base_text, lo=fmt(lo, output, lang),
              hi=fmt(hi, output, lang), unit=base_text[len(fmt(base, output, lang)):].strip(), pct=swing_text(swing),
              param=_short_param(most, lang))
