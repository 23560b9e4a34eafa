"""Survey uploads of the data manager, stored under names the server makes.

The browser sends a file name with every upload, and anyone who can reach
the app can send any name (``../../srv/data/ws.gpkg``, ``/etc/x``, NUL bytes,
4,000 characters). That name is only ever *shown*; its extension picks the
reader. The bytes go to ``<root>/u-<random>/upload<ext>``: a fresh folder
per upload (mode 0700, made by :func:`tempfile.mkdtemp`) and a file name
made here, created exclusively.

Each upload folder lives as long as its work: it is deleted when the file
is published, cancelled or discarded, replaced by another upload or removed from the
uploader (not when its user looks at another page: the data manager carries on
with it when they come back), and when the browser session ends: the session state that holds
it is dropped, the server stops, or (checked whenever any user's data
manager runs) the server no longer holds the session. Folders older than a
day that no live session holds are deleted when the app starts and at every
new upload, so a killed server leaves nothing behind for long.

``<root>`` is env ``PLANNER_UPLOAD_DIR``, else ``planner-uploads`` in the
system temp folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import unicodedata
import weakref
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from planner.errors import IngestError

log = logging.getLogger(__name__)

#: Extensions the data manager accepts (the readers pick the format from them).
UPLOAD_KINDS = (".zip", ".gpkg", ".geojson", ".json", ".fgb", ".csv")
#: The other files of a shapefile set: accepted by the survey uploader only to say what to upload instead (a
#: GIS officer picks the ``.shp``; the browser's own refusal is an English tooltip, "files are not allowed").
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: Extensions of table uploads (enterprise and link tables).
TABLE_KINDS = (".xlsx", ".csv")
#: Old workbooks the table uploaders take only to say "save it as .xlsx" in the page's language.
OLD_WORKBOOKS = (".xls", ".et")
#: Upload folders older than this (seconds) and held by no session are deleted.
STALE_AFTER_S = 24 * 3600
#: Longest file name shown (characters); longer names are shortened in the middle.
MAX_SHOWN = 120
_PREFIX = "u-"
_SESSION_KEY = "_upload"


@dataclass(frozen=True)
class Upload:
    """One stored upload.

    Attributes
    ----------
    folder : Path
        The upload's own folder (deleted with it).
    path : Path
        The stored file, ``folder / ("upload" + ext)``.
    name : str
        The browser's file name as shown to users (never used as a path).
    sha256 : str
        Checksum of the bytes (kept in the audit log).
    size : int
        Bytes.
    file_id : str or None
        Streamlit's id of the uploaded file (tells a new upload from a rerun).
    """

    folder: Path
    path: Path
    name: str
    sha256: str
    size: int
    file_id: str | None = None


def size_limit_text() -> str:
    """The largest upload the browser sends (``server.maxUploadSize``), said in the page's language.

    Streamlit refuses a bigger file in the browser (its reason, English, only for screen readers; :func:`uploader`
    shows one in the page's language): the uploaders' help says the limit, and what to do instead, beforehand.
    """
    from planner.ui.state import tr

    return tr("dm_upload_limit", mb=int(st.get_option("server.maxUploadSize")))


#: Streamlit's uploader writes its own words in English ("Upload", "1GB per file • ZIP, GPKG", "Drag and drop a file
#: here" over it while a file is dragged); on a Chinese page
#: they are drawn over in Chinese by CSS scoped to the one uploader (its ``st-key-<key>`` class). Sizes as
#: Streamlit's frontend gives them (14 px, 1.6 line height).
#: A file the browser refuses (too big, or a kind not listed) shows as a red chip whose reason only a screen reader
#: hears; in either language the chip says it under the file's name instead of its size.
_REFUSED_CSS = """<style>
.st-key-{key} [data-testid="stFileChip"]:has([data-testid="stFileChipIconError"]) [data-testid="stFileChipName"] + div {{
  font-size: 0; white-space: normal; }}
.st-key-{key} [data-testid="stFileChip"]:has([data-testid="stFileChipIconError"]) [data-testid="stFileChipName"] + div::after {{
  content: "{refused}"; font-size: 12px; line-height: 1.4; }}
</style>"""
_ZH_UPLOADER_CSS = """<style>
.st-key-{key} [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{ font-size: 0; }}
.st-key-{key} [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {{
  content: "上传"; font-size: 14px; line-height: 1.6; }}
.st-key-{key} [data-testid="stFileUploaderDropzone"] > div:not([data-testid]) > span {{ font-size: 0; }}
.st-key-{key} [data-testid="stFileUploaderDropzone"] > div:not([data-testid]) > span::after {{
  content: "将文件拖放到此处"; font-size: 14px; line-height: 1.6; }}
.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0; }}
.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] span::after {{
  content: "{instructions}"; font-size: 14px; line-height: 1.6; }}
