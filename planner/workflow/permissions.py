"""Who may do what (DESIGN.md "Roles"): one check, called by every write of the workflow layer.

A single local user on a workspace with no accounts needs no login: every
action is allowed, as before. Once a workspace has accounts
(:mod:`planner.workflow.accounts`), the app signs people in and the role of
the signed-in account decides, here in the workflow layer, whichever page or
button asks: a decision-maker cannot publish, roll back or save a policy even
by calling the workflow function directly. The app tells this module who is
signed in through :func:`set_actor_provider` (it reads its own session
state); the CLI, run by someone who already holds the workspace's file or
database credentials, acts as the operating-system user, or as the role an
operator sets in ``PLANNER_ROLE``.

Enterprise figures (tax, output, and what is computed from them per parcel
or enterprise) are a permission too: ``see_enterprise_figures``
(:data:`ENTERPRISE_FIGURES_ROLES`, or ``PLANNER_FIGURES_ROLES`` to change it).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from planner.errors import PlannerError

#: Role -> actions it may take.
ROLES: dict[str, frozenset[str]] = {
    "gis_staff": frozenset({"ingest", "publish", "set_current", "init_workspace", "manage_layers",
                            "see_enterprise_figures"}),
    "planner": frozenset({"save_policy", "classify", "build_sites", "save_site_edits", "save_site_params",
                          "save_scenario", "delete_scenario", "save_comparison", "see_enterprise_figures"}),
    "decision_maker": frozenset(),
    "admin": frozenset({"*"}),
}
#: Roles shown enterprise tax and output (and what is derived from them) by default.
ENTERPRISE_FIGURES_ROLES = ("gis_staff", "planner", "admin")


class PermissionDenied(PlannerError):
    """The current role may not take this action."""


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in account, or the operator's ``PLANNER_ROLE``.

    ``role`` None: nobody is signed in although the workspace has accounts
    (every write is refused).
    """

    username: str
    role: str | None


#: Set by the app: ``provider(store)`` -> the signed-in Actor, ``Actor(..., None)`` when the workspace
#: needs a sign-in and nobody gave one, or None outside the app (no session) or with no accounts.
_provider: Callable[[object], Actor | None] | None = None


def set_actor_provider(provider: Callable[[object], Actor | None] | None) -> None:
    """Install (the app) or remove (None) the function that says who is signed in."""
    global _provider
    _provider = provider
    from planner.io import lock

    lock.set_account_provider(_account_of if provider is not None else None)  # who holds a lock names the account


def _account_of(store) -> str | None:
    """The signed-in account a write of ``store`` is made for (named by the writer lock's holder record)."""
    actor = _provider(store) if _provider is not None else None
    return actor.username if actor is not None and actor.role is not None else None


def current_role() -> str | None:
    """The role set by the operator (env ``PLANNER_ROLE``), or None for a single local user."""
    return os.environ.get("PLANNER_ROLE") or None


def current_actor(store=None) -> Actor | None:
    """Who acts on ``store``: the app's signed-in account, else ``PLANNER_ROLE``, else None (a single local user)."""
    if _provider is not None:
        actor = _provider(store)
        if actor is not None:
            return actor
    role = current_role()
    if role is None:
        return None
    from planner.io.lock import user_name

    return Actor(os.environ.get("PLANNER_USER") or user_name(), role)


def _allowed(role: str, action: str) -> bool:
    if action == "see_enterprise_figures":
        env = os.environ.get("PLANNER_FIGURES_ROLES")
        roles = [r.strip() for r in env.split(",")] if env else ENTERPRISE_FIGURES_ROLES
        return role in roles
    allowed = ROLES.get(role, frozenset())
    return "*" in allowed or action in allowed


def may(action: str, store=None) -> bool:
    """Whether whoever acts on ``store`` may take ``action`` (no error)."""
    actor = current_actor(store)
    if actor is None:
        return True
    return actor.role is not None and actor.role in ROLES and _allowed(actor.role, action)


def roles_that_may(action: str) -> list[str]:
    """The roles that may take ``action``, in :data:`ROLES` order (the administrator may do everything)."""
    return [r for r in ROLES if _allowed(r, action)]


def action_text(action: str, lang: str = "zh") -> str:
    """``action`` as a user reads it ("save a scenario", "保存情景"), not its code."""
    from planner.i18n import STRINGS, t

    key = f"perm_{action}"
    return t(key, lang) if key in STRINGS else action.replace("_", " ")


def role_text(role: str | None, lang: str = "zh") -> str:
    """A role's name as users read it ("Decision-maker", "决策人员"); an unknown code as it is."""
    from planner.i18n import STRINGS, t

    key = f"role_{role}"
    return t(key, lang) if key in STRINGS else str(role)


def who_may_text(action: str, lang: str = "zh") -> str:
    """The roles that may take ``action``, by name: "规划人员、管理员", "Planner or Administrator"."""
    from planner.i18n import t

    names = [role_text(r, lang) for r in roles_that_may(action)]
    if lang == "en" and len(names) > 1:
        return ", ".join(names[:-1]) + t("perm_or", "en") + names[-1]
    return t("perm_list_sep", lang).join(names)


def only_text(action: str, lang: str = "zh") -> str:
    """"Only Planner or Administrator may save a scenario": what a disabled button's tooltip says."""
    from planner.i18n import t

    return t("perm_only", lang, who=who_may_text(action, lang), what=action_text(action, lang))


def _refusal(key: str, lang: str, **fmt) -> str:
    from planner.i18n import t

    return t(key, lang, **fmt)


def require(action: str, store=None, role: str | None = None) -> Actor | None:
    """Raise :class:`PermissionDenied` unless the actor on ``store`` (or ``role``) may take ``action``.

    Returns the actor (None for a single local user), whose name the caller
    records as the writer in the audit log. The refusal names the action and
    the roles in words, in both languages, and says which roles may.
    """
    actor = Actor(os.environ.get("PLANNER_USER") or "operator", role) if role else current_actor(store)
    if actor is None:
        return None
    if actor.role is None:
        what = {lg: action_text(action, lg) for lg in ("en", "zh")}
        raise PermissionDenied(_refusal("perm_sign_in", "en", what=what["en"]),
                               zh=_refusal("perm_sign_in", "zh", what=what["zh"]))
    if actor.role not in ROLES:
        known = {lg: ", ".join(f"{r} ({role_text(r, lg)})" for r in ROLES) for lg in ("en", "zh")}
        raise PermissionDenied(_refusal("perm_unknown_role", "en", role=actor.role, roles=known["en"]),
                               zh=_refusal("perm_unknown_role", "zh", role=actor.role, roles=known["zh"]))
    if not _allowed(actor.role, action):
        text = {lg: _refusal("perm_denied", lg, user=actor.username, role=role_text(actor.role, lg),
                             what=action_text(action, lg), who=who_may_text(action, lg)) for lg in ("en", "zh")}
        raise PermissionDenied(text["en"], zh=text["zh"])
    return actor


def acting_user(action: str, store=None, user: str | None = None) -> str | None:
    """:func:`require` ``action``, then the user name to record for the write (``user`` if given): the actor's,
    else (a single local user, the command line) ``PLANNER_USER`` when set, as README promises, else None (the
    store records the operating-system user)."""
    actor = require(action, store)
    if user:
        return user
    return actor.username if actor is not None else (os.environ.get("PLANNER_USER") or "").strip() or None

