"""What the ``list`` commands print of a kind of saved document: every version kept, deletions said."""

from __future__ import annotations

from planner import workflow as W


def print_versions(store, kind: str, title: str, *, restore: str | None = None) -> None:
    """Print the saved versions of ``kind``'s documents (name, version, when, by whom, deletion marks), and the
    deleted names apart with their last version and ``restore`` (how to bring one back)."""
    docs = W.document_versions(store, kind)
    live = W.document_names(store, kind)
    shown = docs[docs["name"].isin(live)] if len(docs) else docs
    print(f"{title}:")
    cols = ["name", "version", "created_at", "user", "deleted", "sha256"]
    print(shown[cols].assign(deleted=shown["deleted"].map({True: "deleted", False: ""})).to_string(index=False)
          if len(shown) else "  (none)")
    gone = sorted(set(docs["name"]) - set(live)) if len(docs) else []
    if gone:  # deleted names apart: their versions are kept
        last = docs[~docs["deleted"]].groupby("name")["version"].max()
        print(f"\ndeleted (versions kept{'; ' + restore if restore else ''}): "
              + ", ".join(f"{n} (last {n}@{last[n]})" if n in last.index else n for n in gone))