</style>"""


def _size_text(mb: int) -> str:
    """``server.maxUploadSize`` (MB) as Streamlit's uploader says it: 1024 -> "1 GB", 200 -> "200 MB"."""
    return f"{mb / 1024:g} GB" if mb >= 1024 and mb % 1024 == 0 else f"{mb:,} MB"


def uploader(where, label: str, *, type: list[str], key: str, help: str | None = None, disabled: bool = False):
    """``where.file_uploader(...)`` whose own words read in the page's language.

    On a Chinese page its button says 上传 and its line under it "每个文件不超过 1 GB · ZIP、GPKG…" (Streamlit
    writes them in English whatever the page's language). Only the app's constant text and the given file kinds
    go into the page's CSS.
    """
    from planner.ui.state import lang, tr

    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        size = _size_text(int(st.get_option("server.maxUploadSize")))
        css = _REFUSED_CSS.format(key=key, refused=tr("upload_refused", size=size))
        if lang() == "zh":
            kinds = "、".join(k.upper() for k in type if re.fullmatch(r"[A-Za-z0-9]+", k))
            text = f"每个文件不超过 {size}" + (f" · {kinds}" if kinds else "")
            css += _ZH_UPLOADER_CSS.format(key=key, instructions=text)
        st.html(css)
    return where.file_uploader(label, type=type, key=key, help=help, disabled=disabled)


def upload_root(env=None) -> Path:
    """Folder holding the upload folders (env ``PLANNER_UPLOAD_DIR`` or ``<tmp>/planner-uploads``)."""
    env = os.environ if env is None else env
    return Path(env.get("PLANNER_UPLOAD_DIR") or Path(tempfile.gettempdir()) / "planner-uploads")


def shown_name(client_name: str) -> str:
    """The browser's file name made fit to show: its last part, no control characters, not too long.

    Examples
    --------
    >>> shown_name("../../srv/data/ws.gpkg"), shown_name("C:\\\\Users\\\\a\\\\调查.zip")
    ('ws.gpkg', '调查.zip')
    >>> shown_name("a\\x00b\\u202egpkg.zip"), shown_name("..")
    ('abgpkg.zip', 'upload')
    """
    s = unicodedata.normalize("NFC", str(client_name))
    s = re.split(r"[\\/]", s)[-1]
    s = "".join(ch for ch in s if not unicodedata.category(ch).startswith("C")).strip()
    if s.strip(".") == "":
        return "upload"
    if len(s) > MAX_SHOWN:
        stem, ext = os.path.splitext(s)
        ext = ext if len(ext) <= 10 else ""
        keep = MAX_SHOWN - len(ext) - 1
        s = stem[: keep // 2] + "…" + stem[-(keep - keep // 2):] + ext
    return s


def upload_kind(client_name: str, kinds: tuple[str, ...] = UPLOAD_KINDS) -> str:
    """The extension of a browser file name, checked against ``kinds`` (:data:`UPLOAD_KINDS`).

    Raises
    ------
    IngestError
        Any other extension (names the file as shown); one file of a shapefile set says to zip the set.
    """
    name = shown_name(client_name)
    ext = "." + name.rsplit(".", 1)[1].lower() if "." in name else ""  # ".gpkg" alone is a .gpkg too
    if ext in SHAPEFILE_PARTS and ".zip" in kinds:
        stem = name[: -len(ext)] or "…"
        msg = (f"{name} is only one file of a shapefile: put {stem}.shp, {stem}.shx, {stem}.dbf and {stem}.prj "
               f"(and {stem}.cpg if there is one) into one .zip and upload the .zip")
        raise IngestError(msg, zh=f"{name} 只是 Shapefile 的一个文件：请把同名的 {stem}.shp、{stem}.shx、{stem}.dbf、"
                                  f"{stem}.prj（有 {stem}.cpg 也一并）压缩成一个 .zip，再上传该 .zip")
    if ext in OLD_WORKBOOKS and ".xlsx" in kinds:  # an old Excel (or WPS) workbook: the reader takes .xlsx
        stem = name[: -len(ext)] or "…"
        msg = (f"{name} is an old Excel workbook ({ext}): open it in Excel or WPS, save it as {stem}.xlsx "
               "(File > Save As > Excel Workbook) and upload that")
        raise IngestError(msg, zh=f"{name} 是旧版 Excel 工作簿（{ext}）：请用 Excel 或 WPS 打开，另存为 {stem}.xlsx"
                                  "（文件 > 另存为 > Excel 工作簿）后上传")
    if ext not in kinds:
        listed = ", ".join(kinds)
        msg = f"{name}: unsupported file type {ext or '(none)'}; upload one of {listed}"
        raise IngestError(msg, zh=f"{name}：不支持的文件类型 {ext or '（无扩展名）'}，请上传 {listed} 之一")
    return ext


def _ensure_root(root: Path) -> Path:
    """Create ``root`` (0700) and check that it is our own real folder, not a planted symlink."""
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700, parents=True)
    st_ = os.lstat(root)
    if not stat.S_ISDIR(st_.st_mode) or (hasattr(os, "getuid") and st_.st_uid != os.getuid()):
        log.error("upload folder %s is not a folder owned by this process's user; refusing to use it", root)
        msg = "the server's upload folder is not usable; ask the operator to check PLANNER_UPLOAD_DIR"
        raise IngestError(msg, zh="服务器的上传目录不可用，请联系管理员检查 PLANNER_UPLOAD_DIR")
    return root


