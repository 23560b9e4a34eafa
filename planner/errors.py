"""Exception hierarchy of the planner.

Every error the planner raises on purpose is a :class:`PlannerError`. The
classes also subclass :class:`ValueError` so that callers that only know the
standard library still catch them. Messages name the file, row or field and
say what to do.
"""

from __future__ import annotations


class PlannerError(ValueError):
    """Base class of every error the planner raises on purpose."""


class SchemaError(PlannerError):
    """A table does not follow the canonical parcel schema."""


class ConfigError(PlannerError):
    """A policy, template or scenario file is invalid (names the key)."""


class StoreError(PlannerError):
    """The workspace store cannot be read or written."""


class IngestError(PlannerError):
    """A survey file cannot be loaded; the workspace is left unchanged."""


class DataError(PlannerError):
    """Input data are unusable for an analysis step."""
