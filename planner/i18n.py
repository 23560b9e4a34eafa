"""UI strings in Simplified Chinese (default) and English.

One table, ``key -> (zh, en)``; :func:`t` looks a key up and formats it.
A missing key is a programming error and raises ``KeyError`` in tests
(``tests/test_app.py`` renders every page in both languages).

Examples
--------
>>> t("nav_map", "en")
'Map explorer'
>>> t("n_parcels", "zh", n=3)
'3 宗地块'
"""

from __future__ import annotations

import math
import unicodedata

LANGS = {"zh": "简体中文", "en": "English"}

#: Unicode categories a name may not hold: control and invisible formatting characters (a right-to-left
#: override turns the rest of its line around, a zero-width space makes two names look the same), line breaks.
HIDDEN = ("Cc", "Cf", "Zl", "Zp")


def has_hidden(text: str) -> bool:
    """Whether ``text`` holds a character of :data:`HIDDEN` (names of documents and accounts refuse them)."""
    return any(unicodedata.category(c) in HIDDEN for c in str(text))


def without_hidden(text: str) -> str:
    """``text`` without the characters of :data:`HIDDEN`: a name stored before the rule, as a page shows it."""
    return "".join(c for c in str(text) if unicodedata.category(c) not in HIDDEN)


def visible_text(text: str) -> str:
    r"""``text`` as a page heading, a map tooltip or a PDF shows a value from a delivered file or a typed name:
    the characters of :data:`HIDDEN` left out (a right-to-left override turned "r1c1\u202e4c3r" into "r1c1r3c4" on
    screen, a font has no glyph for them), as the tables leave them out (:func:`without_hidden`), but line breaks
    kept and a tab or another white space among them a space.

    >>> visible_text("abc\u202eexe.pdf\tx\u200b\nline2")
    'abcexe.pdf x\nline2'
    """
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c == "\n" or unicodedata.category(c) not in HIDDEN else " " if c.isspace() else "" for c in s)


def terminal_text(text: str, *, one_line: bool = False) -> str:
    r"""``text`` safe to print on a terminal: characters of :data:`HIDDEN` but line breaks and tabs written as
    escapes, so a value from a delivered file (a parcel id holding ``ESC[2J``, a carriage return, a bidi
    override) cannot clear, overwrite or reorder what a command prints. ``one_line``: line breaks and tabs
    too (a table cell: a user name holding a line break must not start a row of its own).

    Examples
    --------
    >>> print(terminal_text("Z1\x1b[2J\rREFUSED\u202e 厂房"))
    Z1\x1b[2J\x0dREFUSED\u202e 厂房
    >>> print(terminal_text("bob\nFAKE\tROW", one_line=True))
    bob\x0aFAKE\x09ROW
    """
    s = str(text)
    if s.isprintable():
        return s
    keep = "" if one_line else "\n\t"
    return "".join(c if c in keep or unicodedata.category(c) not in HIDDEN
                   else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in s)


