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
    #: A dry run: the refusals the real run would make (in English and in Chinese), each said in ``warnings`` too
    #: (:meth:`add_refusal_note`), in words of no face; the command line adds its ``--publish-again`` to them.
    would_refuse: list[str] = field(default_factory=list)
    would_refuse_zh: list[str] = field(default_factory=list)
    #: For each of ``would_refuse``: the earlier version it names, made current again by a switch rather than
    #: published again (None: none); each face says how to switch (the command line, its ``planner workspace use``).
    would_switch: list[int | None] = field(default_factory=list)
    row_note: str = ""
    refused: bool = False
    refusal: str = ""
    #: The refusal in Simplified Chinese (``planner ingest --lang zh`` prints it).
    refusal_zh: str = ""
    dry_run: bool = False
    sha256: str | None = None
    mode: str | None = None
    #: Update extent (WKT, target CRS) shipped with the file: update mode replaces what lies inside.
    update_extent_wkt: str | None = None
    version: int | None = None
    diff: dict | None = None

    def add_refusal_note(self, en: str, zh: str, *, earlier: int | None = None) -> None:
        """Say in a dry run's warnings that the real run refuses it (``en``/``zh``: the refusal), in either language.

        ``earlier``: the earlier version the refusal names, which a switch makes current again (:attr:`would_switch`).

        Examples
        --------
        >>> rep = IngestReport(source="a.geojson", dry_run=True)
        >>> rep.add_refusal_note("a.geojson is the same file as survey version v1.", "a.geojson 与调查版本 v1 是同一个文件。")
        >>> rep.warnings
        ['a.geojson is the same file as survey version v1. (dry run: the real run refuses it)']
        >>> rep.warnings_zh, rep.would_refuse_zh
        (['a.geojson 与调查版本 v1 是同一个文件。（试运行：正式导入时将拒绝）'], ['a.geojson 与调查版本 v1 是同一个文件。'])
        """
        from planner.i18n import t

        self.would_refuse.append(en)
        self.would_refuse_zh.append(zh)
        self.would_switch.append(earlier)
        self.warnings.append(t("ir_same_file_note", "en", msg=en))
        self.warnings_zh.append(t("ir_same_file_note", "zh", msg=zh))

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

    def to_text(self, max_problems: int = 30, lang: str = "en") -> str:
        """A readable, fixed-width report in ``lang`` (``"en"`` or ``"zh"``: headers, units, notes and messages).

        Examples
        --------
        >>> rep = IngestReport(source="a.geojson", n_read=3, n_accepted=3, version=2)
        >>> print(rep.to_text(lang="zh").splitlines()[-1])
        已发布为调查版本 2
        """
        from planner.errors import message_in
        from planner.i18n import display_width, field_label, ingest_unit_label, pad, t, value_label

        zh = lang == "zh"

        def s(key: str, **fmt) -> str:
            return t(f"ir_{key}", "zh" if zh else "en", **fmt)

        def n(v) -> str:  # counts: as before in English (scripts read them), with the unit 条 in Chinese
            return f"{v:,} 条" if zh else str(v)

        def name(k: str) -> str:  # a canonical field: its label in Chinese (the app's), its name in English
            return field_label(k, "zh") if zh else k

        scheme = self.land_use_scheme
        if zh and scheme and scheme.endswith(_ASSUMED_SCHEME):
            scheme = scheme[: -len(_ASSUMED_SCHEME)] + "（推定；可在映射文件 [land_use] scheme 中指定）"
        lines = [s("title", name=self.dataset or self.source) + (s("dry_run") if self.dry_run else "")]
        enc_note = message_in(self.encoding_note, lang) if self.encoding_note else ""
        rows = [(s("format"), f"{self.format}" + (s("layer", layer=self.layer) if self.layer else "")),
                (s("encoding"), f"{self.encoding or '-'}" + (s("paren", text=enc_note) if enc_note else "")),
                *([(s("crs_file"), s("none") if zh and self.crs_source == "none" else self.crs_source or "-"), (s("crs_used"), self.crs_used or "-"),
                   (s("stored_in"), self.target_crs or "-"), (s("scheme"), scheme or "-")]
                  if self.target_crs else []),
                (s("read"), n(self.n_read)), (s("accepted"), n(self.n_accepted)),
                # a table without geometry (an enterprise table) has no geometry to repair: no such row
                *([(s("repaired"), n(self.n_repaired))] if self.target_crs or self.n_repaired else []),
                (s("rejected"), n(self.n_rejected)),
                (s("flagged"), n(self.n_flagged))]
        w = max(display_width(k) for k in (*(k for k, _ in rows), s("repaired")))  # lined up as with that row
        lines += [f"  {pad(k, w, left=True)}  {v}" for k, v in rows]
        if self.mapping:
            lines.append(s("mapping"))
            fw = max(15, *(display_width(name(k)) for k in self.mapping)) if zh else 15
            for k, v in self.mapping.items():
                unit = self.units.get(k)
                lines.append(f"  {pad(name(k), fw, left=True)} <- {v}" + (f" [{ingest_unit_label(unit, lang)}]" if unit else ""))
        if self.n_derived:
            lines.append(s("derived", what=s("list_sep").join(s("derived_one", field=name(k), n=v)
                                                             for k, v in self.n_derived.items())))
        if self.unmapped:
            lines.append(s("unmapped", fields=s("list_sep").join(self.unmapped)))
        for note in self.notes:
            lines.append(s("note", msg=message_in(note, lang)))
        lines += self.warnings_zh if zh and len(self.warnings_zh) == len(self.warnings) else self.warnings
        if self.problems:
            row_note = message_in(self.row_note, lang) if self.row_note else ""
            lines.append(s("problems", n=len(self.problems), note=row_note))
            for k, v in self.problem_counts().items():
                if zh:
                    code, _, action = k.partition(" (")
                    k = f"{value_label('problem', code, 'zh')}（{value_label('action', action.rstrip(')'), 'zh')}）"
                lines.append(f"  {v:>7}  {k}")
            heads = [s(h) for h in ("h_row", "h_id", "h_field", "h_action", "h_message")]
            shown = [(str(p.row if p.row is not None else "-"), str(p.parcel_id or "-"),
                      name(p.field) if zh and p.field else str(p.field or "-"),
                      value_label("action", p.action, "zh") if zh else p.action,
                      (p.message_zh or p.message) if zh else p.message) for p in self.problems[:max_problems]]
            # the columns as before in English; in Chinese as wide as their widest label (统一社会信用代码: 16 columns)
            widths = [7, 20, 14, 8]
            if zh:
                widths = [max([w, *(display_width(r[i]) for r in shown)]) for i, w in enumerate(widths)]
            for row in [heads, *shown]:
                lines.append(f"  {pad(row[0], widths[0])}  {pad(row[1], widths[1], left=True)} "
                             f"{pad(row[2], widths[2], left=True)} {pad(row[3], widths[3], left=True)} {row[4]}")
            if len(self.problems) > max_problems:
                lines.append(s("more", n=len(self.problems) - max_problems))
        if self.diff:
            d = self.diff
            mode = t(f"dm_publish_as_{self.mode}", "zh") if zh and self.mode in _MODES else self.mode
            lines.append(s("diff", base=d.get("base_version") or s("none"), mode=mode, added=d["n_added"],
                           removed=d["n_removed"], changed=d["n_changed"], unchanged=d["n_unchanged"]))
            if d.get("n_removed_merged"):
                lines.append(s("merged", n=d["n_removed_merged"]))
            for k, v in d.get("changed_fields", {}).items():
                lines.append(s("changed_field", field=pad(name(k), 15, left=True), n=v))
        if self.refused:
            lines.append(s("refused", reason=(self.refusal_zh or self.refusal) if zh else self.refusal))
        elif self.version is not None:
            lines.append(s("published", v=self.version))
        return "\n".join(terminal_text(line) for line in lines)  # ids and names from the file: no ESC, CR...

    def __str__(self) -> str:
        return self.to_text()


#: What conform adds to a land-use scheme it assumed (planner/ingest/conform.py).
_ASSUMED_SCHEME = " (assumed; set [land_use] scheme)"
_MODES = ("auto", "update", "replace")


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
    report.refusal_zh = reason_zh or ""
    where = report.dataset or report.source
    err = IngestError(f"{where}: {reason}", zh=f"{where}：{reason_zh}" if reason_zh else None)
    err.report = report  # type: ignore[attr-defined]
    return err


