"""Chinese names for the sample city: enterprises, owners, villages, streets (vectorized).

Names are assembled from syllable lists with NumPy index draws, so a million
names cost a few array operations. All names are fictional.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Jinjiang's streets and towns (街道/镇), used as the 3-digit street part of the parcel code.
STREETS = (
    "青阳街道", "梅岭街道", "西园街道", "罗山街道", "灵源街道", "新塘街道",
    "陈埭镇", "池店镇", "安海镇", "磁灶镇", "内坑镇", "紫帽镇", "东石镇",
    "永和镇", "英林镇", "金井镇", "龙湖镇", "深沪镇", "西滨镇",
)

BRAND = np.array(list("恒安泰鸿星源华达盛兴隆宏信诚利美福祥瑞丰嘉豪凯金新永益昌明锦浩荣顺发亿万德贵峰舜鑫晟骏腾飞龙凤海天宝运通佳富康乔奇特匹克联"))
SURNAMES = np.array(list("陈林黄许吴王李张蔡洪施丁苏庄杨郑曾柯粘"))
SURNAME_P = np.array([18, 8, 7, 9, 7, 6, 5, 5, 6, 5, 6, 4, 3, 3, 2, 2, 2, 1, 1], dtype=float)
GIVEN = np.array(list("建国明华志强伟文清水金辉荣福永忠德海龙春秀丽英玲美芳育才俊杰"))
VILLAGE_A = np.array(list("江湖洋沟坑塘山埭浦后前东西南北上下新高溪仑苏曾檀"))
VILLAGE_B = np.array(list("头中尾边埔厝林坑内美亭安山田园阳岭庄透"))

#: Industry code -> words that appear in enterprise names.
INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "13": ("食品", "农产品"),
    "14": ("食品", "糖果", "饮料"),
    "17": ("纺织", "织造", "化纤", "染整"),
    "18": ("服装", "服饰", "制衣", "时装"),
    "19": ("鞋业", "鞋服", "体育用品", "鞋材", "制鞋"),
    "22": ("纸业", "纸品"),
    "23": ("印刷", "包装"),
    "26": ("化工", "新材料"),
    "29": ("塑胶", "橡塑", "塑料制品"),
    "30": ("陶瓷", "建材", "石材"),
    "33": ("五金", "金属制品"),
    "34": ("机械", "智能装备"),
    "38": ("电器", "电气"),
    "39": ("电子", "科技"),
    "59": ("物流", "仓储", "供应链"),
}
#: Industry mix of Jinjiang's manufacturing land (shoes, garments, textiles heavy): code -> weight.
INDUSTRY_MIX: dict[str, float] = {
    "19": 27, "18": 17, "17": 14, "29": 8, "30": 7, "14": 6, "13": 3, "22": 3,
    "23": 2, "26": 2, "33": 4, "34": 3, "38": 2, "39": 2,
}
COMMERCIAL_WORDS = ("商贸", "酒店", "置业", "贸易", "电子商务", "商业管理")


def _cat(*parts) -> pd.Series:
    out = pd.Series(parts[0], dtype=object)
    for p in parts[1:]:
        out = out + pd.Series(p, dtype=object).to_numpy()
    return out


def enterprise_names(rng: np.random.Generator, industry: np.ndarray, commercial: np.ndarray) -> np.ndarray:
    """Names like 晋江市恒泰鞋业有限公司 / 福建鸿星纺织股份有限公司, by industry code."""
    n = len(industry)
    prefix = np.array(["晋江市", "福建", "泉州", "福建省晋江", "晋江", "福建省"])[
        rng.choice(6, n, p=[0.45, 0.2, 0.1, 0.05, 0.1, 0.1])]
    b1, b2 = BRAND[rng.integers(0, len(BRAND), n)], BRAND[rng.integers(0, len(BRAND), n)]
    word = np.full(n, "实业", dtype=object)
    u = rng.random(n)
    for code, words in INDUSTRY_WORDS.items():
        m = industry == code
        if m.any():
            word[m] = np.array(words, dtype=object)[(u[m] * len(words)).astype(int)]
    cw = np.array(COMMERCIAL_WORDS, dtype=object)
    word[commercial] = cw[(u[commercial] * len(cw)).astype(int)]
    suffix = np.array(["有限公司", "股份有限公司", "实业有限公司", "有限责任公司"])[
        rng.choice(4, n, p=[0.7, 0.1, 0.1, 0.1])]
    suffix = np.where((suffix == "实业有限公司") & (word == "实业"), "有限公司", suffix)
    return _cat(prefix, b1, b2, word, suffix).to_numpy()


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two- or three-character personal names (陈建明, 许华)."""
    s = SURNAMES[rng.choice(len(SURNAMES), n, p=SURNAME_P / SURNAME_P.sum())]
    g1 = GIVEN[rng.integers(0, len(GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.8, GIVEN[rng.integers(0, len(GIVEN), n)], "")
    return _cat(s, g1, g2).to_numpy()


def village_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two-character village names (江头, 湖中)."""
    return _cat(VILLAGE_A[rng.integers(0, len(VILLAGE_A), n)], VILLAGE_B[rng.integers(0, len(VILLAGE_B), n)]).to_numpy()


def street_name(code: np.ndarray) -> np.ndarray:
    """Street/town name of a 1-based street code (codes beyond 19 reuse names with a district number)."""
    code = np.asarray(code)
    base = np.array(STREETS, dtype=object)[(code - 1) % len(STREETS)]
    rep = (code - 1) // len(STREETS)
    return np.where(rep == 0, base, _cat(base, "(", rep.astype(str), "区)").to_numpy())
