"""Unpacking untrusted zip archives: every entry checked before anything is written.

Refused, naming the archive and the entry: entries that escape the target
folder (``../``, absolute paths, drive letters), symbolic links, names with
control characters or too long for the file system, password-protected
(encrypted) entries, two entries of the same name (compared ignoring case,
``\\`` and ``./``: which copy a tool shows would depend on the tool), more
entries than the limit, and zip bombs: a total uncompressed size over an
absolute budget, and a compression ratio over the limit for every entry above a small floor
and for the archive as a whole (so many small entries cannot add up to a
bomb either). The real decompressed byte count is enforced while writing,
so a lying header gains nothing.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from planner.errors import IngestError


@dataclass(frozen=True)
class ReadLimits:
    """Limits for untrusted uploads.

    Parameters
    ----------
    max_file_bytes : int
        Largest file accepted (the upload itself and each extracted entry).
    max_unzipped_bytes : int
        Largest total uncompressed size of a zip (an absolute budget).
    max_ratio : float
        Largest compression ratio of each zip entry over ``ratio_floor_bytes``,
        and of the whole archive (total uncompressed size / archive size):
        zip-bomb guards. Real survey files compress about 2:1 (geometry) to
        15:1 (attribute tables), rarely beyond 80:1.
    max_entries : int
        Most entries in a zip.
    ratio_floor_bytes : int
        Entries up to this size are not ratio-checked one by one (a tiny
        blank ``.dbf`` compresses far beyond any ratio and is harmless); the
        archive's total ratio still bounds them.
    """

    max_file_bytes: int = 4 << 30
    max_unzipped_bytes: int = 8 << 30
    max_ratio: float = 200.0
    max_entries: int = 10_000
    ratio_floor_bytes: int = 64 << 10


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Entry name as the archive holds it, re-decoded as GBK when the UTF-8 flag is off (zipfile decodes those as
    cp437). zipfile cuts a name at a NUL character (``a\x00dbf`` reads as ``a``): the whole name is used, so a
    NUL is refused as the control character it is."""
    name = getattr(info, "orig_filename", None) or info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            return name
        for enc in ("utf-8", "gb18030"):
            try:
                return raw.decode(enc)
            except UnicodeDecodeError:
                continue
    return name


def _unsafe_reason(name: str, info: zipfile.ZipInfo) -> str | None:
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    p = name.replace("\\", "/")
    if p.startswith("/") or (len(p) > 1 and p[1] == ":"):
        return "has an absolute path"
    if ".." in PurePosixPath(p).parts:
        return "escapes the target folder (..)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "has control characters in its name"
    return None


#: Longest file-name component and path (bytes) when the file system does not say.
_NAME_MAX, _PATH_MAX = 255, 4096


def _name_limits(dest: Path) -> tuple[int, int]:
    """Longest file name and path (in bytes) the file system under ``dest`` accepts."""
    out = []
    for key, default in (("PC_NAME_MAX", _NAME_MAX), ("PC_PATH_MAX", _PATH_MAX)):
        try:
            out.append(int(os.pathconf(dest, key)))
        except (OSError, ValueError, AttributeError):  # Windows has no pathconf
            out.append(default)
    return out[0], out[1]


