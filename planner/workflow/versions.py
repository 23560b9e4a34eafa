"""Make an earlier survey or enterprise table version current again, and say what that leaves out of date.

The app's data manager and ``planner workspace use`` both call
:func:`switch_version` (through :func:`~planner.workflow.operations.set_current_survey` and
:func:`~planner.workflow.enterprises.set_current_enterprises` too): the role must
have ``set_current``; a version the workspace does not have is refused naming
the versions it has; the version already current changes nothing (no audit
row); a switch is one audit row per layer switched, in one transaction (an
enterprise table and its parcel links together, whatever kills the process). The returned
:class:`VersionSwitch` says which version was current, which is now, and which
stored results (flags, sites, and the saved scenarios run on those sites) do
not match the version now current (:func:`~planner.workflow.provenance.stale_reasons`),
each face saying it in its own words.

Every build adds a layer version, so flags and sites built earlier on the version
switched back to are usually still in the workspace. :func:`restorable_results`
finds them (for each out-of-date current flags or sites layer, the newest other
version of it built on the survey and enterprise table versions now current; a
sites version only with its ``site_parcels`` of the same result id), and
:func:`restore_results` (or ``switch_version(..., restore=True)``, in the
switch's own transaction) makes them current again instead of a rebuild.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from planner.errors import StoreError
from planner.io.store import Store, catalogue_meta
from planner.workflow.permissions import acting_user
from planner.workflow.provenance import Provenance, flags_built_from, stale_reasons

#: The kinds of version a workspace switches between -> the layers switched together (kind, name).
KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "survey": (("survey", "parcels"),),
    "enterprise": (("enterprise", "enterprises"), ("enterprise_link", "enterprises")),
}


class VersionNotFound(StoreError):
    """The workspace has no such version (the message lists those it has)."""


@dataclass(frozen=True)
class StaleResult:
    """A stored result that does not match the version now current: ``what`` (``flags/default``) and why."""

    what: str
    reasons: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Restorable:
    """A version of an out-of-date result built on the versions now current, to make current again.

    ``what``: the result (``flags/default``); ``version``: its layer version, built on ``on`` (the version of the
    kind switched), instead of ``replaces`` (the version current now); ``layers``: the layer versions made
    current together, ``(kind, name, version)`` (a sites version with its ``site_parcels`` of the same result id,
    as they were written in one commit); ``created_at`` (UTC ISO) and ``user``: when and by whom it was built.
    """

    what: str
    version: int
    replaces: int
    on: int
    layers: tuple[tuple[str, str, int], ...]
    result_id: str = ""
    created_at: str = ""
    user: str = ""


@dataclass(frozen=True)
class VersionSwitch:
    """What :func:`switch_version` did: ``kind`` ("survey"/"enterprise") ``version`` made current instead of
    ``previous`` (None: none was); ``changed`` False when ``version`` was current already (nothing written).

    ``stale``: the stored results built on another version than ``version`` (out of date now); ``fresh``: those
    built on ``version`` (up to date again); ``scenarios``: the saved scenarios run on stale sites;
    ``restorable``: earlier versions of stale results built on ``version`` that :func:`restore_results` can make
    current again instead of a rebuild; ``restored``: those made current again (``restore=True``).
    """

    kind: str
    version: int
    previous: int | None
    changed: bool
    workspace: str
    stale: tuple[StaleResult, ...] = ()
    fresh: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = field(default_factory=tuple)
    restorable: tuple[Restorable, ...] = ()
    restored: tuple[Restorable, ...] = ()


def versions_of(store: Store, kind: str) -> tuple[list[int], int | None]:
    """The versions of ``kind`` ("survey" or "enterprise") the workspace holds, oldest first, and the current one."""
    layer_kind, name = KINDS[kind][0]
    cat = store.layers(layer_kind)
    cat = cat[cat["name"] == name] if len(cat) else cat
    versions = sorted(int(v) for v in cat["version"]) if len(cat) else []
    cur = cat[cat["is_current"].astype(bool)] if len(cat) else cat
    return versions, (int(cur["version"].iloc[-1]) if len(cur) else None)


def _current_of(store: Store, layer_kind: str, name: str) -> int | None:
    cat = store.layers(layer_kind)
    cur = cat[(cat["name"] == name) & cat["is_current"].astype(bool)] if len(cat) else cat
    return int(cur["version"].iloc[-1]) if len(cur) else None


def versions_text(versions: list[int], current: int | None, lang: str) -> str:
    """"v1, v2 and v3 (v3 current)" / "v1、v2、v3（当前为 v3）".

    >>> versions_text([1, 2, 3], 3, "en"), versions_text([1, 2], 1, "zh"), versions_text([4], None, "en")
    ('v1, v2 and v3 (v3 current)', 'v1、v2（当前为 v1）', 'v4')
    """
    names = [f"v{v}" for v in versions]
    if not names:
        return ""
    if lang == "zh":
        listed = "、".join(names)
        return listed + (f"（当前为 v{current}）" if current is not None else "")
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return listed + (f" (v{current} current)" if current is not None else "")


def _missing(store: Store, kind: str, version: int, versions: list[int], current: int | None) -> VersionNotFound:
    from planner.i18n import t

    said = {lg: t("ver_missing" if versions else "ver_missing_none", lg, ws=store.label, v=version,
                  what=t(f"ver_kind_{kind}", lg), versions=versions_text(versions, current, lg))
            for lg in ("en", "zh")}
    return VersionNotFound(said["en"], zh=said["zh"])


def switch_version(store: Store, kind: str, version: int, *, user: str | None = None,
                   restore: bool = False) -> VersionSwitch:
    """Make ``version`` of ``kind`` ("survey" or "enterprise": the table and its parcel links) the current one.

    ``restore``: also make current again the earlier results built on ``version`` (:func:`restorable_results`),
    in the same transaction as the switch (``restored`` says which); with ``version`` current already, only
    those.

    Raises
    ------
    PermissionDenied
        The acting role may not ``set_current``.
    VersionNotFound
        The workspace has no such version (the message lists those it has).
    """
    if kind not in KINDS:
        msg = f"no versions of {kind!r}: give one of {', '.join(KINDS)}"
        raise StoreError(msg, zh=f"没有“{kind}”类版本，请给出 {'、'.join(KINDS)} 之一")
    user = acting_user("set_current", store, user)
    version = int(version)
    with store.write_lock(f"set_current_{kind}"):  # what is checked is what is switched
        versions, previous = versions_of(store, kind)
        if version not in versions:
            raise _missing(store, kind, version, versions, previous)
        # every layer of the kind not at ``version`` (also a table whose links a killed switch left behind),
        # switched in one transaction: a table never current with the links of another version
        behind = [(layer_kind, name, version) for layer_kind, name in KINDS[kind]
                  if _current_of(store, layer_kind, name) != version]
        changed = bool(behind)
        # what would be out of date once ``version`` is current, and built on it earlier: read under the lock too
        restored = _restorable(store, kind, {**_versions_now(store), kind: version}) if restore else ()
        targets = behind + _targets(store, restored)
        if targets:
            store.set_currents(targets, user=user)
    stale, fresh, scenarios = stale_results(store, kind)
    return VersionSwitch(kind, version, previous, changed, store.label, stale, fresh, scenarios,
                         restorable=restorable_results(store, kind), restored=restored)


def restorable_results(store: Store, kind: str) -> tuple[Restorable, ...]:
    """The earlier results built on the current ``kind`` version that could replace the out-of-date current ones.

    For each current flags or sites layer out of date with the current ``kind`` ("survey" or "enterprise")
    version (as :func:`stale_results` says), the newest other version of it built on the survey and enterprise
    table versions now current (a sites version on both through its flags, found by result id as
    :func:`stale_results` finds them; only with its ``site_parcels`` of the same result id). Read from the
    catalogue: no layer is read.
    """
    return _restorable(store, kind, _versions_now(store))


def restore_results(store: Store, kind: str, *, only: tuple[Restorable, ...] | list[Restorable] | None = None,
                    user: str | None = None) -> VersionSwitch:
    """Make current again the results :func:`restorable_results` offers for ``kind``, in one transaction.

    ``only``: restore just these (those a page or command showed), each if it is still offered: the offer is
    read again under the writer lock, so a colleague's switch or rebuild since is never undone. The returned
    :class:`VersionSwitch` (``changed`` False: no version of ``kind`` switched) says what was ``restored``
    (empty: nothing was still offered) and what is out of date still.

    Raises
    ------
    PermissionDenied
        The acting role may not ``set_current`` (as a switch).
    """
    if kind not in KINDS:
        msg = f"no versions of {kind!r}: give one of {', '.join(KINDS)}"
        raise StoreError(msg, zh=f"没有“{kind}”类版本，请给出 {'、'.join(KINDS)} 之一")
    user = acting_user("set_current", store, user)
    with store.write_lock(f"restore_results_{kind}"):  # what is checked is what is made current
        _, current = versions_of(store, kind)
        found = _restorable(store, kind, _versions_now(store)) if current is not None else ()
        if only is not None:
            wanted = {(r.what, r.version, r.result_id) for r in only}
            found = tuple(r for r in found if (r.what, r.version, r.result_id) in wanted)
        targets = _targets(store, found)
        if targets:
            store.set_currents(targets, user=user)
    stale, fresh, scenarios = stale_results(store, kind)
    return VersionSwitch(kind, current if current is not None else 0, current, False, store.label, stale, fresh,
                         scenarios, restorable=restorable_results(store, kind), restored=found)


def _versions_now(store: Store) -> dict[str, int | None]:
    """The current survey and enterprise table versions (None: the workspace has none)."""
    from planner.ingest.publish import current_survey_version
    from planner.workflow.enterprises import enterprise_version

    return {"survey": current_survey_version(store), "enterprise": enterprise_version(store)}


def _targets(store: Store, found: tuple[Restorable, ...]) -> list[tuple[str, str, int]]:
    """The layer versions of ``found`` not current yet (one audit row per layer switched, none for the others)."""
    return [(k, n, v) for r in found for k, n, v in r.layers if _current_of(store, k, n) != v]


def _catalogue(store: Store, layer_kind: str) -> tuple:
    """A result kind's catalogue and the provenance of each row (kind filled in for layers that do not say it)."""
    cat = store.layers(layer_kind)
    provs = []
    for m in (cat["meta"] if len(cat) else ()):
        prov = Provenance.from_meta(catalogue_meta(m))
        provs.append(prov if prov.kind else dataclasses.replace(prov, kind=layer_kind))
    return cat, provs


