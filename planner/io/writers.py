"""Writers of ingest reports: JSON (everything) or CSV (one row per problem)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from planner.errors import IngestError

_CSV_COLUMNS = ("row", "parcel_id", "field", "value", "code", "action", "message", "message_zh")


def write_report(report, path: str | os.PathLike) -> Path:
    """Write an :class:`planner.ingest.IngestReport` to ``path`` (format by extension).

    ``.json`` holds the whole report (settings, counts, problems, diff);
    ``.csv`` holds one row per problem after ``#``-prefixed summary lines.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in (".json", ".csv"):
        msg = f"report {p}: use a .json or .csv file name"
        raise IngestError(msg)
    p.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".json":
        p.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return p
    with open(p, "w", newline="", encoding="utf-8-sig") as fh:  # BOM: Excel opens CJK text correctly
        summ = report.summary()
        for key in ("source", "format", "layer", "encoding", "crs_used", "target_crs", "n_read", "n_accepted",
                    "n_repaired", "n_rejected", "n_flagged", "refused", "refusal", "version", "row_note"):
            fh.write(f"# {key}: {summ.get(key)}\n".replace("\n  -", " |"))
        w = csv.writer(fh)
        w.writerow(_CSV_COLUMNS)
        for pr in report.problems:
            w.writerow([getattr(pr, c) if getattr(pr, c) is not None else "" for c in _CSV_COLUMNS])
    return p


__all__ = ["write_report"]
