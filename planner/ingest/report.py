"""The ingest report: what a load read, did and found, and the refusal it raises."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from planner.errors import IngestError
from planner.i18n import terminal_text


@dataclass
class Problem:
    """One problem found in a source record or layer."""

    code: str
    action: str
    message: str
    row: int | None = None
    parcel_id: str | None = None
    field: str | None = None
    value: str | None = None
    #: The message in Simplified Chinese (the app shows it when the UI speaks Chinese).
    message_zh: str | None = None


@dataclass
class IngestReport:
    """What an ingest read, did and found (printable, and written as CSV or JSON)."""

    source: str
    dataset: str = ""
    format: str = ""
    layer: str | None = None
    encoding: str | None = None
    encoding_note: str = ""
    crs_source: str = ""
    crs_used: str = ""
    target_crs: str = ""
    mapping: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    land_use_scheme: str | None = None
    unmapped: list[str] = field(default_factory=list)
    n_read: int = 0
    n_accepted: int = 0
    n_repaired: int = 0
    n_rejected: int = 0
    n_flagged: int = 0
    n_derived: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: What the user must see before publishing (e.g. data outside the workspace CRS's area of use), and in Chinese.
    warnings: list[str] = field(default_factory=list)
    warnings_zh: list[str] = field(default_factory=list)
    row_note: str = ""
    refused: bool = False
    refusal: str = ""
    dry_run: bool = False
    sha256: str | None = None
    mode: str | None = None
    #: Update extent (WKT, target CRS) shipped with the file: update mode replaces what lies inside.
    update_extent_wkt: str | None = None
    version: int | None = None
    diff: dict | None = None

    def summary(self) -> dict:
        """Counts and settings without the problem list (for layer meta and audit)."""
        d = asdict(self)
        d.pop("problems")
        d["problem_counts"] = self.problem_counts()
        if d.get("diff"):
            d["diff"] = {k: v for k, v in d["diff"].items() if not k.endswith("_ids") and k != "changed_fields_by_id"}
        return d

    def problem_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            key = f"{p.code} ({p.action})"
            out[key] = out.get(key, 0) + 1
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    def to_text(self, max_problems: int = 30) -> str:
        """A readable, fixed-width report."""
        lines = [f"ingest report: {self.dataset or self.source}" + (" (dry run)" if self.dry_run else "")]
        rows = [("format", f"{self.format}" + (f", layer {self.layer}" if self.layer else "")),
                ("encoding", f"{self.encoding or '-'}" + (f" ({self.encoding_note})" if self.encoding_note else "")),
                *([("CRS of the file", self.crs_source or "-"), ("CRS used", self.crs_used or "-"),
                   ("stored in", self.target_crs or "-"), ("land-use scheme", self.land_use_scheme or "-")]
                  if self.target_crs else []),
                ("read", self.n_read), ("accepted", self.n_accepted), ("repaired geometry", self.n_repaired),
                ("rejected", self.n_rejected), ("flagged", self.n_flagged)]
        w = max(len(k) for k, _ in rows)
        lines += [f"  {k:<{w}}  {v}" for k, v in rows]
        if self.mapping:
            lines.append("field mapping (canonical <- source [unit]):")
            for k, v in self.mapping.items():
                unit = self.units.get(k)
                lines.append(f"  {k:<15} <- {v}" + (f" [{unit}]" if unit else ""))
        if self.n_derived:
            lines.append("derived: " + ", ".join(f"{k} for {v} row(s)" for k, v in self.n_derived.items()))
        if self.unmapped:
            lines.append("source fields not stored: " + ", ".join(self.unmapped))
        for n in self.notes:
            lines.append(f"note: {n}")
        lines += self.warnings
        if self.problems:
            lines.append(f"problems ({len(self.problems)}; {self.row_note}):")
            for k, v in self.problem_counts().items():
                lines.append(f"  {v:>7}  {k}")
            lines.append(f"  {'row':>7}  {'parcel_id':<20} {'field':<14} {'action':<8} message")
            for p in self.problems[:max_problems]:
                lines.append(f"  {p.row if p.row is not None else '-':>7}  {str(p.parcel_id or '-'):<20} "
                             f"{str(p.field or '-'):<14} {p.action:<8} {p.message}")
            if len(self.problems) > max_problems:
                lines.append(f"  ... {len(self.problems) - max_problems} more (write them all with --report FILE.csv)")
        if self.diff:
            d = self.diff
            lines.append(f"diff against survey version {d.get('base_version') or '(none)'} ({self.mode} mode): "
                         f"{d['n_added']} added, {d['n_removed']} removed, {d['n_changed']} changed, "
                         f"{d['n_unchanged']} unchanged")
            if d.get("n_removed_merged"):
                lines.append(f"  {d['n_removed_merged']} removed because new parcels or the update extent cover them "
                             "(merged/re-parcelled)")
            for k, v in d.get("changed_fields", {}).items():
                lines.append(f"  changed {k:<15} {v}")
        if self.refused:
            lines.append(f"REFUSED: {self.refusal}")
        elif self.version is not None:
            lines.append(f"published as survey version {self.version}")
        return "\n".join(terminal_text(line) for line in lines)  # ids and names from the file: no ESC, CR...

    def __str__(self) -> str:
        return self.to_text()


def _joined(refusals: list[tuple[str, str]]) -> tuple[str, str]:
    """One reason (English, Chinese) from several refusals: the one itself, or a bulleted list."""
    if len(refusals) == 1:
        return refusals[0]
    return tuple("\n  - " + "\n  - ".join(r[k] for r in refusals) for k in (0, 1))


#: The refusal of a layer without features (English, Chinese).
NO_FEATURES = ("the layer has no features (a header but no data rows?); export the parcel layer again with its "
               "features", "图层中没有要素（只有表头、没有数据行？）；请重新导出含要素的宗地图层")


def _refuse(report: IngestReport, reason: str, reason_zh: str | None = None) -> IngestError:
    report.refused = True
    report.refusal = reason
    where = report.dataset or report.source
    err = IngestError(f"{where}: {reason}", zh=f"{where}：{reason_zh}" if reason_zh else None)
    err.report = report  # type: ignore[attr-defined]
    return err