def _shown(name: str, limit: int = 80) -> str:
    """An entry name fit for a message: control characters escaped, long names shortened."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(name.encode('utf-8', 'replace')):,} bytes)"
    return f"'{text}'"


def _refuse_zip(zp: Path, en: str, zh: str) -> IngestError:
    return IngestError(f"{zp.name}: {en}", zh=f"{zp.name}：{zh}")


def _refuse_encrypted(zp: Path, name: str) -> IngestError:
    what, what_zh = (("save the workbook again without a password (File > Info > Protect Workbook)",
                      "请取消密码后重新保存工作簿") if zp.suffix.lower() in (".xlsx", ".xlsm") else
                     ("re-create the archive without a password", "请不设密码重新打包"))
    return _refuse_zip(zp, f"entry {_shown(name)} is password-protected (encrypted); {what}",
                       f"条目 {_shown(name)} 有密码保护（已加密）；{what_zh}")


def _check_unique(zp: Path, seen: dict[str, str], name: str, rel: str) -> None:
    """Refuse a second entry whose path (``rel``: ``\\`` and ``./`` normalised) equals an earlier one's ignoring case."""
    key = rel.casefold()
    if key not in seen:
        seen[key] = name
        return
    first = seen[key]
    first_rel = "/".join(p for p in PurePosixPath(first.replace("\\", "/")).parts if p != ".")
    if first == name:
        what, what_zh = f"entry {_shown(name)} appears twice", f"条目 {_shown(name)} 出现了两次"
    elif first_rel == rel:
        what = f"entries {_shown(first)} and {_shown(name)} are the same path"
        what_zh = f"条目 {_shown(first)} 与 {_shown(name)} 是同一路径"
    else:
        what = f"entries {_shown(first)} and {_shown(name)} have names that differ only in case"
        what_zh = f"条目 {_shown(first)} 与 {_shown(name)} 的名称仅大小写不同"
    raise _refuse_zip(zp, f"{what}: which copy is used would depend on the tool that unpacks it; re-create the "
                          "archive with each file once",
                      f"{what_zh}，不同工具会取不同的一份；请确保每个文件只出现一次后重新打包")


def _check_budget(zp: Path, infos: list[zipfile.ZipInfo], limits: ReadLimits) -> None:
    """Entry count and total uncompressed size."""
    if len(infos) > limits.max_entries:
        raise _refuse_zip(zp, f"{len(infos)} entries, more than the limit {limits.max_entries}; refused",
                          f"含 {len(infos)} 个条目，超过上限 {limits.max_entries}，已拒绝")
    total = sum(i.file_size for i in infos)
    if total > limits.max_unzipped_bytes:
        raise _refuse_zip(zp, f"uncompressed size {total:,} bytes exceeds the limit {limits.max_unzipped_bytes:,}; "
                              "refused (possible zip bomb)",
                          f"解压后 {total:,} 字节，超过上限 {limits.max_unzipped_bytes:,}，已拒绝（可能是压缩炸弹）")


def _check_total_ratio(zp: Path, infos: list[zipfile.ZipInfo], limits: ReadLimits) -> None:
    """The whole archive's ratio: entries each under the per-entry floor still add up."""
    total = sum(i.file_size for i in infos)
    size = max(zp.stat().st_size, 1)
    if total > limits.max_ratio * size + limits.ratio_floor_bytes:
        raise _refuse_zip(zp, f"{size:,} bytes unpack to {total:,} bytes ({total / size:.0f}:1, over the limit "
                              f"{limits.max_ratio:.0f}:1); refused (possible zip bomb)",
                          f"{size:,} 字节解压后为 {total:,} 字节（压缩比 {total / size:.0f}:1，超过上限 "
                          f"{limits.max_ratio:.0f}:1），已拒绝（可能是压缩炸弹）")


def _check_entry(zp: Path, name: str, info: zipfile.ZipInfo, limits: ReadLimits, name_max: int, path_max: int,
                 root_len: int) -> None:
    """Refuse an entry that is too large, compresses too well or whose name the file system cannot hold."""
    shown = _shown(name)
    if info.file_size > limits.max_file_bytes:
        raise _refuse_zip(zp, f"entry {shown} is {info.file_size:,} bytes, over the limit {limits.max_file_bytes:,}",
                          f"条目 {shown} 有 {info.file_size:,} 字节，超过上限 {limits.max_file_bytes:,}")
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        ratio = info.file_size / max(info.compress_size, 1)
        raise _refuse_zip(zp, f"entry {shown} compresses {ratio:.0f}:1, over the limit {limits.max_ratio:.0f}:1; "
                              "refused (possible zip bomb)",
                          f"条目 {shown} 压缩比 {ratio:.0f}:1，超过上限 {limits.max_ratio:.0f}:1，已拒绝（可能是压缩炸弹）")
    parts = [os.fsencode(part) for part in PurePosixPath(name.replace("\\", "/")).parts]
    longest = max((len(part) for part in parts), default=0)
    if longest > name_max or root_len + sum(len(part) + 1 for part in parts) > path_max:
        raise _refuse_zip(zp, f"entry {shown} has a name too long for the file system ({longest} bytes in one "
                              f"part, at most {name_max}); rename it and re-create the archive",
                          f"条目 {shown} 的名称过长，文件系统无法保存（单段 {longest} 字节，上限 {name_max}）；"
                          "请改短名称后重新打包")


