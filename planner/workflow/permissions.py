"""Who may do what (DESIGN.md "Roles"): one check, called by every write of the workflow layer.

Left simple on purpose: a single local user on a GeoPackage workspace needs
no login, so with no role set every action is allowed. An operator who sets
``PLANNER_ROLE`` (gis_staff, planner, decision_maker, admin) for a deployment
gets the table below enforced here, in the workflow layer, whichever face
(CLI or app) asks.
"""

from __future__ import annotations

import os

from planner.errors import PlannerError

#: Role -> actions it may take.
ROLES: dict[str, frozenset[str]] = {
    "gis_staff": frozenset({"ingest", "publish", "set_current", "init_workspace"}),
    "planner": frozenset({"save_policy", "classify", "build_sites", "save_site_edits", "save_site_params",
                          "save_scenario", "delete_scenario", "save_comparison"}),
    "decision_maker": frozenset(),
    "admin": frozenset({"*"}),
}


class PermissionDenied(PlannerError):
    """The current role may not take this action."""


def current_role() -> str | None:
    """The role set by the operator (env ``PLANNER_ROLE``), or None for a single local user."""
    return os.environ.get("PLANNER_ROLE") or None


def require(action: str, role: str | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` (default: :func:`current_role`) may take ``action``."""
    role = role or current_role()
    if role is None:
        return
    allowed = ROLES.get(role)
    if allowed is None:
        msg = f"unknown role {role!r} (PLANNER_ROLE); one of {sorted(ROLES)}"
        raise PermissionDenied(msg, zh=f"未知角色 {role!r}（PLANNER_ROLE）")
    if "*" not in allowed and action not in allowed:
        msg = f"role {role!r} may not {action.replace('_', ' ')}"
        raise PermissionDenied(msg, zh=f"角色 {role} 无权执行此操作（{action}）")
