"""Three-low classification of a partitioned survey on a Dask cluster, equal to the in-memory run.

Each partition is classified by :func:`planner.classify.classify` itself. Two
things in a classification depend on all parcels, not on one: percentile
thresholds (``percentile = 5``: the 5th percentile of the in-scope parcels
with a value) and the composite grade (each parcel's percentile rank, then the
share of parcels scoring higher). They are taken exactly, in passes:

1. every partition sends the values each percentile level is taken over
   (collected through the ``percentile_of`` hook of
   :func:`planner.classify.flags.rule_thresholds`, so the masks are the
   classifier's own) and its sorted grade indicators; the client takes
   ``np.percentile`` of the union (the same numbers as in memory, whatever
   their order) and the policy's percentile levels become absolute
   thresholds of the same value;
2. every partition computes its grade scores, ranked among all partitions'
   values (:class:`GlobalRanks`), and sends them sorted;
3. every partition is classified with the resolved policy and the global
   ranks, and written as one partition of the output folder.

The client holds 8 bytes per in-scope parcel and percentile rule or grade
indicator (80 MB per rule at ten million parcels); no geometry leaves the
workers.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner import i18n
from planner.classify.flags import (
    Ranks,
    classify,
    grade_scores,
    in_scope_mask,
    percentile_levels,
    resolve_policy,
    summary,
)
from planner.classify.indicators import compute_indicators
from planner.classify.policy import Policy, policy_hash
from planner.errors import Note
from planner.i18n import note
from planner.io import geoparquet as gpq
from planner.scale.cluster import gather_with_progress, submit_each


class GlobalRanks(Ranks):
    """Ranks among the sorted values of all partitions (see :class:`planner.classify.flags.Ranks`).

    ``share`` and ``above`` do the same integer and float operations as the
    in-memory ranks (average rank of ties, ``(first + last + 1) / 2``), so the
    grades are equal, not merely close.
    """

    def __init__(self, values: dict[str, np.ndarray], present: dict[str, bool], scores: np.ndarray | None = None):
        self.values = values
        self.present_in = present
        self.scores = scores

    def present(self, ind, in_scope, name):
        return bool(self.present_in.get(name, False))

    def share(self, name, v):
        s = self.values[name]
        lo = np.searchsorted(s, v, side="left")
        hi = np.searchsorted(s, v, side="right")
        return ((lo + hi + 1) / 2.0) / len(s)

    def above(self, score):
        if self.scores is None:  # pass 2 only collects the scores
            return np.zeros(len(score))
        m = len(self.scores)
        return (m - np.searchsorted(self.scores, score, side="right")) / m


def _grade_names(policy: Policy) -> list[str]:
    g = policy.grade
    return sorted(set(g.weights) | set(g.substitutes) | set(g.substitutes.values())) if g.enabled else []


def with_reference_year(policy: Policy) -> Policy:
    """The policy with its reference year fixed (today's when unset), so that all workers agree."""
    if policy.reference_year is not None:
        return policy
    return dataclasses.replace(policy, reference_year=_dt.date.today().year)


def _evaluate_inputs(part: pd.DataFrame, policy: Policy):
    ind = compute_indicators(part, reference_year=policy.reference_year)
    return ind, in_scope_mask(part, policy)


def _read_attributes(path: str) -> pd.DataFrame:
    """A partition's attributes without the geometry, unless a land area must come from it."""
    import pyarrow.parquet as pq

    cols = [c for c in pq.read_schema(path).names if c not in ("geometry", "reason_zh", "reason_en")]
    df = pd.read_parquet(path, columns=cols)
    if "land_area_m2" not in df.columns or not (pd.to_numeric(df["land_area_m2"], errors="coerce") > 0).all():
        return gpq.read_partition(path)
    return df


def partition_values(path: str, policy: Policy) -> dict:
    """Pass 1 on one partition: the values of each percentile level and the sorted grade indicators.

    The indicators stay on the worker for pass 2 (``ind``, ``in_scope``);
    :func:`values_summary` is what the client takes.
    """
    part = _read_attributes(path)
    ind, in_scope = _evaluate_inputs(part, policy)
    levels = percentile_levels(part, policy, ind, in_scope)
    grade = {}
    present = {}
    for name in _grade_names(policy):
        v = ind[name].to_numpy()
        has = in_scope & ~np.isnan(v)
        grade[name] = np.sort(v[has])
        present[name] = bool(has.any())
    return {"levels": levels, "grade": grade, "present": present, "n": len(part), "ind": ind, "in_scope": in_scope}


def values_summary(v: dict) -> dict:
    """What the client takes of :func:`partition_values` (no indicators)."""
    return {k: v[k] for k in ("levels", "grade", "present", "n")}


def partition_scores(values: dict, policy: Policy, ranks: GlobalRanks) -> np.ndarray:
    """Pass 2 on one partition: its grade scores (sorted), ranked among all partitions."""
    _graded, score = grade_scores(values["ind"], values["in_scope"], policy, ranks)
    return np.sort(score)


def classify_partition(path: str, number: int, out: str, policy: Policy, ranks: GlobalRanks, name: str,
                       phash: str) -> pd.DataFrame:
    """Pass 3 on one partition: classify it, write ``out/parcels/part.<number>.parquet``, return its summary."""
    part = gpq.read_partition(path)
    flagged = classify(part, policy, ranks=ranks)
    flagged.attrs.update(policy_name=name, policy_hash=phash)
    gpq.write_partition(flagged, out, number)
    return summary(flagged, policy)


@dataclass
class PartitionedClassification:
    """What :func:`classify_partitioned` did: the output folder, the summary, the thresholds taken."""

    out: Path
    summary: pd.DataFrame
    thresholds: pd.DataFrame
    n_parcels: int
    seconds: dict


def thresholds_text(record: list[dict], lang: str = "zh") -> str:
    """The percentile thresholds a classification resolved (``record`` of :func:`resolve_policy`), in ``lang``:
    each indicator by its label with its unit (:func:`planner.i18n.field_label`), as the classify summary names
    criteria and classes in words in either language; "" for none.

    Examples
    --------
    >>> rec = [{"criterion": "capacity", "indicator": "output_per_mu", "percentile": 5.0, "value": 123456.7},
    ...        {"criterion": "utilization", "indicator": "plot_ratio", "percentile": 10.0, "value": 0.8}]
    >>> thresholds_text(rec, "zh")
    '亩均产值（元/亩）P5 = 123457；容积率 P10 = 0.8'
    >>> thresholds_text(rec, "en")
    'Output per mu (yuan/mu) P5 = 123457, Plot ratio P10 = 0.8'
    """
    zh = lang == "zh"
    out = []
    for r in record:
        lab = i18n.field_label(r["indicator"], "zh" if zh else "en")
        gap = "" if lab.endswith("）") else " "
        out.append(f"{lab}{gap}P{r['percentile']:g} = {r['value']:.6g}")
    return ("；" if zh else ", ").join(out)


def classify_partitioned(survey: str | Path, policy: Policy, out: str | Path, *, client,
                         say: Callable[[str], None] | None = None, bar: bool = True,
                         overwrite: bool = False, lang: str = "en") -> PartitionedClassification:
    """Classify a partitioned survey partition by partition; flags equal :func:`planner.classify.classify`.

    Parameters
    ----------
    survey : str or Path
        A partitioned survey folder (:mod:`planner.io.geoparquet`).
    policy : Policy
    out : str or Path
        The classified survey folder to write (same partitions; the barrier
        and constraint layers are copied along).
    client : distributed.Client
    say : callable, optional
        Told each stage's line (a :class:`~planner.errors.Note`: English, with its Chinese in ``zh``).
    lang : {"en", "zh"}
        Language of the progress bars' stage names.

    Returns
    -------
    PartitionedClassification
    """
    say = say or (lambda _m: None)
    info = gpq.check_survey(survey)
    out = gpq.check_target(out, overwrite=overwrite, reads=(survey,))
    files = [str(p) for p in gpq.partition_files(survey)]
    pol = with_reference_year(policy)
    secs = {}
    import shutil

    tmp = None
    try:
        with gpq.unchanged_while_read(survey, info):  # a survey replaced while it was read: no output of mixed parcels
            t = time.perf_counter()
            stash = submit_each(client, partition_values, files, pol, key="values")
            first = gather_with_progress(client, [client.submit(values_summary, f, key=f"{f.key}-sum")
                                                  for f in stash], note("scale_classify_values"), bar=bar, lang=lang)
            n_levels = len(first[0]["levels"]) if first else 0
            levels = [np.concatenate([f["levels"][k] for f in first]) for k in range(n_levels)]
            resolved, record = resolve_policy(pol, levels)
            del levels
            values = {name: np.sort(np.concatenate([f["grade"][name] for f in first])) for name in _grade_names(pol)}
            present = {name: any(f["present"][name] for f in first) for name in _grade_names(pol)}
            del first
            secs["values"] = time.perf_counter() - t
            said = {lg: thresholds_text(record, lg) or i18n.t("scale_none", lg) for lg in ("en", "zh")}
            say(Note(i18n.t("scale_thresholds", "en", n=info["n_parcels"], list=said["en"]),
                     zh=i18n.t("scale_thresholds", "zh", n=info["n_parcels"], list=said["zh"])))
            t = time.perf_counter()
            ranks_f = client.scatter(GlobalRanks(values, present), broadcast=True)
            scores = gather_with_progress(client, submit_each(client, partition_scores, stash, resolved, ranks_f,
                                                              key="scores"), note("scale_classify_grades"), bar=bar,
                                          lang=lang)
            ranks = GlobalRanks(values, present, np.sort(np.concatenate(scores)) if scores else np.zeros(0))
            del scores, ranks_f, stash
            secs["grades"] = time.perf_counter() - t
            t = time.perf_counter()
            tmp = gpq.building(out)
            ranks_f = client.scatter(ranks, broadcast=True)
            futs = [client.submit(classify_partition, f, k, str(tmp), resolved, ranks_f, policy.name,
                                  policy_hash(policy), key=f"classify-{tmp.name}-{k}", pure=False)
                    for k, f in enumerate(files)]
            parts = gather_with_progress(client, futs, note("scale_classify_flags"), bar=bar, lang=lang)
            layers = {n: gpq.read_layer(survey, n) for n in gpq.LAYERS}
        gpq.finish_survey(tmp, crs=info["crs"], n_parcels=info["n_parcels"], npartitions=len(files),
                          partitioning=info["partitioning"], source=f"{info.get('source', '')}; classified under "
                          f"policy {policy.name} ({policy_hash(policy)[:12]})", workspace=info.get("workspace"),
                          classified_from=str(Path(survey).resolve()),
                          policy={"name": policy.name, "hash": policy_hash(policy)}, **layers)
        gpq._replace(tmp, out)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    secs["flags"] = time.perf_counter() - t
    table = (pd.concat(parts, ignore_index=True).groupby(["table", "criterion", "category"], sort=False,
                                                         as_index=False)[["parcels", "land_m2", "land_mu"]].sum())
    return PartitionedClassification(out, table, pd.DataFrame(record), info["n_parcels"], secs)