def safe_extract(zip_path: str | os.PathLike, dest: str | os.PathLike, limits: ReadLimits = ReadLimits()) -> list[Path]:
    """Extract a zip into ``dest`` after checking every entry; return the extracted files.

    ``__MACOSX/`` and ``._*`` resource forks are skipped. Raises
    :class:`IngestError` on unsafe entries (paths out of ``dest``, links,
    control characters or names too long for the file system), encrypted
    entries, two entries of one name (ignoring case) or a zip bomb
    (entry count, total size, the compression ratio of every entry and of the
    whole archive), before writing anything; the real decompressed byte count
    is enforced while writing.
    """
    zp = Path(zip_path)
    dest = Path(dest)
    try:
        zf = zipfile.ZipFile(zp)
    except (zipfile.BadZipFile, OSError) as exc:
        msg = f"{zp.name}: not a readable zip file ({exc}); re-create the archive"
        raise IngestError(msg, zh=f"{zp.name}：不是可读取的 zip 文件（{exc}），请重新打包") from exc
    with zf:
        infos = zf.infolist()
        _check_budget(zp, infos, limits)
        root = dest.resolve()
        name_max, path_max = _name_limits(root)
        todo: list[tuple[zipfile.ZipInfo, str]] = []
        seen: dict[str, str] = {}
        for info in infos:
            name = _entry_name(info)
            why = _unsafe_reason(name, info)
            if why:
                raise _refuse_zip(zp, f"entry {_shown(name)} {why}; unsafe archive refused, nothing was extracted",
                                  f"条目 {_shown(name)} 不安全（{why}），已拒绝整个压缩包，未解压任何文件")
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if info.is_dir() or not parts or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
                continue
            if info.flag_bits & 0x1:
                raise _refuse_encrypted(zp, name)
            rel = "/".join(p for p in parts if p != ".")
            _check_unique(zp, seen, name, rel)
            _check_entry(zp, name, info, limits, name_max, path_max, len(os.fsencode(str(root))))
            todo.append((info, rel))
        _check_total_ratio(zp, infos, limits)
        out: list[Path] = []
        written = 0
        for info, rel in todo:
            target = (dest / rel).resolve()
            if root not in target.parents:
                raise _refuse_zip(zp, f"entry {_shown(rel)} escapes the target folder; refused",
                                  f"条目 {_shown(rel)} 指向解压目录之外，已拒绝")
            n = 0
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        n += len(chunk)
                        written += len(chunk)
                        if n > max(info.file_size, 0) or written > limits.max_unzipped_bytes:
                            raise _refuse_zip(zp, f"entry {_shown(rel)} decompresses beyond its declared size; "
                                                  "refused (zip bomb)",
                                              f"条目 {_shown(rel)} 解压后超过其声明大小，已拒绝（压缩炸弹）")
                        dst.write(chunk)
            except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required" (a lying flag)
                raise _refuse_encrypted(zp, rel) from exc
            except (OSError, zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
                why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                raise _refuse_zip(zp, f"entry {_shown(rel)} cannot be unpacked ({why}); re-create the archive "
                                      "(or free space in the temporary folder)",
                                  f"条目 {_shown(rel)} 无法解压（{why}）；请重新打包（或清理临时目录的空间）") from exc
            out.append(target)
        return out


__all__ = ["ReadLimits", "safe_extract"]
