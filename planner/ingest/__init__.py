"""Survey ingest: any source layer -> the canonical parcel schema -> a survey version.

The package, in the order a load goes through it:

- :mod:`~planner.ingest.aliases` and :mod:`~planner.ingest.mapping`: which
  source field is which canonical column, in which unit (a mapping file);
- :mod:`~planner.ingest.crs`: the CRS of the file (declared, guessed, GCJ-02);
- :mod:`~planner.ingest.geometry`: geometry repair;
- :mod:`~planner.ingest.conform`: one raw layer -> canonical parcels, in named steps;
- :mod:`~planner.ingest.report`: the report and refusals;
- :mod:`~planner.ingest.publish`: diff, merge of partial updates, publishing.

Three steps, usable separately (the app's data manager previews with
:func:`read_survey` before it calls :func:`publish`):

1. :func:`read_survey` reads a file (:mod:`planner.io.readers`), resolves its
   CRS, repairs geometry, maps fields and units to the canonical schema
   (:mod:`planner.ingest.aliases`, a :class:`Mapping` file) and checks the records.
   Pure: it writes nothing.
2. :func:`publish` stores the accepted parcels as a new survey version, in
   ``replace`` or ``update`` mode, with the diff against the current version
   in the version's meta.
3. :func:`ingest` does both (or only step 1 with ``dry_run=True``).

Decisions
---------
- Problems and their default policy (:class:`Checks`): duplicate parcel ids
  -> every row sharing the id is rejected (none of them can be trusted to be
  the real one, and an update would be ambiguous); missing id and unusable
  geometry -> row rejected; negative values, impossible values (plot ratio
  over 20, coverage over 100 %, year outside 1900-2100: sentinels such as
  1800), values that are not whole numbers where the mapping says
  ``as = "integer"`` and text in numeric fields -> the *field* is nulled, the
  parcel kept (the fabric stays whole; a problem row and ``ingest_flags``
  say so); surveyed area more than 20 % from the geometry area and unknown
  status or land-use codes -> kept and flagged in ``ingest_flags``. Each can
  be set to ``"reject"``, ``"null"``, ``"flag"`` or ``"refuse"`` (refuse the
  whole load) in the ``[checks]`` table of the mapping file, per check and
  per field (``[checks.fields]``). A load rejecting more than
  ``max_rejected_share`` of its rows, or nulling more than that share of one
  field, is refused (a wrong mapping, not bad rows).
- Ids and codes are written as the source system shows them
  (:mod:`planner.ingest.formats`): a DBF double 3029130038.0 is stored as
  ``3029130038``.
- Without a workspace (``target_crs=None``) a file is checked in the CRS a
  new workspace for it would get; data outside the workspace CRS's area of
  use get a warning with the area error it causes (``report.warnings``).
- Row numbers in reports are 1-based feature positions in the source (CSV:
  data rows, header not counted).
- A refused or failed load writes nothing to the workspace, not even an audit
  row, so the workspace stays identical in content; the refusal is in the
  report (``--report``) and the exit code.
- Mode ``auto`` (default, :func:`choose_mode`) refuses a file none of whose
  parcels lies on or within 1 km of the current survey (another city: the
  message spells out --mode replace, a new workspace, or --mode update);
  else picks ``replace`` only for a clean file (no rejected rows, no update
  extent) whose parcels cover at least half of the current version's land;
  else ``update``, which never removes a parcel the file does not cover.
  ``update``: parcels in the file replace the same ids, new ids are added,
  current parcels whose area is at least ``update_cover_share`` (50 %)
  covered by parcels of the file are removed (they were merged or
  re-parcelled), all others are kept.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd

from planner.errors import IngestError, Note
from planner.ingest.conform import conform_layer
from planner.ingest.mapping import AREA_UNITS, MONEY_UNITS, Checks, Mapping, as_mapping
from planner.ingest.publish import (
    choose_mode,
    current_is_text,
    current_survey_version,
    diff_parcels,
    earlier_refusal,
    earlier_text,
    earlier_version,
    equal_earlier_version,
    id_format_mismatch,
    id_format_warning,
    merge_update,
    plan_publish,
    publish,
    published_as,
    same_file_refusal,
    same_file_text,
)
from planner.ingest.report import IngestReport, Problem
from planner.io.readers import ReadLimits, read_source


def read_survey(source: str | os.PathLike, *, mapping=None, layer: str | None = None, crs: str | None = None,
                encoding: str | None = None, target_crs=None, limits: ReadLimits = ReadLimits(),
                member: str | None = None) -> tuple[gpd.GeoDataFrame, IngestReport]:
    """Read and check a survey file without writing anything.

    Parameters
    ----------
    source : path-like
        Survey file (see :func:`planner.io.readers.read_source` for formats).
    mapping : Mapping, dict or path, optional
        Field mapping, units, land-use scheme and check policies.
    layer, crs, encoding : str, optional
        Override the layer, the CRS (``"gcj02"`` for GCJ-02 lon/lat) and the
        text encoding (they win over the mapping file's ``[source]``).
    member : str, optional
        The dataset of a zip holding several (its path in the zip, file name or stem); ``layer`` then names a
        layer inside it (``planner ingest --file``; :func:`planner.io.readers.read_source`).
    target_crs : CRS-like, optional
        Projected metric CRS of the result (a workspace's ``store.crs``).
        Default: the CRS a new workspace for these data would get
        (:func:`planner.ingest.crs.propose_for_layer`), so a file can be
        checked before any workspace exists.

    Returns
    -------
    (GeoDataFrame, IngestReport)
        The accepted parcels in the canonical schema and the report.

    Raises
    ------
    IngestError
        When the load is refused; ``exc.report`` holds the report when one exists.
    """
    mp = as_mapping(mapping)
    raw = read_source(source, layer=layer or mp.layer, encoding=encoding or mp.encoding, limits=limits, member=member)
    notes = []
    if target_crs is None:  # no workspace: the CRS a new workspace for these data would get
        from planner.crs import crs_label
        from planner.ingest.crs import propose_for_layer
        from planner.ingest.report import IngestReport, _refuse

        try:
            prop = propose_for_layer(raw, crs or mp.crs)
        except IngestError as exc:
            raise _refuse(IngestReport(source=raw.source, dataset=raw.dataset, format=raw.format, n_read=len(raw)),
                          str(exc).split(": ", 1)[-1], getattr(exc, "zh", None)) from None
        target_crs = prop.crs
        notes.append(Note(f"no workspace: checked in {crs_label(prop.crs)}, the CRS `planner workspace init --from` "
                          f"proposes for these data ({prop.why})",
                          zh=f"尚无工作空间：按 `planner workspace init --from` 为这些数据推荐的坐标系 "
                             f"{crs_label(prop.crs)} 校验"))
    gdf, rep = conform_layer(raw, mapping=mp, crs=crs or mp.crs, target_crs=target_crs)
    rep.notes[:0] = notes
    return gdf, rep



def ingest(source: str | os.PathLike, store, *, mapping=None, layer: str | None = None, crs: str | None = None,
           encoding: str | None = None, survey_name: str | None = None, dry_run: bool = False,
           mode: str = "auto", user: str | None = None, limits: ReadLimits = ReadLimits(),
           publish_again: bool = False, member: str | None = None) -> IngestReport:
    """Read, check and (unless ``dry_run``) publish a survey file into a workspace.

    A refused load raises :class:`IngestError` (``exc.report`` has the report)
    and leaves the workspace unchanged: nothing, not even an audit row, is written.
    A file whose bytes were published before (:func:`published_as`) is refused before it is read, naming
    that version, when and by whom, unless ``publish_again`` (to read it again with another mapping, units,
    CRS, encoding or layer, or to record a delivery as a version of its own); so is, once read, a load that
    changes nothing against the current version or whose parcels are those of an earlier version
    (:func:`publish`). ``dry_run`` refuses nothing and says each of these in the report's notes.

    Examples
    --------
    >>> import tempfile, shapely, geopandas as gpd
    >>> from planner.io.store import GpkgStore
    >>> d = tempfile.mkdtemp()
    >>> gpd.GeoDataFrame({"parcel_id": ["a", "b"]}, crs="EPSG:4549", geometry=[
    ...     shapely.box(500_000, 2_740_000, 500_100, 2_740_100),
    ...     shapely.box(500_100, 2_740_000, 500_200, 2_740_100)]).to_file(d + "/survey.geojson")
    >>> ws = GpkgStore(d + "/ws.gpkg", crs="EPSG:4549", create=True)
    >>> rep = ingest(d + "/survey.geojson", ws, survey_name="2025 survey")
    >>> rep.n_accepted, rep.version
    (2, 1)
    """
    from planner.io.store import source_sha256

    mp = as_mapping(mapping)
    src = Path(source)
    sha = source_sha256(src) if src.is_file() else None
    found = published_as(store, sha)
    base = current_survey_version(store)  # what this load starts from (publish re-checks it under the lock)
    if found is not None and not dry_run and not publish_again:  # said before any work, as the data manager does
        raise same_file_refusal(src.name, found, base)
    gdf, rep = read_survey(source, mapping=mp, layer=layer, crs=crs, encoding=encoding,
                           target_crs=store.crs, limits=limits, member=member)
    rep.dry_run = dry_run
    rep.sha256 = sha
    if dry_run:
        rep.mode = mode
        if found is not None and not publish_again:  # an earlier version: which one is current, too
            said = {lg: same_file_text(src.name, found, lg) for lg in ("en", "zh")}
            earlier = earlier_version(found["version"], base)
            if earlier is not None:
                said = {lg: said[lg] + ("" if lg == "zh" else " ") + current_is_text(base, lg) for lg in said}
            rep.add_refusal_note(said["en"], said["zh"], earlier=earlier)
        if base is not None:
            current = store.read_parcels()
            mismatch = id_format_mismatch(gdf["parcel_id"], current["parcel_id"])
            if mismatch is not None:  # ids written otherwise than the survey's: said before the real run re-keys
                en, zh = id_format_warning(mismatch)
                rep.warnings.append(f"WARNING: {en}")
                rep.warnings_zh.append(f"警告：{zh}")
            # the diff publishing would store, as the app's data manager shows it before its publish button
            out, diff, rep.mode = plan_publish(gdf, current, report=rep, mode=mode,
                                               cover_share=mp.checks.update_cover_share)
            diff["base_version"] = base
            rep.diff = diff
            name = rep.dataset or rep.source
            if not publish_again and not any(diff.get(f"n_{k}") for k in ("added", "removed", "changed")):
                from planner.i18n import t

                rep.add_refusal_note(*(t("ir_unchanged_refused", lg, name=name, v=base) for lg in ("en", "zh")))
            elif not publish_again:  # an earlier version's parcels again: the real run refuses it (publish)
                same = equal_earlier_version(store, out, current=base, changed_fields=diff.get("changed_fields"))
                if same is not None and (found is None or found["version"] != same["version"]):  # not said twice
                    rep.add_refusal_note(*(earlier_text(name, same, lg, base) for lg in ("en", "zh")),
                                         earlier=same["version"])
        return rep
    return publish(gdf, store, report=rep, mode=mode, source_file=src.name, sha256=rep.sha256,
                   label=survey_name, user=user, cover_share=mp.checks.update_cover_share, base_version=base,
                   unchanged_ok=publish_again)


__all__ = ["AREA_UNITS", "MONEY_UNITS", "Checks", "IngestReport", "Mapping", "Problem", "choose_mode", "conform_layer",
           "current_survey_version", "diff_parcels", "earlier_refusal", "earlier_text", "equal_earlier_version", "id_format_mismatch", "id_format_warning", "ingest", "merge_update", "plan_publish", "publish", "published_as", "read_survey",
           "same_file_refusal", "same_file_text"]