def save_upload(client_name: str, data: bytes, *, root: str | os.PathLike | None = None,
                file_id: str | None = None, kinds: tuple[str, ...] = UPLOAD_KINDS) -> Upload:
    """Store uploaded bytes in a new folder under a server-made name.

    Parameters
    ----------
    client_name : str
        The name the browser sent: shown to users and its extension checked, never used as a path.
    data : bytes
        The file.
    root : path-like, optional
        Folder of the upload folders (default :func:`upload_root`).
    file_id : str, optional
        Streamlit's id of the uploaded file.
    kinds : tuple of str
        Extensions accepted (:data:`UPLOAD_KINDS`, or :data:`TABLE_KINDS`).

    Raises
    ------
    IngestError
        Unsupported extension, or the file could not be written (disk full); nothing is left behind.

    Examples
    --------
    >>> import tempfile
    >>> up = save_upload("../../etc/ws.gpkg", b"x", root=tempfile.mkdtemp())
    >>> up.name, up.path.name, up.path.parent == up.folder
    ('ws.gpkg', 'upload.gpkg', True)
    >>> discard(up); up.folder.exists()
    False
    """
    ext = upload_kind(client_name, kinds)
    name = shown_name(client_name)
    base = _ensure_root(Path(root) if root is not None else upload_root())
    folder = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=base))
    path = folder / f"upload{ext}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        log.error("storing upload %r in %s failed: %s", name, folder, exc)
        full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
        why, why_zh = ("the server's disk is full", "服务器磁盘已满") if full else ("the server could not store it",
                                                                           "服务器无法保存该文件")
        msg = f"{name}: {why}; nothing was stored"
        raise IngestError(msg, zh=f"{name}：{why_zh}，未保存任何内容") from exc
    return Upload(folder, path, name, hashlib.sha256(data).hexdigest(), len(data), file_id)


def discard(upload: Upload) -> None:
    """Delete an upload's folder (nothing happens if it is gone already)."""
    folder = Path(upload.folder)
    if folder.name.startswith(_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)


def clean_stale(root: str | os.PathLike | None = None, *, max_age_s: float = STALE_AFTER_S,
                keep=(), now: float | None = None) -> int:
    """Delete upload folders older than ``max_age_s`` except those in ``keep``; return how many went."""
    base = Path(root) if root is not None else upload_root()
    now = time.time() if now is None else now
    keep = {Path(k) for k in keep}
    n = 0
    try:
        children = list(base.iterdir())
    except OSError:
        return 0
    for d in children:
        try:
            old = now - d.lstat().st_mtime > max_age_s
        except OSError:
            continue
        if d.name.startswith(_PREFIX) and old and d not in keep and d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n


# -- the session's upload (Streamlit) ---------------------------------------------------
class _Lease:
    """Holds a session's upload; its folder is deleted when the lease ends or is garbage-collected."""

    __slots__ = ("__weakref__", "_end", "session_id", "upload")

    def __init__(self, upload: Upload, session_id: str | None) -> None:
        self.upload = upload
        self.session_id = session_id
        self._end = weakref.finalize(self, discard, upload)  # also runs at interpreter exit

    def end(self) -> None:
        self._end()


#: Leases of the live sessions of this process (their folders survive the stale sweep); sessions run in threads.
_LIVE: weakref.WeakSet[_Lease] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def _live() -> list[_Lease]:
    with _LIVE_LOCK:
        return list(_LIVE)