def clipped(text: str, width: int) -> str:
    """``text`` in at most ``width`` terminal columns (:func:`display_width`): a longer one keeps its start and its
    end (a path's file name) around "…".

    >>> clipped("/srv/data/2025/very/long/folder/survey.gpkg", 24), clipped("短", 24)
    ('/srv/data/2…/survey.gpkg', '短')
    """
    s = str(text)
    if display_width(s) <= width:
        return s
    head, tail, room = [], [], width - 1
    for i in range(len(s)):  # alternately from the end and the start, the end first
        c = s[-1 - len(tail)] if i % 2 == 0 else s[len(head)]
        if display_width(c) > room:
            break
        room -= display_width(c)
        (tail if i % 2 == 0 else head).append(c)
    return "".join(head) + "…" + "".join(reversed(tail))


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide and full-width characters count two.

    >>> display_width("容积率 2.5")
    10
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def pad(text: str, width: int, *, left: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (:func:`display_width`), right-aligned unless
    ``left``: Chinese labels line up, where ``f"{x:<15}"`` counts a Chinese character as one column."""
    room = " " * max(0, width - display_width(text))
    return str(text) + room if left else room + str(text)


#: The ingest's unit names (planner/ingest/mapping.py) as each language writes them: (zh, en).
INGEST_UNITS = {"元": ("元", "yuan"), "yuan": ("元", "yuan"), "万元": ("万元", "10k yuan"),
                "10k_yuan": ("万元", "10k yuan"), "亿元": ("亿元", "100m yuan"), "100m_yuan": ("亿元", "100m yuan"),
                "m²": ("m²", "m²"), "m2": ("m²", "m²"), "亩": ("亩", "mu"), "mu": ("亩", "mu"),
                "公顷": ("公顷", "ha"), "ha": ("公顷", "ha"), "ft²": ("ft²", "ft²"),
                "percent": ("百分比", "percent"), "fraction": ("小数", "fraction")}


def ingest_unit_label(unit: str, lang: str = "zh") -> str:
    """A unit of a survey field as ``lang`` writes it (the data manager's mapping table, ``planner ingest``).

    >>> ingest_unit_label("10k_yuan", "zh"), ingest_unit_label("万元", "en"), ingest_unit_label("percent", "zh")
    ('万元', '10k yuan', '百分比')
    """
    pair = INGEST_UNITS.get(str(unit))
    return str(unit) if pair is None else pair[1 if lang == "en" else 0]


def local_time(iso, zone=None) -> str:
    """A stored UTC ISO time as ``YYYY-MM-DD HH:MM`` in ``zone`` (a tzinfo; None: the machine's), "—" when missing.

    >>> import datetime as dt
    >>> local_time("2025-03-01T02:30:00+00:00", dt.timezone(dt.timedelta(hours=8))), local_time(None)
    ('2025-03-01 10:30', '—')
    """
    import datetime as _dt
    import math

    if iso is None or (isinstance(iso, float) and math.isnan(iso)) or str(iso) in ("", "None", "nan", "NaT"):
        return "—"
    try:
        t = _dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.astimezone(zone).strftime("%Y-%m-%d %H:%M")


_GEOM_ZH = {"polygon": "面", "multipolygon": "面（多部件）", "point": "点", "multipoint": "点（多部件）",
            "linestring": "线", "multilinestring": "线（多部件）", "none": "无几何（属性表）", "unknown": "未知几何"}


def geometry_label(gtype: str, lang: str = "zh") -> str:
    """GDAL's geometry type of a layer as ``lang`` writes it (the data manager's layer picker, ``planner ingest``).

    >>> geometry_label("Polygon Z", "zh"), geometry_label("None", "en")
    ('面 Z', 'no geometry (attribute table)')
    """
    if lang != "zh":
        return "no geometry (attribute table)" if gtype == "None" else gtype
    base, _, z = str(gtype).partition(" ")
    return _GEOM_ZH.get(base.lower(), gtype) + (f" {z}" if z else "")


STRINGS: dict[str, tuple[str, str]] = {
    # app / navigation
    "app_title": ("低效工业用地更新规划", "Industrial land revitalization planner"),
    "nav_map": ("地图浏览", "Map explorer"),
    "nav_rules": ("三低识别", "Three-low rules"),
    "nav_sites": ("连片地块", "Contiguous sites"),
    "nav_scenarios": ("情景模拟", "Scenario builder"),
    "nav_compare": ("情景对比", "Scenario comparison"),
    "nav_data": ("数据管理", "Data manager"),
    # sidebar
    "workspace": ("工作空间", "Workspace"),
    "workspace_help": ("本服务器提供的工作空间（由管理员在数据目录 PLANNER_DATA_DIR 中配置）",
                       "Workspaces this server offers (the operator sets them up in the data directory, PLANNER_DATA_DIR)"),
    "workspace_missing": ("找不到工作空间 {path}。请管理员用 `planner sample-data` 生成，或在数据目录中放入 .gpkg 文件。",
                          "Workspace {path} not found. The operator can create it with `planner sample-data` or put a .gpkg file in the data directory."),
    "workspace_bad": ("无法打开工作空间：{err}", "Cannot open the workspace: {err}"),
    "workspace_bad_named": ("{err}", "{err}"),  # an error that names the workspace itself (state.workspace_error)
    "no_survey": ("工作空间中还没有地块调查数据，请在「数据管理」页上传。",
                  "The workspace holds no parcel survey yet; upload one on the Data manager page."),
    "language": ("语言 / Language", "Language / 语言"),
    "basemap": ("底图", "Basemap"),
    "bm_blank": ("空白（离线）", "Blank (offline)"),
    "bm_osm": ("OpenStreetMap", "OpenStreetMap"),
    "bm_tianditu": ("天地图（需密钥）", "Tianditu (key needed)"),
    "bm_amap": ("高德（GCJ-02，数据自动偏移）", "AMap (GCJ-02, data shifted)"),
    "bm_custom": ("自定义瓦片服务", "Custom tile server"),
    "custom_url": ("瓦片 URL 模板", "Tile URL template"),
    "tianditu_no_key": ("未配置天地图密钥（PLANNER_TIANDITU_KEY 或 secrets 中 [tianditu] key），已改用空白底图。",
                        "No Tianditu key (PLANNER_TIANDITU_KEY or [tianditu] key in secrets); using the blank basemap."),
    "survey_version": ("当前调查版本：v{v}（{n:,} 宗）", "Current survey: v{v} ({n:,} parcels)"),
    "policy_in_use": ("识别规则：{name}", "Policy: {name}"),
    "no_rules": ("当前规则没有可调整阈值的指标规则。", "The current rules have no indicator rule with a threshold to vary."),
    "error": ("出错：{err}", "Error: {err}"),
    # map explorer
    "color_by": ("着色依据", "Colour by"),
    "color_class": ("三低分类", "Three-low class"),
    "color_upgrade": ("提升分类", "Upgrade class"),
    "breaks_method": ("分级方法", "Class breaks"),
    "quantile": ("分位数", "Quantile"),
    "equal": ("等间距", "Equal interval"),
    "filters": ("筛选", "Filters"),
    "f_land_use": ("用地类型", "Land use"),
    "f_class": ("三低分类", "Three-low class"),
    "f_upgrade": ("提升分类", "Upgrade class"),
    "f_area": ("用地面积（㎡）", "Land area (m²)"),
    "f_owner": ("权利人/企业搜索", "Owner / enterprise search"),
    "zoom_to": ("定位到地块编号或片区编号", "Zoom to a parcel id or site id"),
    "not_found": ("未找到 {id}", "{id} not found"),
    "layers": ("图层", "Layers"),
    "lyr_parcels": ("地块", "Parcels"),
    "lyr_grid": ("网格汇总（三低用地占比）", "Grid summary (share of three-low land)"),
    "lyr_sites": ("候选连片地块", "Candidate sites"),
    "lyr_constraints": ("管控约束", "Constraints"),
    "lyr_barriers": ("阻隔（道路/河流/铁路）", "Barriers (roads, rivers, railways)"),
    "legend": ("图例", "Legend"),
    "map_wheel_hint": ("点击地图后可用滚轮缩放", "Click the map to zoom with the wheel"),
    "cls_three_low": ("三低", "Three-low"),
    "cls_partial": ("部分指标偏低", "Partly low"),
    "cls_ok": ("正常", "Not low"),
    "cls_unknown": ("数据不足", "Unknown (missing data)"),
    "cls_retain": ("保留", "Retain"),
    "cls_upgrade": ("提升改造", "Upgrade in place"),
    "cls_redevelop": ("再开发", "Redevelop"),
    "grid_share": ("三低用地占比", "Share of three-low land"),
    "lod_grid": ("当前视图内 {n:,} 宗地块，以 {cell:,.0f} 米网格汇总显示；放大后显示地块。",
                 "{n:,} parcels in view, shown as a {cell:,.0f} m grid; zoom in to see parcels."),
    "lod_features": ("当前视图显示 {shown:,} / {n:,} 宗地块。", "Showing {shown:,} of {n:,} parcels in view."),
    "lod_truncated": ("（仅显示面积最大的 {shown:,} 宗，请放大）", " (only the {shown:,} largest; zoom in)"),
    "click_hint": ("点击地图上的地块查看属性、指标与认定理由。", "Click a parcel on the map to see its attributes, indicators and reasons."),
    "parcel_detail": ("地块 {id}", "Parcel {id}"),
    "reasons": ("认定理由", "Reasons"),
    "attributes": ("属性", "Attributes"),
    "indicators": ("指标", "Indicators"),
    "no_reasons": ("无（未被认定为偏低）", "None (no criterion is low)"),
    "item": ("项目", "Item"),
    "value": ("数值", "Value"),
    "selected_site": ("所选片区", "Selected site"),
    "n_parcels": ("{n} 宗地块", "{n} parcels"),
    "m_parcels": ("地块数", "Parcels"),
    "m_land": ("用地面积（公顷）", "Land area (ha)"),
    "m_three_low": ("三低地块", "Three-low parcels"),
    "m_three_low_land": ("三低用地（公顷）", "Three-low land (ha)"),
    "m_unknown": ("数据不足", "Unknown"),
    "m_sites": ("候选片区", "Candidate sites"),
    "unclassified": ("尚未运行三低识别（classify 模块不可用），地块按“数据不足”显示。",
                     "Three-low classification is not available (no classify module); parcels are shown as unknown."),
    # indicators (classification output, docs/CONTRACTS.md)
    "ind_land_area_mu": ("用地面积（亩）", "Land area (mu)"),
    "ind_plot_ratio": ("容积率", "Plot ratio"),
    "ind_coverage": ("建筑密度", "Building coverage"),
    "ind_output_per_mu": ("亩均产值（元/亩）", "Output per mu (yuan/mu)"),
    "ind_tax_per_mu": ("亩均税收（元/亩）", "Tax per mu (yuan/mu)"),
    "ind_employees_per_ha": ("就业密度（人/公顷）", "Employees per ha"),
    "ind_far_gap": ("容积率差距", "Plot-ratio gap"),
    "ind_floor_potential_m2": ("可增建筑面积（㎡）", "Floor-area potential (m²)"),
    "ind_years_since_built": ("建成年数", "Years since built"),
    "ind_low_utilization": ("低利用率", "Low utilization"),
    "ind_low_capacity": ("低产能", "Low capacity"),
    "ind_low_contribution": ("低贡献", "Low contribution"),
    "ind_n_low": ("偏低项数", "Low criteria"),
    "ind_n_unknown": ("未知项数", "Unknown criteria"),
    "ind_three_low": ("三低", "Three-low"),
    "ind_upgrade_class": ("提升分类", "Upgrade class"),
    "ind_grade": ("亩均评价等级", "Per-mu grade"),
    # rules
    "rules_intro": ("调整识别规则，实时查看各项认定的地块数与用地面积。",
                    "Edit the rules and see live counts of flagged parcels and land per criterion."),
    "criterion": ("认定项", "Criterion"),
    "rule": ("规则", "Rule"),
    "indicator": ("指标", "Indicator"),
    "threshold": ("阈值", "Threshold"),
    "percentile": ("分位数（%）", "Percentile (%)"),
    "enabled": ("启用", "Enabled"),
    "min_criteria": ("认定为三低所需的偏低项数", "Low criteria needed for three-low"),
    "c_low_utilization": ("低利用率", "Low utilization"),
    "c_low_capacity": ("低产能", "Low capacity"),
    "c_low_contribution": ("低贡献", "Low contribution"),
    "n_low": ("偏低", "Low"),
    "n_ok": ("正常", "OK"),
    "n_unk": ("数据不足", "Unknown"),
    "land_ha": ("面积（公顷）", "Land (ha)"),
    "sensitivity": ("阈值敏感性", "Threshold sensitivity"),
    "sens_rule": ("选择规则", "Rule"),
    "sens_caption": ("横轴为阈值，纵轴为该规则认定的地块数与用地面积；红线为当前阈值。",
                     "Threshold on the x axis; parcels and land flagged by this rule on the y axis; the red line is the current threshold."),
    "policy_name": ("规则名称", "Policy name"),
    "save_policy": ("保存规则", "Save policy"),
    "saved": ("已保存：{name} v{v}", "Saved: {name} v{v}"),
    "load_policy": ("载入已保存的规则", "Load a saved policy"),
    "default_policy": ("默认规则", "Default policy"),
    "use_policy": ("在其他页面使用此规则", "Use this policy on the other pages"),
    "in_scope": ("适用用地类型", "Land uses in scope"),
    # sites
    "site_params": ("连片参数", "Site settings"),
    "gap_m": ("间隙容差（米）", "Gap tolerance (m)"),
    "min_area": ("最小片区面积（㎡）", "Minimum site area (m²)"),
    "use_barriers": ("道路/河流/铁路阻隔", "Barriers separate sites"),
    "absorb_enclaves": ("吸收被包围的小地块", "Absorb enclosed small parcels"),
    "max_enclave": ("可吸收地块最大面积（㎡）", "Largest absorbable parcel (m²)"),
    "site_table": ("片区排序", "Ranked sites"),
    "select_site_hint": ("选择表格中的一行，地图将定位到该片区；点击地图上的片区将高亮对应行。",
                         "Select a row to zoom the map to that site; click a site on the map to highlight its row."),
    "edit_site": ("编辑片区", "Edit site"),
    "edit_mode": ("点击地块时", "When a parcel is clicked"),
    "edit_none": ("仅查看", "Only show it"),
    "edit_add": ("加入所选片区", "Add it to the selected site"),
    "edit_remove": ("从所选片区移除", "Remove it from the selected site"),
    "edits": ("手动调整：{n} 处", "Manual edits: {n}"),
    "save_edits": ("保存片区调整", "Save site edits"),
    "draw_hint": ("用地图左侧的绘图工具画出片区边界，即可查看其指标。",
                  "Draw a site boundary with the tool on the left of the map to get its metrics."),
    "drawn_metrics": ("绘制片区的指标", "Metrics of the drawn site"),
    "no_sites": ("当前参数下没有候选片区。", "No candidate sites with these settings."),
    "building_sites": ("正在生成连片片区…", "Building contiguous sites…"),
    "classifying": ("正在识别三低地块…", "Classifying parcels…"),
    # scenarios
    "sc_name": ("情景名称", "Scenario name"),
    "sc_sites": ("选择片区", "Sites"),
    "sc_top_n": ("按排名取前 N 个片区", "Top N sites by rank"),
    "sc_template": ("园区模板", "Park template"),
    "sc_params": ("参数", "Parameters"),
    "sc_run": ("计算", "Compute"),
    "sc_save": ("保存情景", "Save scenario"),
    "sc_existing": ("现状建筑", "Existing buildings"),
    "sc_ex_demolish": ("全部拆除重建", "Demolish all"),
    "sc_ex_retain": ("全部保留（加建）", "Retain all (infill)"),
    "sc_ex_retain_class": ("保留所选提升分类的地块", "Keep parcels of the chosen upgrade classes"),
    "sc_start": ("起始年份", "Start year"),
    "sc_per_year": ("每年启动片区数", "Site starts per year"),
    "sc_per_year_help": ("0 表示不限", "0 = no limit"),
    "sc_assumptions": ("参数与来源", "Assumptions and sources"),
    "sc_sensitivity": ("敏感性", "Sensitivity"),
    "sc_sens_help": ("回收期取决于若干估计参数（租金、综合造价等，来源等级 P/G 见“参数与来源”）。"
                     "下图为每个参数单独下调、上调 20%（其余不变）时的回收期：最长的条形就是结论最依赖的假设。",
                     "The paybacks rest on estimated parameters (rent, all-in cost...; their P/G grades are under "
                     "Assumptions). Below, each parameter alone 20% lower and higher, the rest unchanged: the longest "
                     "bar is the assumption the conclusion rests on most."),
    "sc_sens_run": ("计算敏感性（各参数 ±20%）", "Compute the sensitivity (each parameter ±20%)"),
    "sc_sens_stale": ("情景或片区已改变：请重新计算敏感性。", "The scenario or the sites changed: compute the sensitivity again."),
    "sc_sens_running": ("正在逐个参数重新计算情景…", "Running the scenario again for each parameter…"),
    "sc_sens_side": ("参数变化", "Parameter change"),
    "sc_sens_param": ("参数", "Parameter"),
    "sc_sens_value": ("参数值", "Value"),
    "sc_ledger": ("建筑面积台账", "Floor-area ledger"),
    "sc_timeline": ("逐年进度", "Timeline"),
    "sc_need_sites": ("请先在「连片地块」页生成候选片区。", "Build candidate sites on the Sites page first."),
    # compare
    "cmp_pick": ("选择两个或更多已保存情景", "Pick two or more saved scenarios"),
    "cmp_need_two": ("请至少选择两个情景。", "Pick at least two scenarios."),
    "cmp_no_saved": ("还没有已保存的情景，请在「情景模拟」页保存。", "No saved scenarios yet; save some on the Scenario builder page."),
    "cmp_diff": ("与 {base} 的差值", "Difference from {base}"),
    "dl_excel": ("下载 Excel 报告", "Download Excel report"),
    "dl_html": ("下载 HTML 报告", "Download HTML report"),
    # data manager
    "dm_upload": ("上传调查数据", "Upload a survey"),
    "dm_upload_help": ("支持 zip（Shapefile：同名的 .shp、.shx、.dbf、.prj 压缩在一起）、gpkg、geojson、fgb、带 WKT 的 csv",
                       "zip (a shapefile: its .shp, .shx, .dbf and .prj zipped together), gpkg, geojson, fgb, "
                       "csv with WKT"),
    "dm_field_map": ("字段对应", "Field mapping"),
    "dm_source_field": ("源字段", "Source field"),
    "dm_target_field": ("标准字段", "Canonical field"),
    "dm_crs": ("坐标系（无法自动识别时选择）", "CRS (when it cannot be detected)"),
    "dm_no_crs": ("{name} 没有坐标系（缺少 .prj 文件，或文件中未写明），请在「坐标系」中选择后再校验。{hint}"
                  "经纬度：国家 2000（CGCS2000）选 EPSG:4490，从高德、腾讯等网络地图导出的（火星坐标）选 gcj02；"
                  "平面坐标请按测绘单位的说明选择。",
                  "{name} has no CRS (no .prj file, or none written in the file): choose it under CRS, then "
                  "validate. {hint}Longitude/latitude: EPSG:4490 for CGCS2000, gcj02 for exports of AMap, Tencent "
                  "and other Chinese web maps; projected coordinates: as the survey office says."),
    "dm_unit": ("单位", "Unit"),
    "dm_unit_help": ("源字段的单位；留空则按字段名判断（如 CZ、NSE 为万元，字段名含“亩”“公顷”者按其换算），"
                     "校验报告会列出实际采用的单位",
                     "Unit of the source field; empty: as its name says (CZ, NSE: 万元 = 10k yuan; a name "
                     "with 亩 or 公顷: that unit); the validation report lists the units used"),
    "dm_units_used": ("读取单位：{units}。如与数据不符，请在「字段对应」的单位列中改正后重新校验。",
                      "Read in: {units}. If a unit is wrong, correct it in the Unit column of the field mapping and "
                      "validate again."),
    "dm_kept": ("继续处理离开本页前上传的 {name}（尚未发布，工作空间未改变）；字段对应与坐标系已按文件重新识别，请重新校验。",
                "Carrying on with {name}, uploaded before you left this page (not published; the workspace is "
                "unchanged); the field mapping and CRS were detected from the file again: validate it again."),
    "dm_layer": ("选择宗地图层（文件中有 {n} 个图层）", "Parcel layer (the file holds {n} layers)"),
    "dm_layer_option": ("{name} — {geom} · {n} 条", "{name} — {geom} · {n} rows"),
    "dm_layer_option_in": ("{name}（{file}）— {geom} · {n} 条", "{name} ({file}) — {geom} · {n} rows"),
    "dm_layer_help": ("面图层排在前面；命令行导入时用 --layer 指定同一图层（压缩包中多个文件有同名图层时再加 --file 文件名）",
                      "Polygon layers come first; on the command line, --layer names the same layer (and --file "
                      "its file when two files of the zip hold a layer of that name)"),
    "dm_layer_pick": ("{name} 含 {n} 个图层：请在上方选择宗地（面）图层，再核对字段对应并校验。",
                      "{name} holds {n} layers: pick the parcel (polygon) layer above, then check the field mapping "
                      "and validate."),
    "dm_id_format": ("宗地代码写法不一致：{msg}", "Parcel ids written differently: {msg}"),
    "dm_same_file": ("{name} 与 {when} 由 {user} 发布的调查版本 v{v} 是同一个文件（校验和相同）。",
                     "{name} is the same file as survey version v{v}, published by {user} on {when} (same checksum)."),
    "dm_nothing_changed": ("{name} 与当前调查版本相比没有任何新增、删除或变更，无需发布（发布将产生一个相同的版本）。",
                           "{name} adds, removes and changes nothing against the current survey: there is nothing to "
                           "publish (it would make an identical version)."),
    "upload_refused": ("未上传：超过 {size} 或不是可上传的类型", "Not uploaded: over {size} or not a kind listed"),
    "dm_upload_limit": ("单个文件最大 {mb:,} MB（更大的文件浏览器不会上传）；更大的调查请由管理员在"
                        "服务器上用命令行 planner ingest 导入。",
                        "At most {mb:,} MB a file (the browser does not send a bigger one); a "
                        "bigger survey is loaded on the server by an administrator with planner ingest."),
    "dm_notes": ("读取说明（{n} 条）", "Notes on the reading ({n})"),
    "dm_note": ("- {msg}", "- {msg}"),
    "dm_discard": ("放弃此文件", "Discard this file"),
    "dm_no_crs_hint": ("从坐标范围看可能是：{crs}。", "From the coordinate ranges it may be: {crs}. "),
    "dm_encoding": ("字符编码", "Encoding"),
    "dm_label": ("版本说明", "Version label"),
    "dm_validation": ("校验报告", "Validation report"),
    "dm_diff": ("与当前版本的差异", "Difference from the current survey"),
    "dm_mode_update": ("局部更新：文件中的地块替换其覆盖范围内的现有地块，其余地块保留（被合并或覆盖而移除 {n} 宗）",
                       "Partial update: the file's parcels replace the current parcels of the area they cover; "
                       "the rest are kept ({n} removed as merged or covered)"),
    "dm_mode_replace": ("整体替换：文件成为新的完整地块图层", "Full replacement: the file becomes the whole parcel layer"),
    "dm_publish": ("发布为新版本", "Publish as a new version"),
    "dm_cancel": ("取消", "Cancel"),
    "dm_cancelled": ("已取消，工作空间未改变。", "Cancelled; the workspace is unchanged."),
    "dm_published": ("已发布调查版本 v{v}（{n:,} 宗）", "Published survey version v{v} ({n:,} parcels)"),
    "dm_versions": ("调查版本", "Survey versions"),
    "dm_set_current": ("设为当前版本（切换/回滚）", "Make current (switch / roll back)"),
    "dm_switched": ("当前版本已切换为 v{v}", "Current version is now v{v}"),
    # after a switch: what it left out of date (the command line says it too, with its commands)
    "dm_switched_from": ("当前{what}已由 v{was} 切换为 v{v}（已记入操作日志）",
                         "The current {what} is now v{v} (was v{was}); recorded in the audit log"),
    "dm_switched_already": ("v{v} 已是当前{what}（可能已由同事切换），未作任何更改",
                            "v{v} is already the current {what} (a colleague may have switched it); nothing was changed"),
    "dm_switched_stale": ("已过期（基于其他版本）：{items}", "Out of date now (built on another version): {items}"),
    "dm_switched_stale_item": ("{what}（{why}）", "{what} ({why})"),
    "dm_switched_scenarios": ("基于这些片区的已保存情景：{names}", "Saved scenarios run on these sites: {names}"),
    "dm_switched_rebuild": ("请在“三低识别”页重新识别，再在“连片地块”页重新生成片区。",
                            "Rebuild them: classify again on the Three-low rules page, then rebuild the sites on the "
                            "Contiguous sites page."),
    "dm_switched_fresh": ("与 v{v} 一致，无需重新计算：{names}", "Up to date with v{v}: {names}"),
    "dm_switch_refused": ("未切换：{err}", "Not switched: {err}"),
    # the results built on the version now current earlier, still stored: made current again instead of rebuilt
    "dm_restorable": ("之前基于{what} v{v} 生成的结果仍在工作空间中，可恢复为当前结果而无需重新计算：{items}",
                      "Results built on {what} v{v} earlier are still in the workspace and can be made current again "
                      "instead of rebuilt: {items}"),
    "dm_restorable_item": ("{what} v{version}（{when}，{user}）", "{what} v{version} (built {when} by {user})"),
    "dm_restore": ("恢复这些结果", "Restore these results"),
    "dm_restored": ("已恢复为当前结果（已记入操作日志）：{items}", "Made current again (recorded in the audit log): {items}"),
    "dm_restore_gone": ("未恢复：这些结果已不再可恢复（同事可能已切换版本或重新计算），请查看当前状态。",
                        "Nothing restored: these results are no longer on offer (a colleague may have switched or "
                        "rebuilt meanwhile); see what is current now."),
    "dm_restore_refused": ("未恢复：{err}", "Not restored: {err}"),
    "dm_audit": ("操作日志", "Audit log"),
    "dm_layers": ("图层目录", "Layer catalogue"),
    "dm_reading": ("正在读取与校验…", "Reading and validating…"),
    "dm_n_read": ("读取", "Read"),
    "dm_n_accepted": ("接受", "Accepted"),
    "dm_n_repaired": ("几何已修复", "Geometry repaired"),
    "dm_n_rejected": ("拒绝", "Rejected"),
    "dm_n_flagged": ("存疑", "Flagged"),
    "dm_added": ("新增", "Added"),
    "dm_removed": ("删除", "Removed"),
    "dm_changed": ("变更", "Changed"),
    "dm_unchanged": ("未变", "Unchanged"),
    "dm_no_problems": ("未发现问题。", "No problems found."),
    "dm_refused": ("无法发布：{err}", "Cannot publish: {err}"),
    # sites page: saved edits
    "edits_saved_found": ("已保存的片区调整（{name} v{v}，{n} 处）", "Saved site edits ({name} v{v}, {n})"),
    "edits_apply": ("载入已保存的调整", "Load the saved edits"),
    "edits_applied": ("已载入保存的片区调整 {name} v{v}（{n} 处）。", "Loaded saved site edits {name} v{v} ({n})."),
    "wf_edits_in_use": ("当前调整方案：{name} v{v}", "Edits in use: {name} v{v}"),
    "wf_edits_in_use_new": ("当前调整方案：{name}（尚未保存）", "Edits in use: {name} (not saved yet)"),
    "wf_edits_variants": ("另存为或打开其他调整方案", "Save as, or open other edits"),
    "wf_edits_save_as": ("另存为新方案", "Save as new edits"),
    "wf_edits_save_as_help": ("将当前调整连同片区结果以新名称保存（同一规则可保留多套调整方案）；命令行用 "
                              "planner sites --apply-edits 名称 重放",
                              "Save the current edits and the sites under a new name (keep several sets of edits "
                              "for the same rules); replay with planner sites --apply-edits NAME"),
    "wf_edits_saved_as": ("已另存为调整方案 {name} v{v}，并保存了片区结果。",
                          "Saved the edits as {name} v{v}, with the sites."),
    "wf_edits_pick": ("已保存的调整方案", "Saved edits"),
    "wf_edits_opened": ("已打开调整方案 {name} v{v}（{n} 处）。", "Opened the edits {name} v{v} ({n})."),
    "edits_stale": ("已保存的调整基于不同的连片参数，载入后按当前参数重放。",
                    "The saved edits were made with other site settings; they are replayed on the current ones."),
    "undo": ("撤销上一步", "Undo the last edit"),
    "metric_pick": ("逐年指标", "Yearly figure"),
    "cmp_series": ("情景", "Scenario"),
    "dm_version_pick": ("版本", "Version"),
    "cmp_figure": ("指标", "Figure"),
    "choose": ("请选择", "Choose"),
    "sc_sites_all": ("不选则按排名取前 N 个", "None picked: the top N by rank"),
    "dm_auto": ("自动识别", "Detect automatically"),
    "dm_read_done": ("已读取并校验 {n:,} 宗地块", "Read and validated {n:,} parcels"),
    "dm_read_failed": ("读取或校验未通过，见下方说明", "Reading or validation failed; see below"),
    "dm_n_records": ("{n:,} 条记录", "{n:,} records"),
    "dm_field_name": ("字段名称", "Field name"),
    "src_scenario": ("情景设置", "scenario"),
    "src_policy": ("片区所依据的三低识别规则", "three-low policy the sites rest on"),
    "cmp_diff_col": ("{n} − {base}", "{n} − {base}"),
    "cmp_pct_col": ("{n} 较 {base}（%）", "{n} vs {base} (%)"),
    # security (issue 11): workspace catalogue, uploads, errors
    "ws_none": ("数据目录中没有可用的工作空间，请联系管理员。",
                "The data directory holds no workspace; ask the operator to add one."),
    "unexpected_error": ("出错（{kind}）：{err}。详细信息已记录在服务器日志中。",
                         "Something went wrong ({kind}): {err}. The details are in the server log."),
    # -- workflow (issue 12: one workflow layer, durable work, provenance, stable site ids) --------------
    "wf_unsaved_rules": ("识别规则有未保存的修改（基于 {name}）：各页面均按修改后的规则计算。可在「三低识别」页保存为新版本或放弃修改。",
                         "The rules have unsaved changes (based on {name}); every page uses them. Save them as a "
                         "version or discard them on the Three-low rules page."),
    "wf_open": ("打开", "Open"),
    "wf_open_dirty": ("请先保存或放弃未保存的修改", "Save or discard the unsaved changes first"),
    "wf_discard": ("放弃修改", "Discard changes"),
    "wf_confirm_overwrite": ("已存在名为「{name}」的版本（最新 v{v}）。保存将生成 v{next}，旧版本保留。",
                             "'{name}' already exists (latest v{v}). Saving creates v{next}; the older versions are kept."),
    "wf_confirm_save": ("确认保存为 v{next}", "Save as v{next}"),
    "wf_stored_flags": ("工作空间中「{name}」的三低识别结果", "Stored three-low result of '{name}'"),
    "wf_stored_sites": ("工作空间中「{name}」的片区结果", "Stored sites of '{name}'"),
    "wf_stale": ("已过期：", "Out of date: "),
    "wf_rebuild": ("重新识别并保存", "Rebuild: classify and store"),
    "wf_rebuild_dirty": ("请先保存规则修改", "Save the rule changes first"),
    "wf_rebuild_sites": ("按当前设置重新生成并保存", "Rebuild with the current settings and store"),
    "wf_save_params": ("保存连片参数", "Save the site settings"),
    "wf_site_params_refused": ("{msg}。另存改正后的新版本之前，各页面暂用识别规则中的连片设置（或默认设置）。",
                               "{msg}. Until a corrected version is saved, the pages use the policy's site "
                               "settings (or the defaults)."),
    "wf_redo": ("重做", "Redo"),
    "wf_selected": ("当前片区：{id}", "Selected site: {id}"),
    "wf_no_selection": ("未选择片区（点击表格行或地图上的片区）", "No site selected (click a table row or a site on the map)"),
    "wf_add_anyway": ("仍然加入", "Add anyway"),
    "wf_out_of_scope": ("{n} 宗地块不在识别范围内（{uses}）：{ids}。", "{n} parcel(s) outside the policy's land uses ({uses}): {ids}."),
    "wf_not_flagged": ("{n} 宗地块不是三低地块：{ids}。", "{n} parcel(s) not three-low: {ids}."),
    "wf_not_in_site": ("地块 {pid} 不属于片区 {id}，未作修改。", "Parcel {pid} is not in site {id}; nothing changed."),
    "wf_save_edits_help": ("将片区、地块归属和调整记录一并保存到工作空间（同一次提交）",
                           "Store the sites, their parcels and the edits in the workspace (one commit)"),
    "wf_sites_stored": ("已保存片区结果及调整 v{v}（{name}）。", "Stored the sites and edits v{v} ({name})."),
    # -- saving over a colleague's version (drafts): what to do when a save is refused
    "wf_edits_merge": ("载入 v{v}，并把我的调整放在其后", "Load v{v} and put my edits on top"),
    "wf_edits_theirs": ("载入 v{v}（放弃我的调整）", "Load v{v} (drop my edits)"),
    "wf_edits_merged": ("已载入 v{v}，并在其后保留了您的 {n} 项调整；请检查后再保存。",
                        "Loaded v{v} with your {n} edit(s) on top; check them, then save."),
    "wf_params_load": ("载入已保存的参数 v{v}（放弃我的修改）", "Load the saved settings v{v} (drop my changes)"),
    "wf_save_mine": ("仍保存我的版本为 v{next}", "Save mine as v{next} anyway"),
    "wf_reopen_latest": ("打开最新的 v{v}（放弃我的修改）", "Open the latest v{v} (drop my changes)"),
    "wf_or_rename": ("或在上方改一个名称，另存为新的{what}。", "Or change the name above to save it as a new {what}."),
    "wf_what_scenario": ("情景", "scenario"),
    "wf_what_policy": ("规则", "policy"),
    "wf_may_not": ("您的角色（{role}）不能执行此操作；可执行的角色：{roles}。",
                   "Your role ({role}) may not do this; roles that may: {roles}."),
    "wf_save_comparison_confirm": ("已存在名为「{name}」的对比（最新 v{v}）。保存将生成 v{next}，旧版本保留。",
                                   "A comparison '{name}' already exists (latest v{v}). Saving creates v{next}; "
                                   "the older versions are kept."),
    "wf_drawing_used": ("这个图形已经使用过；如需再次调整，请重新绘制。", "This drawing was already applied; draw a new one for another edit."),
    "wf_draw_add": ("加入所选片区 {id}", "Add to the selected site {id}"),
    "wf_draw_new": ("新建片区 {id}", "Make a new site {id}"),
    "wf_saved_scenarios": ("已保存的情景", "Saved scenarios"),
    "wf_new_scenario": ("新建情景", "New scenario"),
    "wf_editing": ("正在编辑：{name}（打开自 v{v}）", "Editing: {name} (opened from v{v})"),
    "wf_editing_new": ("正在编辑：新情景（尚未保存）", "Editing: a new scenario (not saved yet)"),
    "wf_editing_from": ("正在编辑：{name}（来自历史版本 v{v}；保存后成为最新版本）",
                        "Editing: {name} (from its earlier v{v}; saving makes it the latest)"),
    "wf_history": ("版本历史（含已删除的情景）", "Versions kept (deleted scenarios too)"),
    "wf_history_policy": ("版本历史", "Versions kept"),
    "wf_history_name_scenario": ("情景", "Scenario"),
    "wf_history_name_policy": ("规则", "Policy"),
    "wf_history_name_comparison": ("对比", "Comparison"),
    "wf_history_deleted": ("{name}（已删除）", "{name} (deleted)"),
    "wf_history_version": ("版本", "Version"),
    "wf_history_open": ("以 v{v} 为草稿打开", "Open v{v} as a draft"),
    "wf_history_opened": ("已将「{name}」的 v{v} 作为草稿打开：保存后成为 v{next}，其间的版本都会保留。",
                          "Opened v{v} of '{name}' as a draft: saving makes it v{next}; the versions between are kept."),
    "wf_rules_from": ("来自历史版本 v{v}", "from its earlier v{v}"),
    "wf_col_version": ("版本", "Version"),
    "wf_col_saved": ("保存时间", "Saved"),
    "wf_col_by": ("保存人", "By"),
    "wf_col_state": ("状态", "State"),
    "wf_state_deleted": ("删除标记", "deletion"),
    "wf_unsaved": ("有未保存的修改", "unsaved changes"),
    "wf_retain_classes": ("保留的提升分类", "Upgrade classes kept"),
    "wf_retain_classes_help": ("现状建筑选择“保留类”时，保留这些提升分类地块的建筑",
                               "With 'keep class' for existing buildings, the buildings of these classes are kept"),
    "wf_sites_vanished": ("情景所选片区已不存在：{ids}", "Sites picked by the scenario no longer exist: {ids}"),
    "wf_manage": ("管理已保存的情景「{name}」", "Manage the saved scenario '{name}'"),
    "wf_new_name": ("新名称", "New name"),
    "wf_duplicate": ("复制为新名称", "Duplicate as"),
    "wf_rename": ("重命名", "Rename"),
    "wf_delete": ("删除", "Delete"),
    "wf_confirm_delete": ("删除「{name}」？历史版本仍保留在工作空间中。", "Delete '{name}'? Its versions stay in the workspace history."),
    "wf_delete_yes": ("确认删除「{name}」", "Delete '{name}'"),
    "wf_done_duplicate": ("已将「{name}」复制为「{new}」。", "Duplicated '{name}' as '{new}'."),
    "wf_done_rename": ("已将「{name}」重命名为「{new}」。", "Renamed '{name}' to '{new}'."),
    "wf_done_delete": ("已删除「{name}」。", "Deleted '{name}'."),
    "wf_saved_comparisons": ("已保存的对比", "Saved comparisons"),
    "wf_save_comparison": ("保存此对比", "Save this comparison"),
    "wf_save": ("保存", "Save"),
    "wf_diff_view": ("查看方式", "Show"),
    "wf_inputs": ("计算依据：调查版本 v{survey} · 识别规则 {policy}（{hash}） · 片区间隙 {gap:g} 米、最小面积 {area:,.0f} ㎡",
                  "Computed on: survey v{survey} · policy {policy} ({hash}) · site gap {gap:g} m, min area {area:,.0f} m²"),
    "wf_diff_table": ("变化列表", "Changes"),
    "wf_diff_map": ("变化地图", "Map of changes"),
    "wf_change": ("变化", "Change"),
    "wf_changed_fields": ("变化字段", "Changed fields"),
    "wf_switch_to": ("切换到版本", "Switch to version"),
    "wf_confirm_switch": ("将当前调查版本由 v{cur} 切换为 v{v}？所有页面将改用 v{v}，基于 v{cur} 的结果将标记为过期。",
                          "Make v{v} the current survey instead of v{cur}? Every page will use v{v}; results built on "
                          "v{cur} will show as out of date."),
    "wf_confirm_switch_yes": ("确认切换到 v{v}", "Switch to v{v}"),
    # -- decision-grade outputs (issue 13): comparison in a minute, reports, briefs, exports -------------
    "cmp_inputs": ("计算依据：", "Computed on: "),
    "baseline_mark": ("基准情景", "baseline"),
    "cmp_floor_title": ("建筑面积构成", "Floor area by scenario"),
    "cmp_floor_axis": ("建筑面积（{unit}）", "Floor area ({unit})"),
    "cmp_floor_caption": ("灰色为保留的现状建筑，红色（0 左侧）为拆除，蓝色为新建；新增产业空间 = 新建 − 拆除。",
                          "Grey: existing floor area retained; red (left of 0): demolished; blue: built. Net new "
                          "floor area = built − demolished."),
    "cmp_map_title": ("各情景的地块分布", "Sites of each scenario"),
    "cmp_group": ("所在情景", "In scenarios"),
    "cmp_table": ("指标对照表", "Side-by-side figures"),
    "cmp_yearly": ("逐年曲线", "Year by year"),
    "cmp_reports": ("报告下载", "Reports"),
    "cmp_sens_include": ("报告包含敏感性分析（各估计参数单独 ±20%，另需 {n} 次计算）",
                         "Include the sensitivity in the reports (each estimated parameter alone ±20%: {n} more runs)"),
    "cmp_sens_help": ("每个情景按每个估计参数（综合造价、租金、亩均税收、每家企业面积、建设工期、就业）单独下调、上调 20% "
                      "重新计算，报告中增加回收期龙卷风图和表格（Excel 增加一张工作表）。",
                      "Each scenario is run again with each estimated parameter (all-in cost, rent, tax per mu, space "
                      "per enterprise, construction time, jobs) alone 20% lower and higher; the reports get a tornado "
                      "chart and a table of the paybacks (the workbook a sheet)."),
    "cmp_sens_done": ("下载的报告包含 {n} 个情景的敏感性分析。", "The downloads include the sensitivity of {n} scenarios."),
    "no_geometry": ("地块表无几何，无法绘图。", "The sites have no geometry; no map."),
    "dl_pdf": ("下载 PDF 报告（A4）", "Download PDF report (A4)"),
    "sc_more": ("建筑面积与就业", "Floor area and jobs"),
    "ex_title": ("导出当前内容", "Export what you see"),
    "ex_what": ("当前 {n:,} 条记录", "{n:,} records shown"),
    "ex_nothing": ("当前没有可导出的记录。", "Nothing to export."),
    "ex_gpkg": ("GeoPackage", "GeoPackage"),
    "ex_shp": ("Shapefile（zip）", "Shapefile (zip)"),
    "ex_shp_help": ("Shapefile 字段名最多 10 个字符、文本最多 254 字节：压缩包内 _fields.csv 列出各字段的含义和单位；"
                    "更长的文本截断并以“…”结尾，全文见 _text.csv（按编号关联）。",
                    "A shapefile holds field names of 10 characters and text of 254 bytes at most: _fields.csv in the "
                    "zip says what each field holds and its unit; longer text is cut and ends with '…', the whole "
                    "text is in _text.csv (join on the id)."),
    "ex_xlsx": ("Excel", "Excel"),
    "ex_sites": ("片区排序表中的片区", "The sites in the ranked table"),
    "ex_site_parcels": ("片区 {id} 的地块", "Parcels of site {id}"),
    "ex_brief_selected": ("一地一策 PDF：{id}", "Site brief PDF: {id}"),
    "ex_brief_top": ("一地一策 PDF：前 {n} 个片区", "Site briefs PDF: top {n} sites"),
    "part_retained_floor_m2": ("保留", "Retained"),
    "part_demolished_floor_m2": ("拆除", "Demolished"),
    "part_new_floor_m2": ("新建", "Built"),
    # -- new workspace and publish mode in the data manager (issue 15, app side) -----------------------
    "nw_title": ("新建工作空间", "New workspace"),
    "nw_no_dir": ("本服务器未设置数据目录（PLANNER_DATA_DIR），新工作空间需由管理员在服务器上创建"
                  "（planner workspace init）。",
                  "This server has no data directory (PLANNER_DATA_DIR): new workspaces are made on the server "
                  "by the operator (planner workspace init)."),
    "nw_name": ("名称（将保存在数据目录中）", "Name (kept in the data directory)"),
    "nw_crs_from": ("坐标系", "Coordinate system"),
    "nw_crs_upload": ("按已上传的数据推荐（{name}）", "Proposed from the uploaded data ({name})"),
    "nw_crs_epsg": ("指定 EPSG 代码", "An EPSG code"),
    "nw_crs_code": ("坐标系（投影、单位为米）", "CRS (projected, in metres)"),
    "nw_crs_code_help": ("例如 EPSG:4549（CGCS2000 3度带 CM 120E）、EPSG:32618（UTM 18N）；经纬度或英尺坐标系会被拒绝。",
                         "e.g. EPSG:4549 (CGCS2000 3-degree zone CM 120E), EPSG:32618 (UTM 18N); degrees or feet are "
                         "refused."),
    "nw_crs_proposed": ("推荐坐标系 {crs}：{why}", "Proposed CRS {crs}: {why}"),
    "nw_create": ("创建工作空间", "Create workspace"),
    "nw_refused": ("未创建：{err}", "Not created: {err}"),
    "nw_created": ("已创建工作空间 {name}，并已切换到该工作空间。", "Workspace {name} created and opened."),
    "dm_publish_as": ("发布方式", "Publish as"),
    "dm_publish_as_help": ("自动：文件覆盖不到当前地块一半的土地、或有被拒绝的记录时局部更新，否则整体替换；"
                           "与当前调查范围不相交的数据会被拒绝。",
                           "Auto: an update when the file covers less than half of the current land or has "
                           "rejected rows, else a replacement; data that do not overlap the current survey are "
                           "refused."),
    "dm_publish_as_auto": ("自动", "Auto"),
    "dm_publish_as_update": ("局部更新", "Update"),
    "dm_publish_as_replace": ("整体替换", "Replace"),
    # -- issue 15 (deliveries): CRS warning, enterprise tables in the data manager --------------------
    "ind_tax_per_energy": ("单位能耗税收（元/吨标准煤）", "Tax per unit energy (yuan/tce)"),
    "de_tab": ("企业数据", "Enterprises"),
    "de_upload": ("上传企业亩均效益数据（税务局表格）", "Upload an enterprise table (tax bureau)"),
    "de_upload_help": ("xlsx 或 csv（GBK 或 UTF-8）：统一社会信用代码、企业名称、行业、实缴税金、销售收入、综合能耗、从业人数、年度",
                       "xlsx or csv (GBK or UTF-8): credit code, name, industry, tax, sales, energy use, employees, year"),
    "de_link": ("企业与宗地关联表（可选）", "Link of enterprises to parcels (optional)"),
    "de_link_help": ("每行一个宗地代码与统一社会信用代码；不上传时按企业表中的宗地代码列，或按地块上的企业名称关联",
                     "one parcel id and credit code per row; without it the table's parcel-id column, or the "
                     "enterprise names on the parcels, link them"),
    "de_kept": ("继续处理离开本页前上传的企业表 {name}（尚未发布，企业数据未改变），请重新校验。",
                "Carrying on with the enterprise table {name}, uploaded before you left this page (not published; "
                "the enterprise data are unchanged): check it again."),
    "de_link_kept": ("继续使用离开本页前上传的关联表 {name}（尚未发布），请重新校验。",
                     "Carrying on with the link table {name}, uploaded before you left this page (not published): "
                     "check it again."),
    "de_share": ("跨宗地企业的分摊方式", "Share an enterprise on several parcels by"),
    "de_share_land": ("用地面积", "land area"),
    "de_share_floor": ("建筑面积", "floor area"),
    "de_check": ("校验", "Check"),
    "de_linked": ("关联到地块的企业 {e:,} 家，涉及地块 {p:,} 宗（多企业地块 {m:,} 宗）",
                  "{e:,} enterprises reach {p:,} parcels ({m:,} parcels hold several tenants)"),
    "de_published": ("已发布企业数据 v{v}（{n:,} 家企业）；亩均指标与综合评价将采用该数据",
                     "Published enterprise table v{v} ({n:,} enterprises); per-mu figures and grades now use it"),
    "de_versions": ("企业数据版本", "Enterprise table versions"),
    "de_none": ("工作空间中尚无企业数据；亩均指标使用调查数据中的产值与税收。",
                "No enterprise table yet: per-mu figures use the survey's own output and tax."),
    "de_files_with_link": ("{name} 及关联表 {link}", "{name} with the link table {link}"),
    "de_same_file": ("{files} 与 {when} 由 {user} 发布的当前企业数据 v{v} 是同一个文件（校验和相同），关联与分摊设置也相同："
                     "无需发布（发布将产生与 v{v} 相同的版本）。",
                     "{files}: the same file as the current enterprise table v{v}, published by {user} on {when} "
                     "(same checksum), read with the same link and sharing settings: there is nothing to publish (it "
                     "would make a version identical to v{v})."),
    "de_same_files": ("{files} 与 {when} 由 {user} 发布的当前企业数据 v{v} 是相同的文件（校验和相同），关联与分摊设置也相同："
                      "无需发布（发布将产生与 v{v} 相同的版本）。",
                      "{files}: the same files as the current enterprise table v{v}, published by {user} on {when} "
                      "(same checksums), read with the same link and sharing settings: there is nothing to publish "
                      "(it would make a version identical to v{v})."),
    "de_unchanged": ("{files}：与当前企业数据 v{v} 相同的 {n:,} 家企业（代码、名称和各项数值）及 {m:,} 条宗地关联，关联与分摊"
                     "方式也相同：无需发布（发布将产生与 v{v} 相同的版本）。",
                     "{files}: the same {n:,} enterprises (codes, names and figures) and {m:,} parcel links as the "
                     "current enterprise table v{v}, linked and shared the same way: there is nothing to publish (it "
                     "would make a version identical to v{v})."),
    # the same for an earlier, non-current version: it is made current by switching to it, not by a copy of it
    "de_same_file_old": ("{files} 与 {when} 由 {user} 发布的企业数据 v{v} 是同一个文件（校验和相同），关联与分摊设置也相同："
                         "发布将产生与 v{v} 相同的版本。",
                         "{files}: the same file as enterprise table v{v}, published by {user} on {when} (same "
                         "checksum), read with the same link and sharing settings: publishing it would make a version "
                         "identical to v{v}."),
    "de_same_files_old": ("{files} 与 {when} 由 {user} 发布的企业数据 v{v} 是相同的文件（校验和相同），关联与分摊设置也相同："
                          "发布将产生与 v{v} 相同的版本。",
                          "{files}: the same files as enterprise table v{v}, published by {user} on {when} (same "
                          "checksums), read with the same link and sharing settings: publishing them would make a "
                          "version identical to v{v}."),
    "de_unchanged_old": ("{files}：与企业数据 v{v} 相同的 {n:,} 家企业（代码、名称和各项数值）及 {m:,} 条宗地关联，关联与分摊"
                         "方式也相同：发布将产生与 v{v} 相同的版本。",
                         "{files}: the same {n:,} enterprises (codes, names and figures) and {m:,} parcel links as "
                         "enterprise table v{v}, linked and shared the same way: publishing it would make a version "
                         "identical to v{v}."),
    "de_current_is": ("当前企业数据为 v{v}。", "The current enterprise table is v{v}."),
    "de_current_none": ("当前没有生效的企业数据。", "No enterprise table is current."),
    # the app's how-to, added by the app to the library's words (planner.ui.enterprise); the command line names its
    # command instead (cli_use_instead)
    "de_switch_instead": ("如需让 v{v} 重新成为当前版本，请在应用的「数据管理 › 企业数据 › 企业数据版本」中切换到 v{v}。",
                          "To make v{v} current again, switch to it in the app (Data manager › Enterprises › "
                          "Enterprise table versions)."),
    "dm_crs_warning": ("坐标系提示：{msg}", "CRS: {msg}"),
    # -- office accounts and roles (issue 14) ---------------------------------------------------------
    "nav_admin": ("账号管理", "Accounts"),
    "auth_title": ("登录", "Sign in"),
    "auth_user": ("用户名", "User name"),
    "auth_password": ("密码", "Password"),
    "auth_sign_in": ("登录", "Sign in"),
    "auth_sign_out": ("退出登录", "Sign out"),
    "auth_signed_in": ("已登录：{user}（{role}）", "Signed in: {user} ({role})"),
    "auth_expired": ("会话已过期，请重新登录。", "Your session has expired; please sign in again."),
    "auth_disabled": ("此账号已被停用或删除，请联系管理员。", "This account was disabled or removed; ask an administrator."),
    "auth_admin_only": ("只有管理员可以管理账号。", "Only an administrator can manage accounts."),
    "auth_add": ("添加账号", "Add an account"),
    "auth_display": ("显示名称", "Display name"),
    "auth_role": ("角色", "Role"),
    "auth_added": ("已添加账号 {user}", "Added {user}"),
    "auth_change": ("修改账号", "Change an account"),
    "auth_set_role": ("设置角色", "Set role"),
    "auth_disable": ("停用账号", "Disable"),
    "lock_waiting": ("工作空间正在被 {who} 写入；您的保存将在其完成后进行（最多等待 {s} 秒）…",
                     "The workspace is being written by {who}; your save goes ahead when it is done (waiting up to "
                     "{s} s) …"),
    "lock_taken": ("工作空间已空闲，正在保存…", "The workspace is free: saving …"),
    "auth_enable": ("启用账号", "Enable"),
    "auth_new_password": ("新密码", "New password"),
    "auth_set_password": ("设置新密码", "Set password"),
    "auth_done": ("已保存", "Saved"),
    "auth_waits": ("登录等待", "Sign-in waits"),
    "auth_waits_help": ("这些用户名连续登录失败 5 次以上，须等待后才能再试（可能有人在猜密码；本服务器内有效，重启即清除）。"
                        "确认是同事本人后可立即放行；设置新密码也会放行该用户名。",
                        "These user names failed to sign in 5 times or more in a row and must wait before the next try "
                        "(someone may be guessing; kept by this server, a restart clears it). Let one try now once you "
                        "know it is your colleague; setting a new password also lets the name try again."),
    "auth_wait_left": ("{name} · 还需等待 {min} 分钟", "{name} · {min} min to wait"),
    "auth_release": ("立即放行", "Let it try now"),
    "auth_released": ("已放行 {user}，可立即重新登录", "{user} may sign in again now"),
    "auth_col_username": ("用户名", "User name"),
    "auth_col_display_name": ("显示名称", "Display name"),
    "auth_col_role": ("角色", "Role"),
    "auth_col_disabled": ("已停用", "Disabled"),
    "auth_col_created_at": ("创建时间", "Created"),
    "auth_col_updated_at": ("修改时间", "Updated"),
    "role_gis_staff": ("GIS 数据员", "GIS staff"),
    "role_planner": ("规划人员", "Planner"),
    "role_decision_maker": ("决策人员", "Decision-maker"),
    "role_admin": ("管理员", "Administrator"),
    "auth_read_only": ("您的角色（{role}）只能查看，不能{what}。", "Your role ({role}) can view but not {what}."),
    "auth_figures_hidden": ("企业税收与产值（及其派生指标）对您的角色（{role}）不可见。",
                            "Enterprise tax and output (and figures derived from them) are hidden for your role ({role})."),
    # -- realistic sites (task realsites, issue 13): size and owner limits, streets, assembly difficulty
    "rs_max_area": ("最大片区面积（㎡，0 为不限）", "Maximum site area (m², 0: none)"),
    "rs_max_area_help": ("超过此面积的连片按紧凑、连通的原则拆分为子片区；单个地块超过时保留为一片并标为“面积过大”。",
                         "Larger clusters are split into compact, contiguous sub-sites; a single parcel above it "
                         "stays a site of its own, marked too large."),
    "rs_max_owners": ("最多权利人数（0 为不限）", "Maximum owners per site (0: none)"),
    "rs_max_owners_help": ("权利人多于此数的连片同样拆分为子片区。", "Clusters with more land-right holders are split the same way."),
    "rs_split_streets": ("按道路拆分", "Split at streets"),
    "rs_split_streets_help": ("现状道路按中线分隔片区：三低地块之间 6–25 米宽的空隙（支路、巷道）和道路图层都会分开片区。",
                              "Existing roads split sites at the centreline: empty gaps of 6-25 m between flagged "
                              "parcels (local streets, lanes) and mapped roads separate sites."),
    "rs_difficulty_weight": ("实施难度权重", "Difficulty weight"),
    "rs_difficulty_weight_help": ("实施难度 = 权利人数 + 需搬迁企业数 + 2 × 内部保留地块数，在综合得分中扣分。",
                                  "Assembly difficulty = owners + enterprises to relocate + 2 x retained parcels "
                                  "inside, a penalty in the score."),
    # -- appspeed (issues 16, 19): tiled map, paged tables, stored sites ---------------------------------------
    "tiles_features": ("视图内约 {n} 宗地块", "About {n} parcels in view"),
    "tiles_grid": ("按网格汇总（三低用地占比），放大后显示地块", "Grid of the share of three-low land; zoom in for parcels"),
    "tiles_loading": ("正在载入…", "Loading…"),
    "tbl_page": ("第 {page} / {pages} 页（共 {n:,} 行）", "Page {page} of {pages} ({n:,} rows)"),
    "tbl_page_pick": ("页码", "Page"),
    "tbl_sort": ("排序", "Sort by"),
    "tbl_desc": ("降序", "Descending"),
    "tbl_find": ("查找编号", "Find an id"),
    "wf_using_stored_sites": ("使用工作空间中已保存的片区结果（与当前规则、调查版本和参数一致），未重新计算。",
                              "Using the sites stored in the workspace (they match the rules, survey and settings "
                              "in use); nothing was rebuilt."),
    "wf_build_sites_now": ("按当前设置重新生成片区", "Build the sites with these settings"),
    "wf_sites_not_built": ("当前设置下还没有片区结果。生成片区需要一些时间（百万级地块约一分钟），可随时取消。",
                           "No sites for these settings yet. Building them takes a while (about a minute for a "
                           "million parcels) and can be cancelled."),
    "wf_cancel_build": ("取消", "Cancel"),
    "wf_build_cancelled": ("已取消生成片区。", "Building the sites was cancelled."),
    # -- security (QA findings 1, 5, 7, 9, 12, 13): refusals that say who may, accounts page ---------------------
    "perm_ingest": ("导入调查数据和企业数据", "load a survey or an enterprise table"),
    "perm_publish": ("发布调查数据", "publish a survey"),
    "perm_set_current": ("切换当前调查或企业数据版本", "switch the current survey or enterprise table version"),
    "perm_init_workspace": ("新建工作空间", "create a workspace"),
    "perm_manage_layers": ("管理图层（企业表、约束图层）", "manage layers (enterprise tables, constraints)"),
    "perm_see_enterprise_figures": ("查看企业税收与产值", "see enterprise tax and output"),
    "perm_save_policy": ("保存识别规则", "save rules"),
    "perm_classify": ("重新识别三低用地", "classify the parcels"),
    "perm_build_sites": ("生成片区", "build sites"),
    "perm_save_site_edits": ("保存片区调整", "save site edits"),
    "perm_save_site_params": ("保存片区参数", "save site settings"),
    "perm_save_scenario": ("保存情景", "save a scenario"),
    "perm_delete_scenario": ("删除情景", "delete a scenario"),
    "perm_save_comparison": ("保存对比", "save a comparison"),
    "perm_manage_users": ("管理账号", "manage accounts"),
    "perm_denied": ("{user}（{role}）无权{what}；只有{who}可以。如需权限请联系管理员。",
                    "{user} ({role}) may not {what}; only {who} may. Ask an administrator for a role that may."),
    "perm_sign_in": ("请先登录再{what}：此工作空间已启用账号。", "Sign in to {what}: this workspace has accounts."),
    "perm_unknown_role": ("未知角色 {role!r}（账号或 PLANNER_ROLE），可选：{roles}。",
                          "Unknown role {role!r} (the account or PLANNER_ROLE); one of {roles}."),
    "perm_only": ("只有{who}可以{what}。", "Only {who} may {what}."),
    "perm_or": ("或", " or "),
    "perm_list_sep": ("、", ", "),
    "acc_bad_chars": ("{what} {name!r} 含有控制字符或不可见的格式字符（如从右到左覆盖符、零宽空格），"
                      "会让名称显示得与实际不同：请删除这些字符。",
                      "{what} {name!r} contains a control or invisible formatting character (such as a "
                      "right-to-left override or a zero-width space) that makes it show as something else: "
                      "remove it."),
    "acc_what_username": ("用户名", "user name"),
    "acc_what_display_name": ("显示名称", "display name"),
    "auth_yes": ("是", "Yes"),
    "auth_no": ("否", "No"),
    "auth_role_now": ("当前角色：{role}", "Current role: {role}"),
    "auth_role_confirm": ("将 {user} 的角色从「{old}」改为「{new}」？此更改在其下一次操作时生效。",
                          "Change {user}'s role from {old} to {new}? It applies from their next click."),
    "auth_role_confirm_yes": ("确认修改角色", "Change the role"),
    "auth_cancel": ("取消", "Cancel"),
    "auth_disabled_now": ("已停用账号 {user}：该账号无法登录，已登录的会话在下一次操作时结束。",
                          "{user} is disabled: the account cannot sign in, and an open session ends on its next click."),
    "auth_enabled_now": ("已启用账号 {user}。", "{user} is enabled again."),
    "auth_role_set": ("{user} 的角色已改为「{role}」。", "{user} is now {role}."),
    "auth_password_set": ("已为 {user} 设置新密码。", "New password set for {user}."),
    "auth_is_disabled": ("此账号已停用。", "This account is disabled."),
    # planner ingest: the printed report (planner/ingest/report.py); the English is what scripts have read
    "ir_title": ("导入报告：{name}", "ingest report: {name}"),
    "ir_dry_run": ("（试运行，未写入）", " (dry run)"),
    "ir_format": ("格式", "format"),
    "ir_layer": ("，图层 {layer}", ", layer {layer}"),
    "ir_paren": ("（{text}）", " ({text})"),
    "ir_encoding": ("字符编码", "encoding"),
    "ir_crs_file": ("文件的坐标系", "CRS of the file"),
    "ir_crs_used": ("采用的坐标系", "CRS used"),
    "ir_stored_in": ("存储坐标系", "stored in"),
    "ir_scheme": ("用地分类体系", "land-use scheme"),
    "ir_read": ("读取", "read"),
    "ir_accepted": ("接受", "accepted"),
    "ir_repaired": ("几何已修复", "repaired geometry"),
    "ir_rejected": ("拒绝", "rejected"),
    "ir_flagged": ("存疑", "flagged"),
    "ir_mapping": ("字段对应（标准字段 <- 源字段 [单位]）：", "field mapping (canonical <- source [unit]):"),
    "ir_list_sep": ("、", ", "),
    "ir_derived": ("推算：{what}", "derived: {what}"),
    "ir_derived_one": ("{field} {n} 条", "{field} for {n} row(s)"),
    "ir_unmapped": ("未入库的源字段：{fields}", "source fields not stored: {fields}"),
    "ir_note": ("说明：{msg}", "note: {msg}"),
    "ir_problems": ("问题（{n} 条；{note}）：", "problems ({n}; {note}):"),
    "ir_h_row": ("行号", "row"),
    "ir_h_id": ("宗地代码", "parcel_id"),
    "ir_h_field": ("字段", "field"),
    "ir_h_action": ("处理", "action"),
    "ir_h_message": ("说明", "message"),
    "ir_more": ("  …… 另有 {n} 条（用 --report 文件.csv 写出全部）", "  ... {n} more (write them all with --report FILE.csv)"),
    "ir_none": ("（无）", "(none)"),
    "ir_diff": ("与调查版本 {base} 的差异（{mode}）：新增 {added}，删除 {removed}，变更 {changed}，未变 {unchanged}",
                "diff against survey version {base} ({mode} mode): {added} added, {removed} removed, {changed} changed, "
                "{unchanged} unchanged"),
    "ir_merged": ("  其中 {n} 宗被新地块或更新范围覆盖而删除（合并或重新划分）",
                  "  {n} removed because new parcels or the update extent cover them (merged/re-parcelled)"),
    "ir_changed_field": ("  变更 {field} {n}", "  changed {field} {n}"),
    "ir_refused": ("拒绝导入：{reason}", "REFUSED: {reason}"),
    "ir_refused_below": ("拒绝导入（原因见下方错误）", "REFUSED (see the error below)"),
    "ir_published": ("已发布为调查版本 {v}", "published as survey version {v}"),
    "ir_written": ("报告已写入 {path}", "report written to {path}"),
    # a survey file published before, refused by the library in words of no face (planner.ingest.same_file_refusal);
    # the command line adds its own how-tos (planner.cli.ingest.with_same_file_hints)
    "ir_same_file_refused": ("未发布。", "Nothing was published."),
    "ir_survey_current_is": ("当前调查版本为 v{v}。", "The current survey is v{v}."),
    "ir_survey_current_none": ("当前没有生效的调查版本。", "No survey version is current."),
    "ir_same_file_again": ("如需用其他字段对应、单位、坐标系、编码或图层重新读取同一文件并发布为新版本，请加 --publish-again。",
                           "To read the same file again with another mapping, units, CRS, encoding or layer and "
                           "publish it as a new version, add --publish-again."),
    # the app's own how-to for a survey version to make current again (the command line names its command)
    "dm_switch_instead": ("如需让 v{v} 重新成为当前版本，请在应用的「数据管理 › 调查版本」中切换到 v{v}。",
                          "To make v{v} current again, switch to it in the app (Data manager › Survey versions)."),
    # a load whose parcels equal an earlier (not current) survey version's, in words of no face
    # (planner.ingest.earlier_text); the command line adds cli_use_instead and ir_unchanged_again, the app dm_switch_instead
    "ir_earlier_same": ("{name} 发布后的宗地将与 {when} 由 {user} 发布的调查版本 v{v}{label}完全相同（没有任何新增、删除或变更）："
                        "发布将产生与 v{v} 相同的版本。",
                        "{name}: published, the survey's parcels would be those of survey version v{v}{label}, "
                        "published by {user} on {when} (nothing added, removed or changed against it): it would make "
                        "a version identical to v{v}."),
    "ir_earlier_label": ("（「{label}」）", " (\"{label}\")"),
    "ir_unchanged_refused": ("{name} 与当前调查版本 v{v} 相比没有任何新增、删除或变更，未发布（发布将产生一个相同的版本）。",
                             "{name} adds, removes and changes nothing against the current survey v{v}: nothing was "
                             "published (it would make an identical version)."),
    # -- the command line's own lines (what it did, where it wrote), in the command's --lang
    "cli_classifying": ("按识别规则「{policy}」（{source}）识别 {ws} 的调查数据",
                        "classifying the survey of {ws} under policy {policy!r} ({source})"),
    "cli_stage_indicators": ("计算指标", "indicators"),
    "cli_stage_flags": ("判定三低", "flags"),
    "cli_stage_reasons": ("生成判定理由", "reasons"),
    "cli_writing": ("正在写入 {path}", "writing {path}"),
    "cli_flags_stored_with_policy": ("已保存 flags/{name} 第 {v} 版及识别规则 policy/{name} 第 {pv} 版（同一次提交，结果 {rid}）",
                                     "stored flags/{name} version {v} and policy/{name} version {pv} in one commit "
                                     "(result {rid})"),
    "cli_flags_stored": ("已保存 flags/{name} 第 {v} 版，识别规则为 policy/{name} 第 {pv} 版（规则未变，未重复保存；结果 {rid}）",
                         "stored flags/{name} version {v} under policy/{name} version {pv} (the same rules, not saved "
                         "again) (result {rid})"),
    "cli_sites_stored": ("已保存为 sites/{name} 和 site_parcels/{name}（{ws}，同一次提交，结果 {rid}）",
                         "stored as sites/{name} and site_parcels/{name} in {ws} (one commit, result {rid})"),
    "cli_site_params_saved": ("已将片区参数保存为 site_params/{name} 第 {v} 版",
                              "saved the site parameters as site_params/{name} version {v}"),
    "cli_replaying_edits": ("重放已保存的 {n} 项片区编辑 site_edit/{ref}（{who}）；加 --no-edits 则不重放",
                            "replaying the {n} site edits saved as site_edit/{ref} ({who}); --no-edits builds without "
                            "them"),
    "cli_edits_other_settings": ("注意：已保存的片区编辑 site_edit/{ref}（{who}）是在其他片区设置（间距、面积、障碍等）下做出的，"
                                 "本次不重放；如仍要重放，请加 --apply-edits {ref}",
                                 "note: the site edits saved as site_edit/{ref} ({who}) were made on sites built with "
                                 "other site settings (gap, areas, barriers...), so they are not replayed on these; "
                                 "replay them anyway with --apply-edits {ref}"),
    "cli_wrote": ("已写入 {path}", "wrote {path}"),
    "cli_wrote_kind": ("已写入 {kind}：{path}", "wrote {kind}: {path}"),
    "cli_scenario_same": ("scenario/{name} 第 {v} 版（{ws}）即为此情景，未重复保存",
                          "scenario/{name} version {v} in {ws} is this scenario: not saved again"),
    "cli_scenario_saved": ("已保存为 scenario/{name} 第 {v} 版（{ws}）", "saved as scenario/{name} version {v} in {ws}"),
    "cli_scenario_latest": ("注意：scenario/{name} 的最新版本现为此文件的内容；第 {before} 版（{who}）仍保留，可用 {name}@{before} 打开",
                            "note: the latest scenario/{name} is now this file's; version {before} ({who}) is kept: "
                            "open it as {name}@{before}"),
    "cli_comparison_saved": ("已保存为 comparison/{name} 第 {v} 版", "saved as comparison/{name} version {v}"),
    # planner scenario copy / rename / delete (English: the words scripts read)
    "cli_scenario_copied": ("已保存情景「{new}」第 {v} 版，复制自「{src}」", "saved scenario {new!r} version {v}, a copy of {src!r}"),
    "cli_scenario_renamed": ("已将情景「{name}」重命名为「{new}」（第 {v} 版）；「{name}」的历史版本仍保留（以 {name}@版本号 打开）",
                             "renamed scenario {name!r} to {new!r} (version {v}); the history of {name!r} is kept "
                             "(its versions open as {name}@VERSION)"),
    "cli_scenario_deleted": ("已删除情景「{name}」；各版本仍保留：`planner scenario copy {name}@{v} {name} -w WS` 可将其恢复",
                             "deleted scenario {name!r}; its versions are kept: "
                             "`planner scenario copy {name}@{v} {name} -w WS` brings it back"),
    # -- workspace, users, the lists of saved documents, sample-data: their listings and confirmations (the English is
    # what these commands printed before they had --lang, and what scripts have read)
    "cli_col_kind": ("类型", "kind"),
    "cli_col_name": ("名称", "name"),
    "cli_col_version": ("版本", "version"),
    "cli_col_n_rows": ("行数", "n_rows"),
    "cli_col_is_current": ("当前", "is_current"),
    "cli_col_created_at": ("创建时间", "created_at"),
    "cli_col_updated_at": ("修改时间", "updated_at"),
    "cli_col_user": ("用户", "user"),
    "cli_col_built_on": ("计算依据", "built_on"),
    "cli_col_sha256": ("校验值", "sha256"),
    "cli_col_ts": ("时间", "ts"),
    "cli_col_action": ("操作", "action"),
    "cli_col_source_file": ("源文件", "source_file"),
    "cli_col_deleted": ("已删除", "deleted"),
    "cli_col_username": ("用户名", "username"),
    "cli_col_display_name": ("显示名称", "display_name"),
    "cli_col_role": ("角色", "role"),
    "cli_col_disabled": ("已停用", "disabled"),
    "cli_col_template": ("模板", "template"),
    "cli_col_plot_ratio": ("容积率", "plot ratio"),
    "cli_col_floors": ("层数", "floors"),
    "cli_col_all_in_cost": ("综合造价（元/㎡）", "all-in cost (yuan/m²)"),
    "cli_true": ("是", "True"),
    "cli_false": ("否", "False"),
    "cli_none": ("  （无）", "  (none)"),
    "cli_ws_head": ("工作空间 {ws}  坐标系 {crs}", "workspace {ws}  CRS {crs}"),
    "cli_ws_layers": ("图层：", "layers:"),
    "cli_ws_docs": ("已保存的文档：", "saved documents:"),
    "cli_ws_audit": ("操作记录（最近 {n} 条）：", "audit (last {n}):"),
    "cli_init_data": ("数据：{dataset}，{count:,} 个要素，经度 {w:.3f}–{e:.3f}，纬度 {s:.3f}–{n:.3f}",
                      "data: {dataset}, {count:,} features, lon {w:.3f}..{e:.3f}, lat {s:.3f}..{n:.3f}"),
    "cli_init_given": ("由 --crs 指定", "given with --crs"),
    "cli_init_dry_run": ("将新建工作空间 {ws}，坐标系 {crs}（{why}）；试运行：未新建任何内容",
                         "would create workspace {ws} in {crs} ({why}); dry run: nothing was created"),
    "cli_init_created": ("已新建工作空间 {ws}，坐标系 {crs}（{why}）", "created workspace {ws} in {crs} ({why})"),
    "cli_init_next": ("下一步：planner ingest 调查数据文件 {option}", "next: planner ingest SURVEY {option}"),
    "cli_uri_option": ("-w URI（{ws} 的 postgresql:// 地址）", "-w URI (the postgresql:// address of {ws})"),
    "cli_copy_layer": ("[{i}/{n}] {kind}/{name} 第 {v} 版（{rows} 行）", "[{i}/{n}] {kind}/{name} v{v} ({rows} rows)"),
    "cli_copied": ("已复制 {src} -> {dst}：图层版本 {layers} 个（{rows} 行），文档版本 {docs} 个，操作记录 {audit} 条",
                   "copied {src} -> {dst}: {layers} layer versions ({rows} rows), {docs} document versions, "
                   "{audit} audit rows"),
    "cli_user_added": ("已将 {user}（{role}）添加到 {ws}", "added {user} ({role}) to {ws}"),
    "cli_users_first": ("此工作空间现已启用账号：应用将要求所有人登录",
                        "this workspace now has accounts: the app asks everyone to sign in"),
    "cli_users_no_admin": ("注意：尚无管理员；请添加一个管理员（--role admin），以便在应用中管理账号",
                           "note: no administrator yet; add one (--role admin) to manage accounts in the app"),
    "cli_users_none": ("{ws} 没有账号（应用以单个本地用户运行，无需登录）",
                       "{ws} has no accounts (the app runs for a single local user, with no sign-in)"),
    "cli_user_role_set": ("{user} 的角色已改为「{role}」", "{user} is now {role}"),
    "cli_user_disabled": ("已停用账号 {user}", "{user} disabled"),
    "cli_user_enabled": ("已启用账号 {user}", "{user} enabled"),
    "cli_user_password_set": ("已为 {user} 设置新密码", "new password set for {user}"),
    "cli_password_prompt": ("{user} 的密码：", "password for {user}: "),
    "cli_password_again": ("再输入一次：", "again: "),
    "cli_saved_policy": ("已保存的识别规则：", "saved policies:"),
    "cli_saved_scenario": ("已保存的情景：", "saved scenarios:"),
    "cli_deleted_names": ("已删除（各版本仍保留{restore}）：{names}", "deleted (versions kept{restore}): {names}"),
    "cli_deleted_last": ("{name}（最后版本 {name}@{v}）", "{name} (last {name}@{v})"),
    "cli_restore_sep": ("；", "; "),
    "cli_scenario_restore": ("用 `planner scenario copy NAME@VERSION NAME -w WS` 恢复",
                             "`planner scenario copy NAME@VERSION NAME -w WS` brings one back"),
    "cli_name_version": ("{name} 第 {v} 版", "{name} v{v}"),
    "cli_policy_flags": ("已识别（识别结果已保存）：{layers}", "classified (flags stored): {layers}"),
    "cli_policy_shipped": ("随附的识别规则：{names}（工作空间未保存同名规则时，NAME 即指这些）",
                           "shipped: {names} (what a NAME means when none is saved of it)"),
    "cli_templates": ("园区模板：", "park templates:"),
    # the Dask engine (planner.scale: its stage lines and progress bars; planner.cli.scale: the command's lines)
    "scale_local_cluster": ("本地集群（{n} 个工作进程）", "a local cluster of {n} workers"),
    "scale_dashboard": ("Dask：{where}；监控面板 {link}", "Dask: {where}; dashboard {link}"),
    "scale_tasks_done": ("{label}：{n} 个任务已完成", "{label}: {n} tasks done"),
    "scale_classify_values": ("识别 1/3 指标取值", "classify 1/3 values"),
    "scale_classify_grades": ("识别 2/3 等级", "classify 2/3 grades"),
    "scale_classify_flags": ("识别 3/3 判定", "classify 3/3 flags"),
    "scale_thresholds": ("{n:,} 个地块的百分位阈值：{list}", "thresholds over {n:,} parcels: {list}"),
    "scale_none": ("无", "none"),
    "scale_sites_groups": ("连片 1/4 分组", "sites 1/4 groups"),
    "scale_sites_pairs": ("连片 2/4 跨分区地块对", "sites 2/4 pairs across partitions"),
    "scale_sites_build": ("连片 3/4 生成片区", "sites 3/4 build"),
    "scale_groups": ("三低地块共 {groups:,} 组；跨分区的连通分量对 {pairs:,} 对（边缘缓冲区 {halo:,} 个地块）",
                     "{groups:,} groups of flagged parcels; {pairs:,} component pairs across partitions "
                     "(halo: {halo:,} parcels)"),
    "scale_no_workspace": ("{path} 未记录工作空间（由调查文件或 sample-data 写出），无法与 {ws} 核对",
                           "{path} records no workspace (written from a survey file or by sample-data); it cannot be "
                           "checked against {ws}"),
    "scale_not_checked": ("{path} 是工作空间 {ws} 的调查版本 {v}；此处无法打开该工作空间（{why}），未核对其是否仍为当前调查"
                          "（用 -w 给出工作空间及其密码即可核对）",
                          "{path} holds survey version {v} of workspace {ws}; the workspace cannot be opened here "
                          "({why}), so whether that is still its current survey was not checked (give the workspace "
                          "with -w, with its password, to check it)"),
    "cli_dask_note": ("注意：{msg}", "note: {msg}"),
    "cli_dask_classifying": ("正在按识别规则「{policy}」识别 {path}", "classifying {path} under policy {policy!r}"),
    "cli_dask_assembling": ("正在生成 {path} 的连片地块", "assembling sites of {path}"),
    "cli_dask_wrote": ("已写入 {out}（{secs}）", "wrote {out} ({secs})"),
    "cli_dask_seconds": ("{stage} {s:.1f} 秒", "{stage} {s:.1f} s"),
    "cli_dask_sep": ("，", ", "),
    "cli_dask_stage_values": ("指标取值", "values"),
    "cli_dask_stage_grades": ("等级", "grades"),
    "cli_dask_stage_flags": ("判定", "flags"),
    "cli_dask_stage_groups": ("分组", "groups"),
    "cli_dask_stage_stitch": ("拼接", "stitch"),
    "cli_dask_stage_build": ("生成片区", "build"),
    "cli_dask_stage_ids": ("编号", "ids"),
    "cli_parquet_written": ("已写入 {path}：{n:,} 个地块，{k} 个希尔伯特分区{of}",
                            "wrote {path}: {n:,} parcels in {k} Hilbert partitions{of}"),
    "cli_parquet_of": ("（{ws} 的调查版本 {v}）", " (survey version {v} of {ws})"),
    "cli_sample_inside": ("位于晋江市界内", "inside the Jinjiang boundary"),
    "cli_sample_beyond": ("超出晋江市界（合成延伸）", "continued beyond the Jinjiang boundary (synthetic)"),
    "cli_sample_written": ("{n:,} 个地块，研究范围 {km2:.1f} km²，{where}；生成用时 {built:.1f} 秒，写入用时 {written:.1f} 秒 -> {out}",
                           "{n:,} parcels, study area {km2:.1f} km², {where}; built in {built:.1f} s, written in "
                           "{written:.1f} s -> {out}"),
    "cli_sample_update": ("调查更新 -> {path}：{rows} 个地块，替换原有 {replaced} 个（变更 {changed}，新增 {new}，合并 {merged}）",
                          "survey update -> {path}: {rows} parcels replacing {replaced} ({changed} changed, {new} new, "
                          "{merged} merged)"),
    "cli_sample_enterprises": ("企业表 -> {path}：{rows:,} 行；关联表 -> {links}：{n_links:,} 行（{multi:,} 个地块有多家企业）",
                               "enterprise table -> {path}: {rows:,} rows; links -> {links}: {n_links:,} rows "
                               "({multi:,} parcels with several tenants)"),
    "cli_sample_province": ("{n:,} 个地块，共 {cities} 个城市 -> {out}", "{n:,} parcels in {cities} cities -> {out}"),
    "cli_sample_cities": ("城市", "cities"),
    "cli_sample_city": ("样例城市", "sample city"),
    # the progress bars' names and units (tqdm: "片区：38%|███ | 3/8 [00:01, 2.1 阶段/s, 阻隔]")
    "cli_sites_bar": ("连片片区", "sites"),
    "cli_stage_unit": ("阶段", "stage"),
    "cli_step_unit": ("步", "step"),
    "cli_layer_unit": ("图层", "layer"),
    "cli_part_unit": ("分区", "part"),
    "cli_city_unit": ("城市", "city"),
    "cli_run_unit": ("次", "run"),
    "cli_sensitivity_bar": ("敏感性", "sensitivity"),
    "cli_sample_network": ("道路、河流、铁路", "roads, river, rail"),
    "cli_sample_blocks": ("街区", "blocks"),
    "cli_sample_parcels": ("地块", "parcels"),
    "cli_sample_trim": ("裁剪", "trim"),
    "cli_sample_attributes": ("属性", "attributes"),
    "cli_sample_layers": ("图层", "layers"),
    "cli_sample_tiles": ("瓦片", "tiles"),
    "cli_sample_chunks": ("分块", "chunks"),
    "cli_sample_writing": ("写入", "writing"),
    "cli_sample_writing_layer": ("写入 {kind}/{name}（{n:,} 行）", "writing {kind}/{name} ({n:,} rows)"),
    # -- enterprise ingest / show: confirmations, the versions listing and what the current version joins (the English
    # is what they printed before they had --lang)
    "cli_ent_published": ("已发布为企业数据第 {v} 版；`planner classify {option}` 此后采用其中的税收、产值和能耗",
                          "published as enterprise table version {v}; `planner classify {option}` now takes tax, "
                          "output and energy from it"),
    "cli_ent_none": ("工作空间 {ws} 中尚无企业数据；请用 `planner enterprise ingest` 导入",
                     "workspace {ws} has no enterprise table; load one with `planner enterprise ingest`"),
    "cli_ent_joined": ("当前企业数据第 {v} 版：{e:,} 家企业关联到 {n:,} 宗地块中的 {p:,} 宗；{m:,} 宗地块有多家企业；"
                       "{none:,} 家企业未关联到任何地块",
                       "current version {v}: {e:,} enterprises reach {p:,} of {n:,} parcels; {m:,} parcels hold "
                       "several tenants; {none:,} enterprises reach none"),
    # fields of an enterprise table the parcel schema does not have (report field names, problems' field column)
    "ir_field_credit_code": ("统一社会信用代码", "Credit code"),
    "ir_field_credit_codes": ("统一社会信用代码（使用企业）", "Credit codes (occupying enterprises)"),
    "ir_field_energy_tce": ("综合能耗（吨标准煤）", "Energy use (tce)"),
    "ir_unchanged_again": ("如确需将其发布为新版本，请加 --publish-again。",
                           "To publish it as a new version anyway, add --publish-again."),
    # a dry run's note of a refusal to come, in words of no face (planner.cli.ingest.with_publish_again_notes adds the
    # command line's option to publish anyway)
    "ir_same_file_note": ("{msg}（试运行：正式导入时将拒绝）", "{msg} (dry run: the real run refuses it)"),
    # -- switching the current survey or enterprise table version (planner.workflow.versions, planner workspace use)
    "ver_kind_survey": ("调查版本", "survey version"),
    "ver_kind_enterprise": ("企业数据版本", "enterprise table version"),
    "ver_missing": ("{ws} 中没有{what} v{v}；现有{what}：{versions}。请给出其中之一。",
                    "{ws} has no {what} v{v}; its {what}s are {versions}. Give one of them."),
    "ver_missing_none": ("{ws} 中没有{what} v{v}：尚无任何{what}。", "{ws} has no {what} v{v}: it has none yet."),
    "cli_use_instead": ("如需让 v{v} 重新成为当前版本，请运行 `planner workspace use {kind} {v} {option}`。",
                        "To make v{v} current again, run `planner workspace use {kind} {v} {option}`."),
    "cli_use_switched": ("{ws}：当前{what}已由 {was} 切换为 v{v}（已记入操作日志）",
                         "{ws}: the current {what} is now v{v} (was {was}); recorded in the audit log"),
    "cli_use_already": ("{ws}：v{v} 已是当前{what}，未作任何更改",
                        "{ws}: v{v} is already the current {what}; nothing was changed"),
    "cli_use_none": ("无", "none"),
    "cli_use_stale": ("已过期（基于其他版本）：", "Out of date now (built on another version):"),
    "cli_use_stale_item": ("  {what}：{why}", "  {what}: {why}"),
    "cli_use_stale_scenarios": ("  基于上述片区的已保存情景：{names}", "  saved scenarios run on these sites: {names}"),
    "cli_use_rebuild": ("重新计算：`planner classify {option}`，然后 `planner sites {option}`",
                        "to rebuild: `planner classify {option}`, then `planner sites {option}`"),
    "cli_use_fresh": ("与 v{v} 一致（无需重新计算）：{names}", "Up to date with v{v}: {names}"),
    "cli_use_nothing_stored": ("工作空间中没有已保存的识别或片区结果。", "The workspace holds no stored flags or sites."),
    # flags and sites built on the version switched to earlier, still stored (planner.workflow.versions.restorable_results)
    "cli_use_already_restored": ("{ws}：v{v} 已是当前{what}", "{ws}: v{v} is already the current {what}"),
    "cli_use_restorable": ("之前基于{what} v{v} 生成的结果仍在工作空间中，可直接恢复为当前结果（无需重新计算）：",
                           "Built on {what} v{v} earlier and still in the workspace (no need to rebuild):"),
    "cli_use_restorable_item": ("  {what} v{version}（{when}，{user}）", "  {what} v{version} (built {when} by {user})"),
    "cli_use_restore_how": ("恢复它们：`planner workspace use {kind} {v} --with-results {option}`",
                            "to make them current again: `planner workspace use {kind} {v} --with-results {option}`"),
    "cli_use_restored": ("已恢复为当前结果（基于{what} v{v}，已记入操作日志）：",
                         "Made current again (built on {what} v{v}; recorded in the audit log):"),
}

#: Coded values shown to users: kind -> value -> (zh, en).
VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "flag": {"low": ("偏低", "Low"), "ok": ("正常", "OK"), "unknown": ("未知", "Unknown"),
             "n/a": ("不适用", "Not applicable")},
    "bool": {"True": ("是", "Yes"), "False": ("否", "No")},
    "upgrade": {"retain": ("保留提升", "Retain"), "upgrade": ("原址提升", "Upgrade in place"),
                "redevelop": ("拆除重建", "Redevelop"), "unknown": ("数据不足", "Unknown"),
                "n/a": ("不适用", "Not applicable")},
    "land_use": {"industrial": ("工业", "Industrial"), "warehouse": ("仓储", "Warehouse"),
                 "commercial": ("商业", "Commercial"), "residential": ("居住", "Residential"),
                 "public": ("公共服务", "Public services"), "transport": ("交通", "Transport"),
                 "green": ("绿地", "Green space"), "agricultural": ("农业", "Agricultural"),
                 "water": ("水域", "Water"), "other": ("其他", "Other")},
    "status": {"in_use": ("在用", "In use"), "idle": ("闲置", "Idle"), "vacant": ("空置", "Vacant"),
               "under_construction": ("在建", "Under construction"), "stopped": ("停产", "Stopped"),
               "half_stopped": ("半停产", "Partly stopped")},
    "category": {"arterial_road": ("主干道", "Arterial road"), "river": ("河流", "River"),
                 "railway": ("铁路", "Railway"), "ecological_red_line": ("生态保护红线", "Ecological red line"),
                 "permanent_farmland": ("永久基本农田", "Permanent farmland"), "heritage": ("文物保护", "Heritage"),
                 "river_buffer": ("河道管理范围", "River buffer")},
    "site_status": {"ok": ("符合", "OK"), "too_small": ("面积过小", "Too small"),
                    "too_large": ("面积过大", "Too large")},
    "existing": {"demolish": ("全部拆除重建", "Demolish all"), "retain": ("全部保留（加建）", "Retain all (infill)"),
                 "retain_class": ("保留所选提升分类的地块", "Keep parcels of the chosen upgrade classes")},
    "problem": {"repaired_geometry": ("几何已修复", "Geometry repaired"), "bad_geometry": ("几何不可用", "Unusable geometry"),
                "negative": ("负值", "Negative value"), "impossible": ("数值不合理", "Impossible value"),
                "area_mismatch": ("面积不符", "Area mismatch"), "missing_id": ("缺少编号", "Missing id"),
                "duplicate_id": ("编号重复", "Duplicate id"), "hidden_id": ("编号含不可见字符", "Id with hidden characters"),
                "unknown_code": ("未知代码", "Unknown code")},
    "action": {"repaired": ("已修复", "Repaired"), "rejected": ("已拒绝", "Rejected"),
               "flagged": ("存疑", "Flagged"), "refused": ("拒绝发布", "Refused")},
}

VALUES["change"] = {"added": ("新增", "Added"), "removed": ("删除", "Removed"), "changed": ("变更", "Changed")}
VALUES["kind"] = {
    "survey": ("地块调查", "Parcel survey"), "constraint": ("管控约束", "Constraint"), "barrier": ("阻隔", "Barrier"),
    "flags": ("三低识别结果", "Three-low flags"), "sites": ("连片片区", "Sites"),
    "site_parcels": ("片区地块表", "Site parcels"), "boundary": ("研究范围", "Study area"),
    "result": ("计算结果", "Result"), "policy": ("识别规则", "Policy"), "scenario": ("情景", "Scenario"),
    "site_edit": ("片区调整", "Site edits"), "template": ("园区模板", "Park template"),
    "settings": ("设置", "Settings"), "site_params": ("连片参数", "Site settings"),
    "comparison": ("情景对比", "Comparison")}
for _k, (_zh, _en) in list(VALUES["kind"].items()):  # audit-log actions: write_<kind>, save_<kind>
    VALUES["action"][f"write_{_k}"] = (f"写入{_zh}", f"Write {_en.lower()}")
    VALUES["action"][f"save_{_k}"] = (f"保存{_zh}", f"Save {_en.lower()}")
VALUES["action"].update({"publish_survey": ("发布调查版本", "Publish survey"), "publish": ("发布", "Publish"),
                         "set_current": ("切换当前版本", "Set current version"),
                         "classify": ("三低识别", "Classify"), "build_sites": ("生成片区", "Build sites")})
# -- issue 15 (deliveries): nulled fields, id formats, enterprise tables ----------------------------------
VALUES["action"].update({"nulled": ("已置空", "Nulled"), "publish_enterprises": ("发布企业数据", "Publish enterprise table"),
                         "set_current_enterprises": ("切换企业数据版本", "Set current enterprise table")})
VALUES["problem"].update({
    "not_integer": ("不是整数", "Not a whole number"), "not_a_number": ("不是数字", "Not a number"),
    "invalid_credit_code": ("信用代码无效", "Invalid credit code"),
    "missing_credit_code": ("缺少信用代码", "Missing credit code"), "duplicate": ("企业重复", "Duplicate enterprise"),
    "unmatched_code": ("关联企业不存在", "Link: unknown enterprise"),
    "unmatched_parcel": ("关联宗地不存在", "Link: unknown parcel"), "no_parcel": ("企业未关联宗地", "Enterprise without parcel"),
    "ambiguous_name": ("企业名称重名", "Ambiguous name")})
VALUES["kind"].update({"enterprise": ("企业数据", "Enterprise table"), "enterprise_link": ("企业宗地关联", "Enterprise links")})

#: Column -> kind of its coded values (see :data:`VALUES`).
VALUE_KINDS = {"low_utilization": "flag", "low_capacity": "flag", "low_contribution": "flag",
               "three_low": "bool", "is_current": "bool", "upgrade_class": "upgrade", "land_use": "land_use",
               "zone_use": "land_use", "status": "status", "category": "category", "existing_rule": "existing",
               "action": "action", "kind": "kind", "code": "problem"}

#: The one label table of every figure and table column shown anywhere (app tables, map tooltips, Excel,
#: HTML and CLI reports): name -> (zh, en, unit, kind). ``unit`` is "<zh> <en>" (or one text for both);
#: ``kind`` sets the number format: "count" (whole numbers, estimates such as enterprises housed included),
#: "points" (whole, one decimal where weights make a fraction), "area", "money", "ratio", "share" (0-1 shown
#: as %), "year", "years", "text". Parcel-schema fields and indicators not listed here take their labels from the schema.
LABELS: dict[str, tuple[str, str, str, str]] = {
    "n_sites": ('片区数', 'Sites', '', 'count'),
    "site_id": ('片区编号', 'Site id', '', 'text'),
    "rank": ('排名', 'Rank', '', 'count'),
    "template": ('园区模板', 'Park template', '', 'text'),
    "existing_rule": ('现状建筑', 'Existing buildings', '', 'text'),
    "land_area_m2": ('用地面积', 'Land area', 'm²', 'area'),
    "land_area_mu": ('用地面积', 'Land area', '亩 mu', 'area'),
    "target_plot_ratio": ('目标容积率', 'Target plot ratio', '', 'ratio'),
    "existing_floor_m2": ('现状建筑面积', 'Existing floor area', 'm²', 'area'),
    "retained_floor_m2": ('保留建筑面积', 'Retained floor area', 'm²', 'area'),
    "demolished_floor_m2": ('拆除建筑面积', 'Demolished floor area', 'm²', 'area'),
    "new_floor_m2": ('新建建筑面积', 'Floor area built', 'm²', 'area'),
    "floor_after_m2": ('规划总建筑面积', 'Gross planned floor area', 'm²', 'area'),
    "net_change_m2": ('新增产业空间', 'Net new floor area', 'm²', 'area'),
    "plot_ratio_before": ('现状容积率', 'Plot ratio before', '', 'ratio'),
    "plot_ratio_after": ('改造后容积率', 'Plot ratio after', '', 'ratio'),
    "leasable_m2": ('可租赁面积', 'Leasable floor area', 'm²', 'area'),
    "occupied_m2": ('出租面积', 'Occupied', 'm²', 'area'),
    "enterprises_before": ('现状企业数', 'Enterprises before', '', 'count'),
    "enterprises_housed": ('可容纳企业数', 'Enterprises housed', '', 'count'),
    "enterprises": ('入驻企业数', 'Enterprises', '', 'count'),
    "jobs_before": ('现状就业', 'Jobs before', '', 'count'),
    "jobs_after": ('改造后就业', 'Jobs after', '', 'count'),
    "jobs_new": ('新增就业', 'New jobs', '', 'count'),
    "output_before_cny": ('现状年产值', 'Output before', '元/年 yuan/yr', 'money'),
    "output_after_cny": ('改造后年产值', 'Output after', '元/年 yuan/yr', 'money'),
    "output_new_cny": ('新增产值', 'Output of new space', '元 yuan', 'money'),
    "tax_before_cny": ('现状年税收', 'Tax before', '元/年 yuan/yr', 'money'),
    "tax_after_cny": ('改造后年税收', 'Tax after', '元/年 yuan/yr', 'money'),
    "tax_new_cny": ('新增空间税收', 'Tax of new space', '元 yuan', 'money'),
    "tax_per_mu_after": ('改造后亩均税收', 'Tax per mu after', '元/亩 yuan/mu', 'money'),
    "investment_cny": ('总投资', 'Investment', '元 yuan', 'money'),
    "investment_in_year_cny": ('当年投资', 'Investment in the year', '元/年 yuan/yr', 'money'),
    "construction_cost_cny": ('建安费用', 'Construction cost', '元 yuan', 'money'),
    "demolition_cost_cny": ('拆除费用', 'Demolition cost', '元 yuan', 'money'),
    "other_cost_cny": ('土地、配套及其他', 'Land, infrastructure, other', '元 yuan', 'money'),
    "rent_cny_yr": ('年租金收入', 'Rent income', '元/年 yuan/yr', 'money'),
    "rent_cny": ('租金收入', 'Rent income', '元 yuan', 'money'),
    "payback_years": ('仅计租金回收期', 'Payback, rent only', '年 yr', 'years'),
    "fiscal_payback_years": ('租金+税收回收期', 'Payback, rent + tax', '年 yr', 'years'),
    "start_year": ('启动年份', 'Start year', '', 'year'),
    "works_start": ('开工年份', 'Works start year', '', 'year'),
    "delivery": ('交付年份', 'Delivery year', '', 'year'),
    "first_delivery": ('首批交付年份', 'First delivery year', '', 'year'),
    "last_delivery": ('末批交付年份', 'Last delivery year', '', 'year'),
    "peak_investment_cny_yr": ('年度投资峰值', 'Peak annual investment', '元/年 yuan/yr', 'money'),
    "new_floor_per_site_m2": ('片区平均新增面积', 'New floor area per site', 'm²', 'area'),
    "m2_per_enterprise": ('每企业面积', 'Space per enterprise', 'm²', 'area'),
    "year": ('年份', 'Year', '', 'year'),
    "sites_started": ('启动片区', 'Sites started', '', 'count'),
    "sites_delivered": ('交付片区', 'Sites delivered', '', 'count'),
    "under_construction_m2": ('在建面积', 'Under construction', 'm²', 'area'),
    "delivered_m2": ('累计交付面积', 'Delivered (cumulative)', 'm²', 'area'),
    "cum_investment_cny": ('累计投资', 'Cumulative investment', '元 yuan', 'money'),
    "cum_rent_cny": ('累计租金', 'Cumulative rent', '元 yuan', 'money'),
    "cum_tax_new_cny": ('累计新增税收', 'Cumulative tax of new space', '元 yuan', 'money'),
    "parameter": ('参数', 'Parameter', '', 'text'),
    "source": ('来源', 'Source', '', 'text'),
    "figure": ('指标', 'Figure', '', 'text'),
    "value": ('数值', 'Value', '', 'text'),
    "n_parcels": ('地块数', 'Parcels', '', 'count'),
    "n_owners": ('权利人数', 'Land-right holders', '', 'count'),
    "n_enterprises": ('企业数', 'Enterprises', '', 'count'),
    "floor_area_m2": ('建筑面积', 'Floor area', 'm²', 'area'),
    "plot_ratio": ('容积率', 'Plot ratio', '', 'ratio'),
    "flagged_share": ('三低用地占比', 'Three-low share', '', 'share'),
    "compactness": ('紧凑度', 'Compactness', '', 'ratio'),
    "constraint_overlap_m2": ('管控约束重叠', 'Constraint overlap', 'm²', 'area'),
    "n_retained_inside": ('内部保留地块', 'Retained parcels inside', '', 'count'),
    "potential_floor_area_m2": ('规划建筑面积潜力', 'Planned floor-area potential', 'm²', 'area'),
    "score": ('综合得分', 'Score', '', 'ratio'),
    "version": ('版本', 'Version', '', 'count'),
    "created_at": ('创建时间', 'Created', '', 'text'),
    "user": ('用户', 'User', '', 'text'),
    "n_rows": ('行数', 'Rows', '', 'count'),
    "is_current": ('当前版本', 'Current', '', 'text'),
    "built_on": ('计算依据', 'Built on', '', 'text'),
    "source_file": ('源文件', 'Source file', '', 'text'),
    "meta": ('说明', 'Notes', '', 'text'),
    "kind": ('类型', 'Kind', '', 'text'),
    "name": ('名称', 'Name', '', 'text'),
    "ts": ('时间', 'Time', '', 'text'),
    "action": ('操作', 'Action', '', 'text'),
    "detail": ('详情', 'Details', '', 'text'),
    "sha256": ('SHA-256', 'SHA-256', '', 'text'),
    "code": ('问题代码', 'Problem code', '', 'text'),
    "message": ('说明', 'Message', '', 'text'),
    "row": ('行号', 'Row', '', 'count'),
    "field": ('字段', 'Field', '', 'text'),
    "canonical": ('标准字段', 'Canonical field', '', 'text'),
    # -- decision-grade outputs (issue 13): columns of exports and briefs
    "reason_zh": ('认定理由', 'Reasons (Chinese)', '', 'text'),
    "reason_en": ('认定理由（英文）', 'Reasons', '', 'text'),
    "role": ('地块类型', 'Role in the site', '', 'text'),
    "group": ('所在情景', 'In scenarios', '', 'text'),
    # -- realistic sites (task realsites, issue 13)
    # points (DifficultyWeights: 1 per owner and per enterprise, 2 per retained parcel inside), not a 0-1 score
    "difficulty": ('实施难度', 'Assembly difficulty', '分 points', 'points'),
    "score_difficulty": ('难度扣分', 'Difficulty penalty', '', 'ratio'),
}

#: Display units of amounts: one system per language on cards, tables, chart axes, Excel and the CLI
#: (万㎡ and 亿元 in Chinese; m² and million yuan in English): kind -> lang -> (divisor, unit).
DISPLAY_UNITS: dict[str, dict[str, tuple[float, str]]] = {
    "area": {"zh": (1e4, "万㎡"), "en": (1.0, "m²")},
    "money": {"zh": (1e8, "亿元"), "en": (1e6, "million yuan")},
}
#: Amounts that keep their own unit: survey attributes of parcels, small overlaps, space per enterprise.
#: Land is measured in m² and 亩 in both languages; rates (元/亩, 元/㎡) keep theirs.
OWN_UNIT = frozenset({"land_area_m2", "floor_area_m2", "constraint_overlap_m2", "m2_per_enterprise"})
_AMOUNT_UNITS = {"m²": "", "元 yuan": "", "元/年 yuan/yr": "/yr"}

#: Number format (st.column_config printf) of each kind; "share" is a percentage.
_KIND_FORMAT = {"count": "%,d", "points": "%,d", "area": "%,.0f", "money": "%,.0f", "ratio": "%.2f", "share": "share",
                "year": "%d", "years": "%.1f", "text": ""}
#: printf formats of amounts in display units (per-site figures need the decimals).
_DISPLAY_FORMAT = {("area", "zh"): "%,.2f", ("money", "zh"): "%,.3f", ("area", "en"): "%,.0f",
                   ("money", "en"): "%,.2f"}
_PLAIN_INT = {"rank", "version", "row", "year"}


def has_fraction(values) -> bool:
    """Whether any finite number of ``values`` is not whole (a "points" column that needs a decimal: difficulty
    points weighted 1.5 per owner; estimates such as enterprises housed stay whole numbers).

    >>> has_fraction([1.0, 2.0, float("nan")]), has_fraction([2.5, 3.0])
    (False, True)
    """
    return any(math.isfinite(x) and abs(x - round(x)) > 1e-9 for x in map(float, values))


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "zh"


def display_unit(key: str, lang: str = "zh") -> tuple[float, str] | None:
    """Divisor and unit an amount is shown in (``("new_floor_m2", "zh")`` -> ``(1e4, "万㎡")``); None if it keeps its own.

    Examples
    --------
    >>> display_unit("investment_cny", "zh"), display_unit("rent_cny_yr", "en"), display_unit("land_area_m2")
    ((100000000.0, '亿元'), (1000000.0, 'million yuan/yr'), None)
    """
    _zh, _en, u, kind = LABELS.get(key, ("", "", "", "text"))
    if key in OWN_UNIT or kind not in DISPLAY_UNITS or u not in _AMOUNT_UNITS:
        return None
    lg = _lang(lang)
    div, unit = DISPLAY_UNITS[kind][lg]
    per = _AMOUNT_UNITS[u]
    return div, unit + (("/年" if lg == "zh" else per) if per else "")


def _unit(unit: str, lang: str) -> str:
    zh, _, en = unit.partition(" ")
    u = zh if lang == "zh" or not en else en
    return "㎡" if lang == "zh" and u == "m²" else u


def label(key: str, lang: str = "zh", *, unit: bool = True, both: bool = False) -> str:
    """Label of a figure or column from :data:`LABELS` with its display unit (:func:`display_unit`):
    ``新建建筑面积（万㎡）``, ``Floor area built (m²)``, or with ``both`` (Chinese workbooks)
    ``新建建筑面积 Floor area built（万㎡）`` (the name itself when unknown).

    Examples
    --------
    >>> label("net_change_m2"), label("net_change_m2", "en"), label("net_change_m2", both=True)
    ('新增产业空间（万㎡）', 'Net new floor area (m²)', '新增产业空间 Net new floor area（万㎡）')
    """
    zh, en, u, _ = LABELS.get(key, (key, key, "", "text"))
    du = display_unit(key, "en" if lang == "en" and not both else "zh")
    if both:
        shown = du[1] if du else _unit(u, "zh")
        return f"{zh} {en}" + (f"（{shown}）" if unit and u else "")
    text = zh if lang == "zh" else en
    if unit and u:
        shown = du[1] if du else _unit(u, lang)
        text += f"（{shown}）" if lang == "zh" else f" ({shown})"
    return text


def label_kind(key: str) -> str:
    """Number-format kind of a figure or column (see :data:`LABELS`)."""
    return LABELS.get(key, ("", "", "", "text"))[3]


def column_format(name: str, lang: str = "zh") -> str:
    """printf number format of a table column ("" for text, "share" for a 0-1 share shown as %).

    Amounts in display units (:func:`display_unit`) get the decimals their unit needs.
    """
    if name not in LABELS:
        return ""
    zh, en, u, kind = LABELS[name]
    if name in _PLAIN_INT:
        return "%d"
    if display_unit(name, lang) is not None:
        return _DISPLAY_FORMAT[(kind, _lang(lang))]
    if kind == "area" and u.endswith("mu"):
        return "%,.1f"
    return _KIND_FORMAT.get(kind, "")


#: Park-template and scenario parameters (assumption tables): name -> (zh, en).
PARAMS: dict[str, tuple[str, str]] = {
    "target_plot_ratio": ("目标容积率", "Target plot ratio"),
    "coverage": ("建筑密度", "Building coverage"),
    "floors_min": ("最少层数", "Fewest floors"),
    "floors_max": ("最多层数", "Most floors"),
    "road_yard_share": ("道路及堆场用地比例", "Roads and yards (share of site)"),
    "green_share": ("绿地率", "Green share"),
    "facility_share": ("配套设施用地比例", "Facilities (share of land)"),
    "support_floor_share": ("配套建筑面积比例", "Support floor share"),
    "hard_cost_per_m2": ("建安单价（元/㎡）", "Construction cost (yuan/m²)"),
    "all_in_cost_per_m2": ("综合造价（元/㎡）", "All-in cost (yuan/m²)"),
    "demolition_cost_per_m2": ("拆除单价（元/㎡）", "Demolition cost (yuan/m²)"),
    "rent_per_m2_month": ("租金（元/㎡·月）", "Rent (yuan/m²/month)"),
    "m2_per_enterprise": ("每家企业面积（㎡）", "Space per enterprise (m²)"),
    "jobs_per_1000m2": ("每千㎡就业", "Jobs per 1,000 m²"),
    "output_per_m2": ("单位面积产值（元/㎡）", "Output per m² (yuan/m²)"),
    "tax_per_m2": ("单位面积税收（元/㎡）", "Tax per m² (yuan/m²)"),
    "output_per_mu": ("亩均产值（元/亩）", "Output per mu (yuan/mu)"),
    "tax_per_mu": ("亩均税收（元/亩）", "Tax per mu (yuan/mu)"),
    "planning_months": ("前期工作（月）", "Planning (months)"),
    "construction_months": ("建设工期（月）", "Construction (months)"),
    "absorption": ("出租率爬升", "Occupancy ramp-up"),
    "scenario.existing": ("情景：现状建筑", "Scenario: existing buildings"),
    "scenario.start_year": ("情景：起始年份", "Scenario: start year"),
    "scenario.sites_per_year": ("情景：每年启动片区数", "Scenario: site starts per year"),
    "scenario.budget_per_year": ("情景：每年可新开工投资额（未用额度顺延）",
                                 "Scenario: investment that may start per year (unused budget carries over)"),
    "scenario.horizon_years": ("情景：测算年限（年）", "Scenario: horizon (years)"),
    "policy": ("三低识别规则", "Three-low policy"),
}


#: Chinese of the shipped policies' rule sources (``policies/*.toml``, ``source = "..."``): a source is part of the
#: policy (and of its hash), so the files keep one text; pages in Chinese show it from here. A source a planner
#: wrote shows as written.
POLICY_SOURCES_ZH: dict[str, str] = {
    "S: 工业项目建设用地控制指标 (2008) plot ratio >= 1.0": "S：《工业项目建设用地控制指标》（2008），容积率 ≥ 1.0",
    "S: 2008 control indicators, textiles (17) >= 0.8": "S：2008 年控制指标，纺织业（17）≥ 0.8",
    "S: 2008 control indicators, garments (18) / leather and shoes (19) >= 1.0":
        "S：2008 年控制指标，纺织服装、服饰业（18）/ 皮革、毛皮、羽毛及其制品和制鞋业（19）≥ 1.0",
    "S/P: 2008 control indicators building coverage >= 30% (2023 revision reportedly 40%)":
        "S/P：2008 年控制指标，建筑系数 ≥ 30%（据报 2023 年修订为 40%）",
    "S: 闲置土地处置办法 (MLR order 53), via surveyed status": "S：《闲置土地处置办法》（国土资源部令第 53 号），依据调查的土地状态",
    "P: per-mu evaluation practice (Jiangsu/Zhejiang ABCD), bottom 5%": "P：亩均效益评价惯例（江苏、浙江 ABCD 分类），排名后 5%",
    "P: per-mu evaluation practice, production stopped/half-stopped >= 1 year": "P：亩均效益评价惯例，停产或半停产 ≥ 1 年",
    "S: 泉政办规〔2025〕13号 tax per mu < 50,000 yuan/mu": "S：泉政办规〔2025〕13号，亩均税收 < 5 万元/亩",
    "S: 泉政办规〔2025〕13号": "S：泉政办规〔2025〕13号",
    "S: Huai'an 2024 per-mu evaluation (tax per unit energy; plot ratio stands in without energy data: P)":
        "S：淮安 2024 年亩均效益评价（单位能耗税收；无能耗数据时以容积率代替：P）",
}


def source_text(text: str, lang: str = "zh") -> str:
    """A policy rule's source as a page in ``lang`` shows it (see :data:`POLICY_SOURCES_ZH`)."""
    text = str(text or "")
    return POLICY_SOURCES_ZH.get(text.strip(), text) if _lang(lang) == "zh" else text


def param_label(name: str, lang: str = "zh") -> str:
    """Label of a template or scenario parameter (the name itself when unknown)."""
    pair = PARAMS.get(str(name))
    if pair is None:
        return str(name)
    return pair[1] if lang == "en" else pair[0]


#: A name the planner makes up for what a workspace address leaves out, in each language: a PostGIS URI that
#: names no database (the server then takes the user's name) is shown as "(default database)/SCHEMA"
#: (:func:`planner.io._pgconn.parse_uri`).
DEFAULT_DB = {"zh": "（默认数据库）", "en": "(default database)"}


def names_in(text: str, lang: str = "zh") -> str:
    """``text`` (a workspace name, a message naming one) with the names the planner makes up in ``lang``.

    The name of a workspace is made once, in English, and goes into messages of both languages (and serves as
    the app's key of the workspace); a Chinese message or page shows it with these words in Chinese.

    Examples
    --------
    >>> names_in("工作空间 (default database)/jinjiang 不存在"), names_in("(default database)/a", "en")
    ('工作空间 （默认数据库）/jinjiang 不存在', '(default database)/a')
    """
    if lang == "en" or DEFAULT_DB["en"] not in text:
        return text
    return text.replace(DEFAULT_DB["en"], DEFAULT_DB["zh"])


#: What a PostGIS workspace was doing when the database refused (``planner.io._pgconn.pg_errors``), in Chinese.
DB_ACTIONS_ZH = {
    "opening the workspace": "打开工作空间", "reading the workspace": "读取工作空间",
    "creating the workspace": "创建工作空间", "upgrading the workspace": "升级工作空间",
    "writing the workspace": "写入工作空间", "copying into the workspace": "复制到工作空间",
    "deleting the workspace": "删除工作空间", "switching the current version": "切换当前版本",
    "recording an audit row": "记录审计日志", "saving an account": "保存账号",
    "taking the writer lock": "获取写入锁", "looking up the writer": "查询写入者",
}



def workspace_shown(uri, lang: str = "en") -> str:
    """A workspace as messages show it: a PostGIS one as ``database/schema`` (README, "The URI"), a file as given."""
    if str(uri).startswith(("postgresql://", "postgres://")):
        from planner.io._pgconn import shown_name

        return names_in(shown_name(uri), lang)
    return str(uri)


def workspace_option(uri, lang: str = "en") -> str:
    """``-w WORKSPACE`` for a command a message proposes (the command line's and the app's): a file quoted as a
    shell needs it; a PostGIS URI never written out.

    The URI may hold a password, and README promises messages name it ``database/schema`` only: the
    proposal takes it from ``$PLANNER_WORKSPACE`` when that is the one, else says which one to give.

    >>> workspace_option("/data/ws.gpkg"), workspace_option("/data/my city.gpkg")
    ('-w /data/ws.gpkg', "-w '/data/my city.gpkg'")
    """
    import os
    import shlex

    if not str(uri).startswith(("postgresql://", "postgres://")):
        return f"-w {shlex.quote(str(uri))}"
    if os.environ.get("PLANNER_WORKSPACE", "").strip() == str(uri).strip():
        return '-w "$PLANNER_WORKSPACE"'
    return t("cli_uri_option", lang, ws=workspace_shown(uri, lang))

def db_action_zh(what: str) -> str:
    """A PostGIS store's action (``"reading the workspace"``, ``"saving scenario 'a'"``) in Chinese.

    Examples
    --------
    >>> db_action_zh("reading the workspace"), db_action_zh("saving scenario 'a'")
    ('读取工作空间', "保存情景 'a'")
    """
    if what in DB_ACTIONS_ZH:
        return DB_ACTIONS_ZH[what]
    kind, sep, name = what.removeprefix("saving ").partition(" ")
    if what.startswith("saving ") and sep:
        return f"保存{value_label('kind', kind, 'zh')} {name}"
    return what


def value_label(kind: str, value, lang: str = "zh") -> str:
    """Readable text of a coded value (``"low"`` -> ``"偏低"``); unknown codes come back as text.

    Examples
    --------
    >>> value_label("flag", "low"), value_label("bool", True, "en")
    ('偏低', 'Yes')
    """
    pair = VALUES.get(kind, {}).get(str(value))
    if pair is None:
        return str(value)
    return pair[1] if lang == "en" else pair[0]


def column_label(name: str, lang: str = "zh") -> str:
    """Header of a table column: :data:`LABELS` (amounts in display units), then indicators, then the schema, then
    an enterprise table's fields joined in (the explorer showed ``energy_tce`` and ``credit_codes`` untranslated).

    >>> column_label("energy_tce"), column_label("credit_codes", "en")
    ('综合能耗（吨标准煤）', 'Credit codes (occupying enterprises)')
    """
    if name in LABELS:
        return label(name, lang)
    if f"ind_{name}" in STRINGS:
        return t(f"ind_{name}", lang)
    from planner import schema

    try:
        f = schema.field(name)
    except Exception:  # not a schema column: an enterprise table's field joined in (energy_tce), else the name
        key = f"ir_field_{name}"
        return t(key, lang) if key in STRINGS else str(name)
    unit = _UNITS.get(f.unit, (f.unit, f.unit))[1 if lang == "en" else 0]
    if lang == "en":
        return f"{f.en} ({unit})" if unit else f.en
    return f"{f.zh}（{unit}）" if unit else f.zh


def field_label(name: str, lang: str = "zh") -> str:
    """A loaded field as an ingest report and the data manager's problem table name it: :func:`column_label`, or,
    for an enterprise table's fields the parcel schema does not have (``credit_code``, ``energy_tce``), their
    ``ir_field_<name>`` string.

    Examples
    --------
    >>> field_label("credit_code"), field_label("energy_tce", "en"), field_label("tax_cny")
    ('统一社会信用代码', 'Energy use (tce)', '年税收（元/年）')
    """
    key = f"ir_field_{name}"
    return t(key, lang) if key in STRINGS else column_label(name, lang)


#: Units of the parcel schema in each language (schema.Field.unit -> (zh, en)).
_UNITS = {"m²": ("㎡", "m²"), "CNY/yr": ("元/年", "yuan/yr"), "persons": ("人", "persons"), "year": ("", "")}


def t(key: str, lang: str = "zh", **fmt) -> str:
    """The string ``key`` in ``lang`` ("zh" or "en"), formatted with ``fmt``."""
    zh, en = STRINGS[key]
    s = en if lang == "en" else zh
    return s.format(**fmt) if fmt else s


def note(key: str, **fmt):
    """The string ``key`` in both languages: a :class:`~planner.errors.Note` (its English, with its Chinese in
    ``zh``), for a library to tell a line whose language the caller picks (:func:`planner.errors.message_in`)."""
    from planner.errors import Note

    return Note(t(key, "en", **fmt), zh=t(key, "zh", **fmt))