def _stale_why(prov: Provenance, kind: str, now: int | None, flags_cat,
               flags_prov: list[Provenance]) -> list[tuple[str, str]]:
    """Why a result (flags or sites) is out of date with version ``now`` of ``kind`` (empty: it is not)."""
    if kind == "survey":
        return stale_reasons(prov, survey_version=now) if now is not None else []
    if prov.kind == "sites":  # the enterprise table its flags were classified with
        flags = flags_built_from(prov, flags_cat, flags_prov)
        if flags is None:
            return []
        prov = flags
    return stale_reasons(prov, enterprise_version=now)


def _built_on(prov: Provenance, now: dict[str, int | None], flags_cat, flags_prov: list[Provenance]) -> bool:
    """Whether a result says it was built on the survey and the enterprise table versions ``now`` (a sites
    result: through its flags; a result that does not say its survey version is never taken for one that
    does)."""
    if prov.survey_version is None or now["survey"] is None or int(prov.survey_version) != int(now["survey"]):
        return False
    flags = prov if prov.kind == "flags" else flags_built_from(prov, flags_cat, flags_prov)
    return flags is not None and flags.enterprise_version == now["enterprise"]


def _restorable(store: Store, kind: str, now: dict[str, int | None]) -> tuple[Restorable, ...]:
    """:func:`restorable_results` with the survey and enterprise table versions ``now`` taken as current."""
    if now[kind] is None:
        return ()
    flags_cat, flags_prov = _catalogue(store, "flags")
    parts_cat, parts_prov = _catalogue(store, "site_parcels")
    out = []
    for layer_kind in ("flags", "sites"):
        cat, provs = (flags_cat, flags_prov) if layer_kind == "flags" else _catalogue(store, "sites")
        if not len(cat):
            continue
        rows = list(zip(cat["name"].astype(str), cat["version"].astype(int), cat["is_current"].astype(bool),
                        provs, cat["created_at"], cat["user"], strict=True))
        for name, cur_v, _, cur_p, _, _ in (r for r in rows if r[2]):
            if not _stale_why(cur_p, kind, now[kind], flags_cat, flags_prov):
                continue
            earlier = sorted((r for r in rows if r[0] == name and not r[2]), key=lambda r: -r[1])
            for _, v, _, p, created, by in earlier:
                if not _built_on(p, now, flags_cat, flags_prov):
                    continue
                layers = [(layer_kind, name, v)]
                if layer_kind == "sites":  # never without its parcel table of the same build
                    part = [int(pv) for pn, pv, pp in zip(parts_cat["name"].astype(str), parts_cat["version"],
                                                          parts_prov, strict=True)
                            if p.result_id and pn == name and pp.result_id == p.result_id] if len(parts_cat) else []
                    if not part:
                        continue
                    layers.append(("site_parcels", name, max(part)))
                out.append(Restorable(f"{layer_kind}/{name}", v, cur_v, int(now[kind]), tuple(layers), p.result_id,
                                      "" if created is None else str(created), "" if by is None else str(by)))
                break
    return tuple(out)


