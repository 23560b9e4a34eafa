"""Typed saved documents: one record per kind, one ``to_dict``/``from_dict`` each, a schema version.

Every writer and reader of a workspace document, CLI or app, goes through
these records, so a document saved by one face opens in the other. Each
``from_dict`` also reads the older shapes already stored in workspaces and
upgrades them:

========== =========================================================== =========================
kind       current shape (``schema_version`` 2)                         older shapes read
========== =========================================================== =========================
policy     ``{name, hash, policy: {...}, toml, source_file}``           the CLI's v1 (same keys, no
                                                                        version); the rules page's
                                                                        bare policy dict
                                                                        (``criteria`` at the top)
site_params ``{name, params: {...}, use_barriers, use_constraints}``   a bare ``[sites]`` table
site_edit  ``{name, policy_name, ops: [...], params, use_barriers}``    the app's ``edits`` key
scenario   ``{scenario: {...}, site_refs: {...}}``                      the bare scenario dict
comparison ``{name, scenarios: [{name, version}], lang}``               --
========== =========================================================== =========================

A deleted document is a new version holding only ``{"deleted": true}``
(:func:`tombstone`): nothing saved is ever lost, and its history stays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from planner import config
from planner.classify import policy as policy_mod
from planner.errors import ConfigError
from planner.scenarios.model import Scenario, scenario_from_dict
from planner.sites.params import SiteParams

SCHEMA_VERSION = 2

#: Edit operations a ``site_edit`` document may hold (see :func:`planner.sites.apply_edits`).
EDIT_OPS = ("add", "remove", "boundary")


def tombstone() -> dict:
    """Payload of a deleted document's last version."""
    return {"schema_version": SCHEMA_VERSION, "deleted": True}


def is_deleted(payload: dict) -> bool:
    """Whether a stored payload is a deletion mark."""
    return bool(isinstance(payload, dict) and payload.get("deleted"))


def is_newer(data: dict) -> bool:
    """Whether a stored payload was saved by a newer planner (a ``schema_version`` this one does not read)."""
    v = data.get("schema_version", 1) if isinstance(data, dict) else 1
    return not isinstance(v, int) or v > SCHEMA_VERSION


def _check_version(data: dict, kind: str, where: str) -> None:
    v = data.get("schema_version", 1)
    if not isinstance(v, int) or v > SCHEMA_VERSION:
        msg = (f"{where}: {kind} document schema_version {v!r} is newer than this planner reads "
               f"({SCHEMA_VERSION}); update the planner")
        raise ConfigError(msg, zh=f"{where}：{kind} 文档版本 {v!r} 比本程序能读的（{SCHEMA_VERSION}）新，请升级程序")


# --------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class PolicyDoc:
    """A saved three-low policy (its ``[sites]`` table included).

    Parameters
    ----------
    policy : Policy
    toml : str, optional
        The source text as written (comments kept) when it came from a file.
    source_file : str, optional
        Where it came from.
    """

    KIND: ClassVar[str] = "policy"
    policy: policy_mod.Policy
    toml: str | None = None
    source_file: str | None = None

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def hash(self) -> str:
        return policy_mod.policy_hash(self.policy)

    def site_params(self) -> SiteParams:
        """The site parameters of the policy's ``[sites]`` table (defaults where absent)."""
        return policy_mod.site_params(self.policy, where=f"policy {self.name!r}")

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "name": self.name, "hash": self.hash,
                "policy": policy_mod.policy_to_dict(self.policy),
                "toml": self.toml if self.toml is not None else policy_mod.dumps(self.policy),
                "source_file": self.source_file}

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "policy") -> PolicyDoc:
        if not isinstance(data, dict):
            msg = f"{where}: a policy document must be a table"
            raise ConfigError(msg, zh=f"{where}：识别规则文档格式不正确")
        _check_version(data, "policy", where)
        if "policy" in data:  # v1 (CLI) and v2
            pol = policy_mod.from_dict(dict(data["policy"]), where=where)
            return cls(pol, data.get("toml"), data.get("source_file"))
        # v0: the rules page saved the bare policy dict
        pol = policy_mod.from_dict({k: v for k, v in data.items() if k != "schema_version"}, where=where)
        return cls(pol)

    @classmethod
    def from_file(cls, path) -> PolicyDoc:
        """A policy file (TOML/JSON) or shipped name (``None``: the default)."""
        src = policy_mod.policy_path(path)
        pol = policy_mod.load_policy(path)
        text = config.read_text(src, note=False) if src.suffix.lower() == ".toml" and src.exists() else None
        return cls(pol, text, str(src))

    def renamed(self, name: str) -> PolicyDoc:
        """The same rules under another name (the source text no longer applies)."""
        import dataclasses

        return PolicyDoc(dataclasses.replace(self.policy, name=name), None, self.source_file)


