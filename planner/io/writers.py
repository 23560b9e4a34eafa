"""Writers of ingest reports (JSON, CSV), the guard every CSV or Excel writer puts its text through, and the
checks and atomic replacement of the files a command writes (``--out``).

Spreadsheets run a cell as a formula when its text starts with ``=``, ``+``,
``-`` or ``@`` (and, in some, a tab or carriage return first; Excel in a
Chinese or Japanese locale the full-width ``＝``, ``＋``, ``－`` and ``＠`` too,
which a Chinese input method types unless switched to half width):
``=HYPERLINK("http://...","click")`` in a parcel's owner field would become
a live link in the office's Excel. :func:`neutralize` puts a single quote in
front of such text, as the OWASP guidance on CSV injection advises; numbers,
and text that is only a number (``-12.5``), are left as they are.

:func:`check_output` refuses, before a command computes or stores anything,
an output file it could not write or must not write (a folder, a missing
folder, a workspace); :func:`replacing` writes it beside the target and
renames it over the target when complete, so a killed or failed write
leaves the previous file as it was.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from planner.errors import DataError, IngestError

_CSV_COLUMNS = ("row", "parcel_id", "field", "value", "code", "action", "message", "message_zh")
#: First characters that make a spreadsheet evaluate a cell (OWASP: CSV injection), the full-width forms too: Excel
#: in a Chinese or Japanese locale reads ``＝cmd|' /C calc'!A0`` as a formula (OWASP www-community issue 1088).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
#: Spaces before a formula start: LibreOffice's CSV import with "Trim spaces" (and a sheet that trims on entry) reads
#: `` =HYPERLINK(...)`` as ``=HYPERLINK(...)``; the ideographic space a Chinese input method types counts too.
_LEADING_SPACE = " \u00a0\u3000"
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)*|\.\d+)(?:[eE][+-]?\d+)?%?")


def neutralize(value):
    r"""A cell value a spreadsheet shows as text: formula-like text gets a leading single quote.

    Examples
    --------
    >>> neutralize('=HYPERLINK("http://x","y")'), neutralize("@SUM(A1)"), neutralize("\t=1")
    ('\'=HYPERLINK("http://x","y")', "'@SUM(A1)", "'\t=1")
    >>> neutralize(-3.5), neutralize("-3.5"), neutralize("厂房-1"), neutralize(None)
    (-3.5, '-3.5', '厂房-1', None)
    >>> neutralize("＝SUM(1)"), neutralize("厂房＝工业")
    ("'＝SUM(1)", '厂房＝工业')
    >>> neutralize("  =1+1"), neutralize("\u3000@A1"), neutralize(" -3.5"), neutralize(" 厂房")
    ("'  =1+1", "'\u3000@A1", ' -3.5', ' 厂房')
    """
    if not isinstance(value, str):
        return value
    bare = value.lstrip(_LEADING_SPACE)
    if bare.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(bare):
        return "'" + value
    return value


def neutralize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names pass :func:`neutralize` (numeric columns untouched)."""
    out = pd.DataFrame(df).copy()
    for c in out.columns:
        col = out[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        if pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype):
            out[c] = col.map(neutralize, na_action="ignore")
    out.columns = [neutralize(c) for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path, **kw) -> None:
    """Write ``df`` as a CSV a spreadsheet opens safely: text through :func:`neutralize_frame`, rows ended by CRLF
    (RFC 4180, as Excel writes), so a value holding a carriage return or a line break is quoted and cannot start a
    row of its own (with pandas' ``\\n`` rows a bare CR went out unquoted: ``x\\r=HYPERLINK(...)`` in an owner
    field became a new row whose first cell was a live formula). UTF-8 with a byte-order mark unless ``encoding``
    says otherwise: without it Excel on Chinese Windows reads the file as GBK and garbles Chinese ids and owners
    (``planner sites --out sites.csv`` wrote none)."""
    kw.setdefault("encoding", "utf-8-sig")
    neutralize_frame(df).to_csv(path, index=False, lineterminator="\r\n", **kw)


#: Dataset creation options of a GeoPackage handed over (``--out``, the app's exports, a scenario's ``<name>.gpkg``):
#: version 1.2, which GDAL 3.6 (Debian 12, QGIS on it) and older ArcGIS open without a warning; GDAL 3.8+ writes
#: 1.4 by default (``application_id`` GPKG, ``user_version`` 10400). Everything written keeps its fields, types,
#: CRS and non-spatial tables in 1.2. The workspace keeps GDAL's default: only planner opens it.
DELIVERY_GPKG = {"VERSION": "1.2"}


def _one_line(v) -> str:
    """A summary value on one ``#`` line: a line break must not start a new row."""
    return re.sub(r"[\r\n]+", " ", str(v))