def stale_results(store: Store, kind: str) -> tuple[tuple[StaleResult, ...], tuple[str, ...], tuple[str, ...]]:
    """The current flags and sites layers that do not match the current ``kind`` version (with why), those that
    do, and the saved scenarios run on the stale sites. Read from the catalogue: no layer is read."""
    from planner.ingest.publish import current_survey_version
    from planner.workflow.enterprises import enterprise_version

    now = current_survey_version(store) if kind == "survey" else enterprise_version(store)
    flags_cat, flags_prov = _catalogue(store, "flags")

    def reasons(prov: Provenance) -> list[tuple[str, str]]:
        return _stale_why(prov, kind, now, flags_cat, flags_prov)

    stale, fresh, stale_sites = [], [], set()
    for layer_kind in ("flags", "sites"):
        cat = store.layers(layer_kind)
        if not len(cat):
            continue
        for _, row in cat[cat["is_current"].astype(bool)].iterrows():
            prov = Provenance.from_meta(catalogue_meta(row["meta"]))
            if not prov.kind:
                prov = dataclasses.replace(prov, kind=layer_kind)
            what = f"{layer_kind}/{row['name']}"
            why = reasons(prov)
            if why:
                stale.append(StaleResult(what, tuple(why)))
                if layer_kind == "sites":
                    stale_sites.add(str(row["name"]))
            else:
                fresh.append(what)
    return tuple(stale), tuple(fresh), _scenarios_on(store, stale_sites)


def _scenarios_on(store: Store, sites: set[str]) -> tuple[str, ...]:
    """The saved (not deleted) scenarios that run on one of the sites layers ``sites``."""
    if not sites:
        return ()
    from planner.workflow import documents as D
    from planner.workflow.operations import sites_name

    default = sites_name(store)  # a scenario naming no sites layer runs on the current one
    out = []
    for name, payload in sorted(store.latest_docs("scenario").items()):
        if D.is_deleted(payload):
            continue
        try:
            layer = D.parse_document("scenario", payload, where=f"saved scenario {name}").scenario.sites_layer
        except Exception:  # a scenario that cannot be read is said where it is opened
            continue
        if (layer or default) in sites:
            out.append(name)
    return tuple(out)


__all__ = ["KINDS", "Restorable", "StaleResult", "VersionNotFound", "VersionSwitch", "restorable_results",
           "restore_results", "stale_results", "switch_version", "versions_of", "versions_text"]