# --------------------------------------------------------------------------- site parameters
@dataclass(frozen=True)
class SiteParamsDoc:
    """Saved site-assembly settings: the parameters and which workspace layers to use."""

    KIND: ClassVar[str] = "site_params"
    name: str = "default"
    params: SiteParams = field(default_factory=SiteParams)
    use_barriers: bool = True
    use_constraints: bool = True

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "name": self.name,
                "params": config._drop_none(self.params.to_dict()),
                "use_barriers": self.use_barriers, "use_constraints": self.use_constraints}

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "site_params") -> SiteParamsDoc:
        _check_version(data, "site_params", where)
        if "params" not in data:  # a bare [sites] table
            return cls(params=SiteParams.from_dict(dict(data), where=where))
        return cls(name=str(data.get("name") or "default"),
                   params=SiteParams.from_dict(dict(data["params"] or {}), where=f"{where}.params"),
                   use_barriers=bool(data.get("use_barriers", True)),
                   use_constraints=bool(data.get("use_constraints", True)))


# --------------------------------------------------------------------------- site edits
def _check_ops(ops, where: str) -> tuple[dict, ...]:
    out = []
    for k, op in enumerate(ops or ()):
        if not isinstance(op, dict) or op.get("op") not in EDIT_OPS:
            msg = f"{where}.ops[{k}]: unknown edit {op!r}; each edit is one of {list(EDIT_OPS)}"
            raise ConfigError(msg, zh=f"{where}.ops[{k}]：无法识别的调整 {op!r}")
        if op["op"] in ("add", "remove") and not (op.get("site_id") and op.get("parcel_ids")):
            msg = f"{where}.ops[{k}]: '{op['op']}' needs site_id and parcel_ids"
            raise ConfigError(msg, zh=f"{where}.ops[{k}]：需要片区编号和地块编号")
        if op["op"] == "boundary" and not op.get("wkt"):
            msg = f"{where}.ops[{k}]: 'boundary' needs wkt"
            raise ConfigError(msg, zh=f"{where}.ops[{k}]：边界调整需要 wkt")
        out.append(dict(op))
    return tuple(out)


@dataclass(frozen=True)
class SiteEditsDoc:
    """Manual site edits, replayed on a fresh site build (``planner sites --apply-edits``, Sites page).

    Parameters
    ----------
    name : str
        Document name (by default the policy's name).
    ops : tuple of dict
        ``{"op": "add"|"remove", "site_id", "parcel_ids"}`` or
        ``{"op": "boundary", "wkt", "site_id"}``, in order.
    policy_name : str
        The policy whose flags the edits were made on.
    params : SiteParams, optional
        The site parameters of the build the edits were made on.
    use_barriers : bool
    """

    KIND: ClassVar[str] = "site_edit"
    name: str
    ops: tuple[dict, ...] = ()
    policy_name: str = ""
    params: SiteParams | None = None
    use_barriers: bool = True
    #: The recorded ``params`` as stored when this planner refuses them (a value an earlier release allowed, e.g.
    #: ``gap_m`` 80): the edits stay usable, made on a build today's settings cannot repeat (:meth:`made_with`).
    refused_params: dict | None = None

    def to_dict(self) -> dict:
        params = config._drop_none(self.params.to_dict()) if self.params is not None else self.refused_params
        return {"schema_version": SCHEMA_VERSION, "name": self.name, "policy_name": self.policy_name,
                "ops": [dict(o) for o in self.ops], "params": params, "use_barriers": self.use_barriers}

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "site_edit", name: str | None = None) -> SiteEditsDoc:
        _check_version(data, "site_edit", where)
        ops = data.get("ops", data.get("edits", ()))  # the app saved "edits" before schema 2
        params = data.get("params")
        refused = None
        if params:
            p = dict(params)
            if "use_barriers" in p:  # never a SiteParams key; some drafts kept it there
                p.pop("use_barriers")
            try:
                params = SiteParams.from_dict(p, where=f"{where}.params")
            except ConfigError:  # a record of the build the edits were made on, which today's limits refuse
                params, refused = None, dict(params)
        return cls(name=str(data.get("name") or name or data.get("policy_name") or "default"),
                   ops=_check_ops(ops, where), policy_name=str(data.get("policy_name") or ""),
                   params=params or None, use_barriers=bool(data.get("use_barriers", True)), refused_params=refused)

    def made_with(self, params: SiteParamsDoc) -> bool:
        """Whether these edits were made on sites built with ``params`` (the app and ``planner sites`` replay saved
        edits only on such a build: on other sites their parcels and boundaries mean something else)."""
        if self.refused_params is not None:  # made on settings this planner cannot build: never the same build
            return False
        same = self.params is None or config._drop_none(self.params.to_dict()) == config._drop_none(
            params.params.to_dict())
        return same and self.use_barriers == params.use_barriers

    def created_ids(self) -> list[str]:
        """Site ids the boundary edits create (kept out of id matching, the replay makes them)."""
        return [str(o["site_id"]) for o in self.ops if o.get("op") == "boundary" and o.get("site_id")]


