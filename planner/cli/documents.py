"""What the ``list`` commands print of a kind of saved document: every version kept, deletions said."""

from __future__ import annotations

from planner import workflow as W
from planner.i18n import t

#: The columns a list shows of each saved version (headed by ``cli_col_<name>``).
VERSION_COLUMNS = ("name", "version", "created_at", "user", "deleted", "sha256")


def version_lines(store, kind: str, lang: str = "zh", *, restore: str | None = None) -> list[str]:
    """The saved versions of ``kind``'s documents in ``lang`` (``cli_saved_<kind>`` as the heading; name, version,
    when, by whom, deletion marks, the hash's first 12 characters), and the deleted names apart with their last
    version and ``restore`` (how to bring one back, in ``lang``)."""
    from planner.cli._table import frame_lines

    docs = W.document_versions(store, kind)
    live = W.document_names(store, kind)
    shown = docs[docs["name"].isin(live)] if len(docs) else docs
    lines = [t(f"cli_saved_{kind}", lang)]
    if len(shown):
        marks = shown["deleted"].map({True: t("cli_col_deleted", lang), False: ""})
        lines += frame_lines(shown.assign(deleted=marks, sha256=shown["sha256"].astype(str).str[:12]),
                             VERSION_COLUMNS, lang)
    else:
        lines.append(t("cli_none", lang))
    gone = sorted(set(docs["name"]) - set(live)) if len(docs) else []
    if gone:  # deleted names apart: their versions are kept
        last = docs[~docs["deleted"]].groupby("name")["version"].max()
        names = t("ir_list_sep", lang).join(t("cli_deleted_last", lang, name=n, v=last[n]) if n in last.index else n
                                            for n in gone)
        lines += ["", t("cli_deleted_names", lang, names=names,
                        restore=t("cli_restore_sep", lang) + restore if restore else "")]
    return lines


def print_versions(store, kind: str, lang: str = "zh", *, restore: str | None = None) -> None:
    """Print :func:`version_lines`."""
    print("\n".join(version_lines(store, kind, lang, restore=restore)))
