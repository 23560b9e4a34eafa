"""Land-use and industry code lists, and their normalization.

Land-use codes clash between schemes (DOMAIN.md): in the 三调 land survey
(GB/T 21010 work classification) ``1001`` is railway land and ``0601`` is
industrial; in the 国土空间 planning classification (用地用海分类指南, 2023)
``1001`` is industrial (``100101``-``100103`` classes 1-3) and ``1101``
storage. A lookup therefore always takes the scheme as well as the code.

Examples
--------
>>> normalize_land_use(["100102", "1001", "0601"], scheme="gtkj").tolist()
['industrial', 'industrial', 'agricultural']
>>> normalize_land_use(["1001", "0601"], scheme="sandiao").tolist()
['transport', 'industrial']
"""

from __future__ import annotations

import pandas as pd

from planner.errors import DataError

#: 国土空间调查、规划、用途管制用地用海分类 (2023): code prefix -> (class, name).
GTKJ: dict[str, tuple[str, str]] = {
    "01": ("agricultural", "耕地"),
    "02": ("agricultural", "园地"),
    "03": ("agricultural", "林地"),
    "04": ("agricultural", "草地"),
    "05": ("water", "湿地"),
    "06": ("agricultural", "农业设施建设用地"),
    "07": ("residential", "居住用地"),
    "08": ("public", "公共管理与公共服务用地"),
    "09": ("commercial", "商业服务业用地"),
    "10": ("industrial", "工矿用地"),
    "1001": ("industrial", "工业用地"),
    "100101": ("industrial", "一类工业用地"),
    "100102": ("industrial", "二类工业用地"),
    "100103": ("industrial", "三类工业用地"),
    "1002": ("industrial", "采矿用地"),
    "1003": ("other", "盐田"),
    "11": ("warehouse", "仓储用地"),
    "1101": ("warehouse", "物流仓储用地"),
    "110101": ("warehouse", "一类物流仓储用地"),
    "110102": ("warehouse", "二类物流仓储用地"),
    "110103": ("warehouse", "三类物流仓储用地"),
    "1102": ("warehouse", "储备库用地"),
    "12": ("transport", "交通运输用地"),
    "13": ("public", "公用设施用地"),
    "14": ("green", "绿地与开敞空间用地"),
    "15": ("other", "特殊用地"),
    "16": ("other", "留白用地"),
    "17": ("water", "陆地水域"),
    "18": ("water", "渔业用海"),
    "23": ("other", "其他土地"),
}

#: 第三次全国国土调查 (三调) work classification: code prefix -> (class, name).
SANDIAO: dict[str, tuple[str, str]] = {
    "01": ("agricultural", "耕地"),
    "02": ("agricultural", "种植园用地"),
    "03": ("agricultural", "林地"),
    "04": ("agricultural", "草地"),
    "05": ("commercial", "商业服务业用地"),
    "0508": ("warehouse", "物流仓储用地"),
    "06": ("industrial", "工矿用地"),
    "0601": ("industrial", "工业用地"),
    "0602": ("industrial", "采矿用地"),
    "0603": ("other", "盐田"),
    "07": ("residential", "住宅用地"),
    "08": ("public", "公共管理与公共服务用地"),
    "0810": ("green", "公园与绿地"),
    "09": ("other", "特殊用地"),
    "10": ("transport", "交通运输用地"),
    "11": ("water", "水域及水利设施用地"),
    "12": ("other", "其他土地"),
}

SCHEMES = {"gtkj": GTKJ, "sandiao": SANDIAO}

#: GB/T 4754-2017 manufacturing divisions common in Jinjiang: code -> (zh, en).
INDUSTRIES: dict[str, tuple[str, str]] = {
    "13": ("农副食品加工业", "agri-food processing"),
    "14": ("食品制造业", "food manufacturing"),
    "17": ("纺织业", "textiles"),
    "18": ("纺织服装、服饰业", "garments"),
    "19": ("皮革、毛皮、羽毛及其制品和制鞋业", "leather and footwear"),
    "22": ("造纸和纸制品业", "paper"),
    "23": ("印刷和记录媒介复制业", "printing"),
    "26": ("化学原料和化学制品制造业", "chemicals"),
    "29": ("橡胶和塑料制品业", "rubber and plastics"),
    "30": ("非金属矿物制品业", "ceramics and building materials"),
    "33": ("金属制品业", "metal products"),
    "34": ("通用设备制造业", "general machinery"),
    "38": ("电气机械和器材制造业", "electrical equipment"),
    "39": ("计算机、通信和其他电子设备制造业", "electronics"),
    "59": ("仓储业", "warehousing"),
}


def land_use_name(code: str, scheme: str = "gtkj") -> str | None:
    """Chinese name of the most specific known prefix of ``code``."""
    table = SCHEMES[scheme]
    for n in (6, 4, 2):
        hit = table.get(str(code)[:n])
        if hit and len(str(code)) >= n:
            return hit[1]
    return None


def normalize_land_use(codes, scheme: str = "gtkj") -> pd.Series:
    """Map source land-use codes to the normalized classes of the schema.

    The most specific known prefix wins (6, then 4, then 2 digits). Unknown
    or missing codes give ``<NA>``.

    Raises
    ------
    DataError
        If ``scheme`` is not ``"gtkj"`` (国土空间) or ``"sandiao"`` (三调).
    """
    if scheme not in SCHEMES:
        msg = f"unknown land-use scheme {scheme!r}; use 'gtkj' (国土空间规划分类) or 'sandiao' (三调)"
        raise DataError(msg)
    table = SCHEMES[scheme]
    s = pd.Series(codes, dtype="string").str.strip().str.upper()
    out = pd.Series(pd.NA, index=s.index, dtype="string")
    for n in (2, 4, 6):  # later (more specific) prefixes overwrite
        sub = {k: v[0] for k, v in table.items() if len(k) == n}
        pref = s.str.slice(0, n)
        hit = pref.map(sub)
        ok = hit.notna() & (s.str.len() >= n)
        out = out.mask(ok.fillna(False).to_numpy(dtype=bool), hit)
    return out


def industry_label(codes, lang: str = "zh") -> pd.Series:
    """Readable industry names of GB/T 4754 division codes."""
    idx = 0 if lang == "zh" else 1
    mapping = {k: v[idx] for k, v in INDUSTRIES.items()}
    s = pd.Series(codes, dtype="string")
    return s.map(mapping).fillna(s)


__all__ = ["GTKJ", "INDUSTRIES", "SANDIAO", "SCHEMES", "industry_label", "land_use_name", "normalize_land_use"]