# --------------------------------------------------------------------------- scenario
def members_hash(parcel_ids) -> str:
    """Short fingerprint of a site's member parcels (what a scenario remembers of a site it picked)."""
    text = "\n".join(sorted(map(str, parcel_ids)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ScenarioDoc:
    """A saved scenario and what it knew of the sites it picked by id.

    ``site_refs`` maps each explicitly picked site id to ``{"members":
    <fingerprint of its parcels>, "n_parcels", "land_area_m2"}`` at save time,
    so a run on changed sites can say which picked site changed or vanished.
    """

    KIND: ClassVar[str] = "scenario"
    scenario: Scenario
    site_refs: dict[str, dict] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "scenario": self.scenario.to_dict(),
                "site_refs": {k: dict(v) for k, v in self.site_refs.items()}}

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "scenario") -> ScenarioDoc:
        _check_version(data, "scenario", where)
        if "scenario" in data:
            sc = scenario_from_dict(dict(data["scenario"]), where=where)
            refs = {str(k): dict(v) for k, v in (data.get("site_refs") or {}).items()}
            return cls(sc, refs)
        return cls(scenario_from_dict({k: v for k, v in data.items() if k != "schema_version"}, where=where))


# --------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class ComparisonDoc:
    """A saved comparison: which scenarios (and versions; ``None`` = latest), first is the baseline."""

    KIND: ClassVar[str] = "comparison"
    name: str
    scenarios: tuple[tuple[str, int | None], ...] = ()
    lang: str = "zh"

    def __post_init__(self) -> None:
        if len(self.scenarios) < 2:
            msg = f"comparison {self.name!r}: pick at least two scenarios"
            raise ConfigError(msg, zh=f"对比 {self.name!r}：至少选择两个情景")

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "name": self.name, "lang": self.lang,
                "scenarios": [{"name": n, "version": v} for n, v in self.scenarios]}

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "comparison") -> ComparisonDoc:
        _check_version(data, "comparison", where)
        refs = []
        for k, s in enumerate(data.get("scenarios") or ()):
            if isinstance(s, str):
                from planner.workflow.catalogue import parse_ref  # catalogue imports this module

                refs.append(parse_ref(s))
            elif isinstance(s, dict) and s.get("name"):
                refs.append((str(s["name"]), None if s.get("version") is None else int(s["version"])))
            else:
                msg = f"{where}.scenarios[{k}]: expected a scenario name, got {s!r}"
                raise ConfigError(msg, zh=f"{where}.scenarios[{k}]：应为情景名称")
        return cls(str(data.get("name") or "comparison"), tuple(refs), str(data.get("lang") or "zh"))


#: Document kind -> record class.
DOCUMENTS: dict[str, Any] = {c.KIND: c for c in (PolicyDoc, SiteParamsDoc, SiteEditsDoc, ScenarioDoc, ComparisonDoc)}


def parse_document(kind: str, data: dict, *, where: str | None = None):
    """The typed record of a stored payload of ``kind`` (older shapes upgraded)."""
    cls = DOCUMENTS.get(kind)
    if cls is None:
        msg = f"unknown document kind {kind!r}; one of {sorted(DOCUMENTS)}"
        raise ConfigError(msg)
    return cls.from_dict(data, where=where or kind)


def canonical(payload: dict) -> str:
    """Canonical JSON of a payload (to compare drafts with saved versions)."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
