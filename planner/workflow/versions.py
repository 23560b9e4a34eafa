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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from planner.errors import StoreError
from planner.io.store import Store, catalogue_meta
from planner.workflow.permissions import acting_user
from planner.workflow.provenance import Provenance, stale_reasons

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
class VersionSwitch:
    """What :func:`switch_version` did: ``kind`` ("survey"/"enterprise") ``version`` made current instead of
    ``previous`` (None: none was); ``changed`` False when ``version`` was current already (nothing written).

    ``stale``: the stored results built on another version than ``version`` (out of date now); ``fresh``: those
    built on ``version`` (up to date again); ``scenarios``: the saved scenarios run on stale sites.
    """

    kind: str
    version: int
    previous: int | None
    changed: bool
    workspace: str
    stale: tuple[StaleResult, ...] = ()
    fresh: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = field(default_factory=tuple)


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


def switch_version(store: Store, kind: str, version: int, *, user: str | None = None) -> VersionSwitch:
    """Make ``version`` of ``kind`` ("survey" or "enterprise": the table and its parcel links) the current one.

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
        if changed:
            store.set_currents(behind, user=user)
    stale, fresh, scenarios = stale_results(store, kind)
    return VersionSwitch(kind, version, previous, changed, store.label, stale, fresh, scenarios)


def stale_results(store: Store, kind: str) -> tuple[tuple[StaleResult, ...], tuple[str, ...], tuple[str, ...]]:
    """The current flags and sites layers that do not match the current ``kind`` version (with why), those that
    do, and the saved scenarios run on the stale sites. Read from the catalogue: no layer is read."""
    from planner.ingest.publish import current_survey_version
    from planner.workflow.enterprises import enterprise_version

    now = current_survey_version(store) if kind == "survey" else enterprise_version(store)
    flags_cat = store.layers("flags")
    flags_prov = [Provenance.from_meta(catalogue_meta(m)) for m in flags_cat["meta"]] if len(flags_cat) else []

    def reasons(prov: Provenance) -> list[tuple[str, str]]:
        if kind == "survey":
            return stale_reasons(prov, survey_version=now) if now is not None else []
        if prov.kind == "sites":  # the enterprise table its flags were classified with
            hit = [p for p, v, n in zip(flags_prov, flags_cat["version"], flags_cat["name"], strict=True)
                   if (prov.flags_result_id and p.result_id == prov.flags_result_id)
                   or (not prov.flags_result_id and n == prov.policy_name and int(v) == prov.flags_version)]
            if not hit:
                return []
            prov = hit[-1]
        return stale_reasons(prov, enterprise_version=now)

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


__all__ = ["KINDS", "StaleResult", "VersionNotFound", "VersionSwitch", "stale_results", "switch_version",
           "versions_of", "versions_text"]
