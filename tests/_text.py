"""What a user reads of the Markdown the app sends (AppTest shows the source, with the app's backslash escapes)."""

from __future__ import annotations

import re


def rendered(markdown: str) -> str:
    r"""``markdown`` with CommonMark backslash escapes resolved: ``flow\_test`` reads ``flow_test``."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown))
