"""Exception hierarchy of the planner.

Every error the planner raises on purpose is a :class:`PlannerError`. The
classes also subclass :class:`ValueError` so that callers that only know the
standard library still catch them. Messages name the file, row or field and
say what to do.
"""

from __future__ import annotations


class PlannerError(ValueError):
    """Base class of every error the planner raises on purpose.

    ``zh``: the message in Simplified Chinese, shown by the app when its UI
    speaks Chinese (:func:`message_in`); ``str(error)`` stays English (CLI,
    logs).
    """

    def __init__(self, *args, zh: str | None = None) -> None:
        super().__init__(*args)
        self.zh = _zh_names(zh)


class Note(str):
    """A note for the user (a line of an ingest report), English as a ``str``, with its Chinese in ``zh``.

    It is its English text wherever a string goes (the CLI's report, JSON, logs); :func:`message_in`
    picks the Chinese for a Chinese page, as for errors.

    Examples
    --------
    >>> n = Note(".shx index missing: rebuilt by GDAL", zh="缺少 .shx 索引：已由 GDAL 重建")
    >>> n == ".shx index missing: rebuilt by GDAL", message_in(n, "zh"), message_in(n, "en")
    (True, '缺少 .shx 索引：已由 GDAL 重建', '.shx index missing: rebuilt by GDAL')
    """

    zh: str | None

    def __new__(cls, text: str, zh: str | None = None) -> Note:
        note = super().__new__(cls, text)
        note.zh = _zh_names(zh)
        return note


def _zh_names(zh: str | None) -> str | None:
    """A Chinese message with the names the planner makes up in Chinese: a workspace name is made once, in
    English ("(default database)/jinjiang" for a PostGIS URI naming no database), and goes into both messages."""
    if not zh:
        return zh
    from planner.i18n import names_in

    return names_in(zh, "zh")


def message_in(error: BaseException | str, lang: str = "zh") -> str:
    """The error's (or :class:`Note`'s) message in ``lang`` (Chinese where it has one, else its English text).

    Examples
    --------
    >>> e = IngestError("a.zip: holds no layer", zh="a.zip：没有图层")
    >>> message_in(e, "zh"), message_in(e, "en"), message_in(ValueError("x"), "zh")
    ('a.zip：没有图层', 'a.zip: holds no layer', 'x')
    """
    zh = getattr(error, "zh", None)
    return zh if lang == "zh" and zh else str(error)


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