def _session_id() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return getattr(ctx, "session_id", None)


def _session_exists(session_id: str) -> bool:
    """Whether the server still holds a browser session (connected, or disconnected and not yet expired)."""
    try:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return True
        return Runtime.instance()._session_mgr.get_session_info(session_id) is not None  # private: no public way
    except Exception:  # no way to tell (another Streamlit version): keep the upload
        return True


def end_orphans() -> int:
    """End the uploads of sessions the server no longer holds (tab closed and the session expired)."""
    n = 0
    for lease in _live():
        if lease.session_id and not _session_exists(lease.session_id):
            lease.end()
            with _LIVE_LOCK:
                _LIVE.discard(lease)
            n += 1
    return n


def _sweep() -> int:
    try:
        return clean_stale(keep=[lease.upload.folder for lease in _live()])
    except Exception as exc:  # a failed sweep must not stop an upload
        log.warning("sweeping old uploads failed: %s", exc)
        return 0


def clean_at_start() -> int:
    """Delete leftovers older than a day (once per server process and upload folder); return how many went."""
    return _clean_once(str(upload_root()))


@st.cache_resource(show_spinner=False)
def _clean_once(root: str) -> int:
    return _sweep()


def _key(slot: str) -> str:
    """Session key of an upload slot (the survey's is the original key)."""
    return _SESSION_KEY if slot == "survey" else f"{_SESSION_KEY}_{slot}"


def current(slot: str = "survey") -> Upload | None:
    """The session's stored upload of ``slot`` (the survey uploader, or e.g. the enterprise table's), if any."""
    lease = st.session_state.get(_key(slot))
    return lease.upload if isinstance(lease, _Lease) else None


def end(slot: str = "survey") -> None:
    """The session's upload of ``slot`` is done with (published, cancelled, replaced): delete its folder."""
    key = _key(slot)
    lease = st.session_state.get(key)
    if key in st.session_state:
        del st.session_state[key]
    if isinstance(lease, _Lease):
        lease.end()


def receive(uploaded, slot: str = "survey", kinds: tuple[str, ...] = UPLOAD_KINDS) -> tuple[Upload | None, bool]:
    """The stored upload for what the file uploader of ``slot`` holds: ``(upload, is_new)``.

    A file seen for the first time is stored (and any earlier upload of the
    slot deleted); the same file on a rerun returns the stored upload; an
    empty uploader ends the slot's upload. Each uploader of a page has its
    own slot, so a survey and an enterprise table can be on the way at once.

    Raises
    ------
    IngestError
        Unsupported extension or the file cannot be stored (nothing is kept).
    """
    end_orphans()  # cheap: the leases of this process, not the file system
    if uploaded is None:
        end(slot)
        return None, False
    fid = getattr(uploaded, "file_id", None)
    up = current(slot)
    if up is not None and up.file_id == fid and up.path.is_file():
        return up, False
    end(slot)
    _sweep()
    up = save_upload(uploaded.name, uploaded.getvalue(), file_id=fid, kinds=kinds)
    lease = _Lease(up, _session_id())
    with _LIVE_LOCK:
        _LIVE.add(lease)
    st.session_state[_key(slot)] = lease
    return up, True


def shown_paths() -> dict[str, str]:
    """``{server path or name: name shown}`` of the session's uploads, for :func:`planner.ui.workspaces.redact`."""
    out: dict[str, str] = {}
    for key in [k for k in st.session_state if str(k).startswith(_SESSION_KEY)]:
        lease = st.session_state.get(key)
        if isinstance(lease, _Lease):
            up = lease.upload
            out.update({str(up.path): up.name, str(up.folder) + os.sep: "", up.path.name: up.name})
    return out


def relabel(report, slot: str = "survey"):
    """Name an ingest report of the session's upload by the browser's file name, not the server's; return it."""
    up = current(slot)
    if up is not None and report is not None:
        report.source = up.name
        ds = str(getattr(report, "dataset", "") or "")
        if ds.startswith(up.path.name):
            report.dataset = up.name + ds[len(up.path.name):]
    return report


__all__ = ["size_limit_text", "OLD_WORKBOOKS", "SHAPEFILE_PARTS", "STALE_AFTER_S", "TABLE_KINDS", "UPLOAD_KINDS", "Upload", "clean_at_start", "clean_stale", "current", "discard", "end",
           "end_orphans", "receive", "relabel", "save_upload", "shown_name", "shown_paths", "upload_kind", "upload_root"]
