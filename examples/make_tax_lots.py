"""Build examples/data/tax_lots.zip: a small synthetic tax-lot layer as a foreign city's office delivers it.

A zipped shapefile in EPSG:2263 (NY State Plane Long Island, US feet), laid
out like MapPLUTO: BBL as a DBF double (10-digit numbers), LotArea and
BldgArea in square feet, LandUse codes 01-11 as numbers (6 for 06),
YearBuilt with the sentinels such layers carry (0 unknown, 1800 and 1899
placeholders), OwnerName with stray blanks. Synthetic and seeded; the
location (an industrial waterfront in Brooklyn) is only a place to put it.

Run: ``python examples/make_tax_lots.py [OUT.zip]``.
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely


def tax_lots(seed: int = 11) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lots, x0, y0 = [], 985_000.0, 195_000.0
    blocks = [(bx, by) for by in range(3) for bx in range(4)]
    for b, (bx, by) in enumerate(blocks):
        industrial = b % 3 != 2  # two of three blocks industrial (LandUse 06), others mixed
        for j in range(2):
            for i in range(6):
                x = x0 + bx * (6 * 200 + 60) + i * 200
                y = y0 + by * (2 * 250 + 60) + j * 250
                lots.append((b, shapely.box(x, y, x + 200, y + 250), industrial))
    n = len(lots)
    block = np.array([b for b, _, _ in lots])
    land_use = np.where([ind for _, _, ind in lots], 6.0, rng.choice([2.0, 5.0, 7.0, 11.0], n))
    old = np.isin(block, [0, 1, 4])  # the old waterfront: low-built lots
    far = np.where(old, rng.uniform(0.2, 0.9, n), rng.uniform(0.8, 3.0, n)).round(2)
    year = rng.integers(1920, 2015, n).astype(float)
    year[rng.choice(n, 6, replace=False)] = 0.0
    year[rng.choice(n, 3, replace=False)] = 1800.0
    year[rng.choice(n, 2, replace=False)] = 1899.0
    area = np.full(n, 200.0 * 250.0)
    owners = np.array(["ACME MFG CORP", " HARBOR METAL WORKS ", "CITY OF NEW YORK", "RED HOOK TERMINALS LLC",
                       "KINGS PAPER CO", "ZETA REALTY LLC"])
    return gpd.GeoDataFrame({
        "BBL": 3029130000.0 + np.arange(n) * 7,
        "LandUse": land_use,
        "LotArea": area,
        "BldgArea": (area * far).round(0),
        "BuiltFAR": far,
        "CommFAR": np.where(old, 2.0, 5.0),
        "YearBuilt": year,
        "OwnerName": owners[rng.integers(0, len(owners), n)],
        "ZoneDist1": np.where(old, "M1-1", "M1-2"),
        "AssessTot": (area * rng.uniform(20, 60, n)).round(-2),
        "NumFloors": np.maximum(np.round(far * 1.5), 1.0),
    }, geometry=[g for _, g, _ in lots], crs="EPSG:2263")


def write_zip(out: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / "tax_lots.shp"
        tax_lots().to_file(shp, engine="pyogrio")
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(Path(tmp).iterdir()):
                zf.write(p, p.name)
    return out


if __name__ == "__main__":
    print(write_zip(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data" / "tax_lots.zip")))