def check_output(path: str | os.PathLike, suffixes: Iterable[str], *, workspace: str | os.PathLike | None = None,
                 option: str = "--out", also: Iterable[str | os.PathLike] = (), new_workspace: bool = False) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a command may write it, else a :class:`DataError` saying what to do.

    Called before the command computes or stores anything (README: a refused command changed nothing). Refused:
    a suffix not in ``suffixes``; a folder; a folder that does not exist or cannot be written; a read-only file;
    the ``workspace`` itself (also through a symbolic link, ``./`` or a hard link: the export would add layers to
    it outside its lock, audit and catalogue) and any other planner workspace. ``also``: further files the
    command writes beside ``path`` (a CSV's ``_parcels.csv``), checked the same way. ``new_workspace``: the
    command makes a workspace at ``path`` (``sample-data``): an existing one may be replaced (``--force``).
    """
    p = Path(path)
    ext = p.suffix.lower()
    allowed = tuple(suffixes)
    if ext not in allowed:
        msg = f"{option} {p}: unknown extension {ext!r}; use {', '.join(allowed[:-1])} or {allowed[-1]}"
        raise DataError(msg, zh=f"{option} {p}：不支持的扩展名 {ext!r}，请用 {'、'.join(allowed)}")
    for f in (path, *also):
        _check_one_output(Path(f), f"{option} {os.fspath(f)}", workspace, new_workspace)  # named as written
    return p


def _check_one_output(p: Path, option: str, workspace, new_workspace: bool = False) -> None:
    """Refuse ``p`` (``option``: how messages name it) if it cannot or must not be written."""
    if p.is_dir():
        msg = f"{option} is a folder; give a file name (e.g. {p / ('result' + p.suffix)})"
        raise DataError(msg, zh=f"{option} 是文件夹，请给出文件名（例如 {p / ('result' + p.suffix)}）")
    check_parent(p, option)
    if not p.exists():
        return
    if not os.access(p, os.W_OK):
        msg = f"{option} is read-only; nothing was written. Choose another file name, or make it writable"
        raise DataError(msg, zh=f"{option} 为只读，未写入任何内容。请换一个文件名，或开放其写权限")
    ws = str(workspace) if workspace is not None else ""
    same = bool(ws) and not ws.startswith(("postgresql://", "postgres://")) and Path(ws).exists() \
        and (os.path.realpath(p) == os.path.realpath(ws) or os.path.samefile(p, ws))
    if same or (not new_workspace and _is_workspace(p)):
        what, what_zh = ("is the workspace", "就是工作空间") if same else ("is a planner workspace", "是一个工作空间")
        msg = (f"{option} {what}: an export must not write into a workspace (its layers are stored by the "
               "command itself); give another file name")
        raise DataError(msg, zh=f"{option} {what_zh}：导出文件不能写入工作空间（成果已由命令保存在工作空间中），"
                                "请换一个文件名")


def check_parent(p: Path, option: str) -> None:
    """Refuse ``p`` (a file or a folder to make) when the folder it goes in is missing, not a folder or read-only."""
    folder = Path(p).absolute().parent
    if not folder.is_dir():
        what, what_zh = ("is not a folder", "不是文件夹") if folder.exists() else ("does not exist", "不存在")
        msg = f"{option}: the folder {folder} {what}; create it first or choose another place"
        raise DataError(msg, zh=f"{option}：文件夹 {folder} {what_zh}，请先新建该文件夹或换一个位置")
    if not os.access(folder, os.W_OK | os.X_OK):
        msg = f"{option}: the folder {folder} is not writable; choose a folder you may write to"
        raise DataError(msg, zh=f"{option}：文件夹 {folder} 无写权限，请换一个可写的文件夹")


def _is_workspace(p: Path) -> bool:
    """Whether ``p`` is a GeoPackage holding a planner workspace (its ``planner_meta`` table), read-only."""
    if p.suffix.lower() != ".gpkg" or not p.is_file():
        return False
    try:
        con = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return con.execute("SELECT 1 FROM sqlite_master WHERE name='planner_meta'").fetchone() is not None
        finally:
            con.close()
    except sqlite3.Error:  # not a GeoPackage: an export may replace it
        return False


#: Temporary files of :func:`replacing`: ``.<name>.tmp-<pid><suffix>`` beside the target.
_TMP = ".{stem}.tmp-{pid}{suffix}"


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside ``path`` to write; when the block ends without error, it replaces ``path``.

    The rename is atomic: a reader, and a command killed at any moment, see the previous file or the new one,
    never a half-written one (GDAL rewrites a GeoPackage layer in several transactions: a killed
    ``classify --out old.gpkg`` left "no such table: flags"). A symbolic link keeps pointing at the new file.
    The temporary file takes the target's permissions; on error it is removed, and ones left by killed
    commands are removed by the next write of the same file.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "x.csv"
    >>> with replacing(target) as tmp:
    ...     _ = tmp.write_text("a,b\\n")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('a,b\\n', ['x.csv'])
    """
    target = Path(os.path.realpath(path))
    _remove_stale(target)
    tmp = target.with_name(_TMP.format(stem=target.stem, pid=os.getpid(), suffix=target.suffix))
    _remove(tmp)
    try:
        yield tmp
        if target.exists():
            shutil.copymode(target, tmp)
        with open(tmp, "rb") as fh:  # on disk before the rename names it
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        _remove(tmp)


def _remove(tmp: Path) -> None:
    for f in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            f.unlink()


def _remove_stale(target: Path) -> None:
    """Remove the temporary files of :func:`replacing` that killed commands left beside ``target``."""
    if os.name != "posix":  # os.kill(pid, 0) only asks on POSIX
        return
    head = _TMP.format(stem=target.stem, pid="", suffix="")
    for f in target.parent.glob(f"{glob.escape(head)}*{glob.escape(target.suffix)}"):  # names may hold [ ] * ?
        pid = f.name[len(head):len(f.name) - len(target.suffix)]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _remove(f)
        except OSError:  # alive, another user's
            pass


def write_report(report, path: str | os.PathLike, *, lang: str = "en") -> Path:
    """Write an :class:`planner.ingest.IngestReport` to ``path`` (format by extension).

    ``.json`` holds the whole report (settings, counts, problems with their English and Chinese messages, diff;
    its keys are the report's field names whatever the language); ``.csv`` holds one row per problem after
    ``#``-prefixed summary lines, its headings, codes and messages in ``lang`` (``"zh"``: the Chinese message
    first, the English one beside it).
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in (".json", ".csv"):
        msg = f"report {p}: use a .json or .csv file name"
        raise IngestError(msg, zh=f"报告 {p}：请使用 .json 或 .csv 文件名")
    p.parent.mkdir(parents=True, exist_ok=True)
    with replacing(p) as tmp:
        _write_report(report, tmp, ext, lang)
    return p


#: The summary lines of a CSV ingest report, and how a Chinese one heads them.
_CSV_SUMMARY = {"source": "来源文件", "format": "格式", "layer": "图层", "encoding": "字符编码", "crs_used": "采用的坐标系",
                "target_crs": "存储坐标系", "n_read": "读取", "n_accepted": "接受", "n_repaired": "几何已修复",
                "n_rejected": "拒绝", "n_flagged": "存疑", "refused": "拒绝导入", "refusal": "拒绝原因",
                "version": "发布版本", "row_note": "行号说明"}
#: The problem columns of a Chinese CSV ingest report (the order of :data:`_CSV_COLUMNS`).
_CSV_COLUMNS_ZH = ("行号", "宗地代码", "字段", "原值", "问题", "处理", "说明", "说明（英文）")


def _write_report(report, p: Path, ext: str, lang: str = "en") -> None:
    if ext == ".json":
        p.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return
    from planner.errors import message_in
    from planner.i18n import field_label, value_label

    zh = lang == "zh"
    with open(p, "w", newline="", encoding="utf-8-sig") as fh:  # BOM: Excel opens CJK text correctly
        summ = report.summary()
        for key, key_zh in _CSV_SUMMARY.items():
            v = summ.get(key)
            if zh:
                v = (getattr(report, "refusal_zh", "") or v if key == "refusal"
                     else value_label("bool", v, "zh") if key == "refused"
                     else message_in(report.row_note, "zh") if key == "row_note" and report.row_note
                     else "—" if v is None else v)
            # CRLF as the rows below (csv.writer) and every CSV of write_csv: one line ending in the file
            fh.write(f"# {key_zh if zh else key}: {_one_line(str(v).replace(chr(10) + '  -', ' |'))}\r\n")
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(_CSV_COLUMNS_ZH if zh else _CSV_COLUMNS)
        for pr in report.problems:
            cells = {c: getattr(pr, c) for c in _CSV_COLUMNS}
            if zh:
                cells.update(field=field_label(pr.field, "zh") if pr.field else None,
                             code=value_label("problem", pr.code, "zh"), action=value_label("action", pr.action, "zh"),
                             message=pr.message_zh or pr.message, message_zh=pr.message)
            w.writerow([neutralize(cells[c]) if cells[c] is not None else "" for c in _CSV_COLUMNS])


__all__ = ["DELIVERY_GPKG", "FORMULA_START", "check_output", "check_parent", "neutralize", "neutralize_frame", "replacing", "write_csv",
           "write_report"]
