"""Which workspaces the app may open, and server paths kept out of what it shows.

The app never opens a path a user typed. The server's operator says what may
be opened, and users pick from that list by name:

- ``PLANNER_DATA_DIR``: a folder; every GeoPackage directly in it is offered
  (hidden files and files whose real path, symlinks resolved, lies outside
  the folder are not);
- ``PLANNER_WORKSPACES``: more GeoPackage files, separated by ``os.pathsep``
  (``:`` on Linux);
- ``PLANNER_WORKSPACE``: one file, offered first and chosen by default
  (``make run`` and the tests set it);
- any of these may be a PostGIS workspace, ``postgresql://user@host/db?schema=name``
  (the shared office set-up); it is offered as ``db/schema``, never with its
  host or password;
- the same in ``.streamlit/secrets.toml``::

      [workspaces]
      data_dir = "/srv/planner/data"
      files = ["/srv/planner/archive/2023.gpkg"]
      default = "jinjiang.gpkg"

With none of these the app offers the sample city (``make run``): a working copy
of the bundled ``gis_data/sample_city.gpkg`` in ``workspaces/``, made on first
use (:func:`working_sample`), so the shipped file never changes. A file that
exists but is not a GeoPackage (SQLite header and GeoPackage application id)
is never offered, so the app cannot open, lock or change a foreign file.

:func:`redact` takes server paths out of a text before the app shows it: a
listed workspace becomes its name, any other absolute path its last part.
No Streamlit here: the sidebar (:mod:`planner.ui.state`) reads the secrets
and passes them in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from planner.errors import StoreError

log = logging.getLogger(__name__)

#: The app folder (relative workspace paths are taken from here).
ROOT = Path(__file__).resolve().parents[2]
#: The bundled sample city, as shipped (tracked by git; the app never opens it).
SAMPLE_SOURCE = ROOT / "gis_data" / "sample_city.gpkg"
#: The workspace offered when the operator configured none (``make run``): a working copy of :data:`SAMPLE_SOURCE`
#: in the git-ignored ``workspaces/`` folder, made on first use. Trying the app (publishing the survey update,
#: saving rules and scenarios) once changed the shipped file itself: ``git pull`` then refused to update it, and
#: the tests that read the shipped city found the user's survey version instead.
SAMPLE_WORKSPACE = ROOT / "workspaces" / "sample_city.gpkg"
#: SQLite ``application_id`` values of GeoPackage 1.0, 1.1 and 1.2+.
_GPKG_IDS = (b"GP10", b"GP11", b"GPKG")


@dataclass(frozen=True)
class Catalog:
    """The workspaces this server offers.

    Attributes
    ----------
    entries : tuple of (str, Path or str)
        ``(name shown, real path or postgresql:// URI)`` in the order offered.
    roots : tuple of Path
        Data directories (real paths); their files are offered while they stay inside.
    default : str or None
        Name chosen when the session has not picked one (None: nothing to offer).
    """

    entries: tuple[tuple[str, Path | str], ...]
    roots: tuple[Path, ...] = ()
    default: str | None = None

    def names(self) -> list[str]:
        """Names to offer, in order."""
        return [n for n, _ in self.entries]

    def path_of(self, name: str) -> Path | str:
        """The real path (or database URI) of a listed workspace, checked again now (a symlink may have moved).

        Raises
        ------
        StoreError
            ``name`` is not listed, or its file now resolves outside its data directory.
        """
        for n, p in self.entries:
            if n == name and isinstance(p, str):
                return p
            if n == name:
                real = p.resolve()
                if real != p and not any(real.is_relative_to(r) for r in self.roots):
                    break
                return real
        msg = f"workspace {name!r} is not offered by this server; pick one from the list"
        raise StoreError(msg, zh=f"本服务器未提供工作空间 {name!r}，请从列表中选择")

    def new_path(self, name: str) -> Path:
        """Where a new workspace called ``name`` goes: the first data directory, never anywhere else.

        The name is the file's whole name (``.gpkg`` added when missing): letters
        (any script), digits, spaces, ``-`` and ``_``, at most 64 characters. No
        path, no hidden file, nothing that exists already.

        Raises
        ------
        StoreError
            No data directory is set, or the name is not a plain new file name.
        """
        if not self.roots:
            msg = ("this server has no data directory (PLANNER_DATA_DIR), so new workspaces cannot be made here; "
                   "ask the operator, or use `planner workspace init` on the server")
            raise StoreError(msg, zh="本服务器未设置数据目录（PLANNER_DATA_DIR），无法在此新建工作空间；"
                                     "请联系管理员，或在服务器上使用 planner workspace init")
        stem = name.strip()
        stem = stem[:-5] if stem.lower().endswith(".gpkg") else stem
        if not re.fullmatch(r"[^\W_][\w \-]{0,63}", stem) or stem != stem.strip():
            msg = (f"workspace name {name!r}: use up to 64 letters, digits, spaces, '-' or '_' "
                   "(starting with a letter or digit), no folders")
            raise StoreError(msg, zh=f"工作空间名称 {name!r} 无效：最多 64 个字母、数字、空格、“-”或“_”，"
                                     "以字母或数字开头，不含文件夹")
        path = self.roots[0] / f"{stem}.gpkg"
        if path.exists() or path.is_symlink():
            msg = f"a workspace called {path.name} exists already; choose another name"
            raise StoreError(msg, zh=f"工作空间 {path.name} 已存在，请换一个名称")
        return path

    def redact(self, text: str, extra: Mapping[str, str] | None = None) -> str:
        """:func:`redact` with this catalogue's workspaces shown by name."""
        known = {str(p): n for n, p in self.entries}
        known.update({p: n for n, p in self.entries if isinstance(p, str)})  # a whole URI met in a text
        known.update(extra or {})
        return redact(text, known, roots=self.roots)


def is_geopackage(path: str | os.PathLike) -> bool:
    """Whether a file starts like a GeoPackage (SQLite header and a GeoPackage application id)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(72)
    except OSError:
        return False
    return head[:16] == b"SQLite format 3\x00" and head[68:72] in _GPKG_IDS


def is_database(value: str) -> bool:
    """Whether a workspace setting names a PostGIS workspace (``postgresql://``)."""
    return str(value).strip().startswith(("postgresql://", "postgres://"))


def _db_name(uri: str) -> str:
    """``db/schema`` of a PostGIS workspace URI (no host, no password): README's one name for it."""
    from planner.io._pgconn import shown_name as db_shown_name

    return db_shown_name(uri)


def shown_name(uri: str) -> str:
    """The workspace as a log line or message may name it: a database as ``db/schema``, a file by its name."""
    return _db_name(uri) if is_database(uri) else Path(uri).name


def _split(value) -> list[str]:
    """Settings split on ``os.pathsep``; a ``postgresql://`` URI (which holds ``:``) is kept whole.

    A URI among files (``a.gpkg:postgresql://u:pw@host:5432/db?schema=x:b.gpkg``) takes the pieces up to its
    database (the first ``/`` after its last ``@``): its parts were offered as workspaces of their own, the
    password among them.

    Examples
    --------
    >>> _split("a.gpkg:postgresql://u:p:/w@h:5432/db?schema=x:/srv/b.gpkg")
    ['a.gpkg', 'postgresql://u:p:/w@h:5432/db?schema=x', '/srv/b.gpkg']
    """
    if value is None:
        return []
    if not isinstance(value, str):
        return [str(v) for v in value if str(v).strip()]
    if is_database(value) and os.pathsep != ":":
        return [value.strip()]
    pieces = value.split(os.pathsep)

    def starts_uri(k: int) -> bool:  # the scheme of a URI cut at its own ":"
        return pieces[k].strip() in ("postgresql", "postgres") and k + 1 < len(pieces) and pieces[k + 1].startswith("//")

    out: list[str] = []
    i = 0
    while i < len(pieces):
        if not starts_uri(i):
            if pieces[i].strip():
                out.append(pieces[i])
            i += 1
            continue
        end = next((k for k in range(i + 1, len(pieces)) if starts_uri(k)), len(pieces))
        ats = [k for k in range(i + 1, end) if "@" in pieces[k]]  # the credentials end at the last "@"
        k, tail = (ats[-1], pieces[ats[-1]].rpartition("@")[2]) if ats else (i + 1, pieces[i + 1][2:])
        while "/" not in tail and k + 1 < end:  # then the host and port, up to the database
            k += 1
            tail = pieces[k]
        out.append(os.pathsep.join(pieces[i:k + 1]).strip())
        i = k + 1
    return out


def _absolute(p: str) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else ROOT / path


def _scan(root: Path) -> list[Path]:
    """GeoPackages directly inside ``root`` whose real path stays inside it."""
    try:
        files = sorted(root.iterdir())
    except OSError as exc:
        log.warning("data directory %s cannot be listed: %s", root, exc)
        return []
    out = []
    for f in files:
        if f.name.startswith(".") or f.suffix.lower() != ".gpkg":
            continue  # hidden files include the store's own temporary copies
        real = f.resolve()
        if not real.is_relative_to(root) or not real.is_file() or not is_geopackage(real):
            log.warning("data directory: %s skipped (outside the folder, not a file or not a GeoPackage)", f)
            continue
        out.append(real)
    return out


def _unique_names(paths: list[Path]) -> list[str]:
    plain = [p.name for p in paths]
    names = [f"{p.name} ({p.parent.name})" if plain.count(p.name) > 1 else p.name for p in paths]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} [{seen[n]}]"
    return names


def working_sample(source: Path | None = None, copy: Path | None = None) -> Path:
    """The working copy of the sample city (``copy``, default :data:`SAMPLE_WORKSPACE`), made from ``source``
    (default :data:`SAMPLE_SOURCE`) when it does not exist yet.

    The copy is written beside its place and linked there only if nothing is (two servers starting at once make
    one copy; a user's work in an existing copy is never replaced). Where no copy can be made (a read-only
    install), the bundled file itself, as before.
    """
    source, copy = source or SAMPLE_SOURCE, copy or SAMPLE_WORKSPACE
    if copy.exists() or not source.exists():
        return copy if copy.exists() else source
    tmp = copy.with_name(f".{copy.name}.{uuid.uuid4().hex}.tmp.gpkg")
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp)
        with contextlib.suppress(FileExistsError):  # another server made it meanwhile: theirs is the copy
            os.link(tmp, copy)
        log.info("working copy of the sample city made at %s (delete it to start again from %s)", copy, source)
        return copy
    except OSError as exc:
        log.warning("no working copy of the sample city at %s (%s): the app opens %s itself", copy, exc, source)
        return source
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def load_catalog(env: Mapping[str, str] | None = None, secrets: Mapping | None = None) -> Catalog:
    """The workspaces offered under the operator's settings.

    Parameters
    ----------
    env : mapping, optional
        Environment (default ``os.environ``): ``PLANNER_DATA_DIR``,
        ``PLANNER_WORKSPACES``, ``PLANNER_WORKSPACE``.
    secrets : mapping, optional
        The ``[workspaces]`` table of the Streamlit secrets: ``data_dir``
        (a folder or a list of folders), ``files`` (a list), ``default`` (a name).

    Examples
    --------
    >>> cat = load_catalog(env={})
    >>> cat.names(), cat.default
    (['sample_city.gpkg'], 'sample_city.gpkg')
    """
    env = os.environ if env is None else env
    sec = dict(secrets or {})
    dirs = _split(env.get("PLANNER_DATA_DIR")) + _split(sec.get("data_dir"))
    first = _split(env.get("PLANNER_WORKSPACE"))[:1]
    files = first + _split(env.get("PLANNER_WORKSPACES")) + _split(sec.get("files"))
    if not dirs and not files:
        files = [str(working_sample())]
    roots = []
    for d in dirs:
        r = _absolute(d).resolve()
        if not r.is_dir():
            log.warning("data directory %s does not exist or is not a folder", r)
            continue
        roots.append(r)
    ordered: list[Path | str] = []
    for f in files:
        if is_database(f):
            try:
                _db_name(f)
            except StoreError as exc:
                log.warning("workspace skipped: %s", exc)
                continue
            ordered.append(f.strip())
            continue
        real = _absolute(f).resolve()
        if real.exists() and not (real.is_file() and is_geopackage(real)):
            log.warning("workspace %s skipped: not a GeoPackage file", real)
            continue
        ordered.append(real)
    for r in roots:
        ordered += _scan(r)
    ordered = list(dict.fromkeys(ordered))
    paths = [p for p in ordered if isinstance(p, Path)]
    file_names = dict(zip(paths, _unique_names(paths), strict=True))
    names = [file_names[p] if isinstance(p, Path) else _db_name(p) for p in ordered]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # one database/schema through two URIs (two servers, two accounts): both offered
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} [{seen[n]}]"
    entries = tuple(zip(names, ordered, strict=True))
    want = sec.get("default")  # else PLANNER_WORKSPACE, which comes first, else the first listed
    default = want if want in names else (names[0] if names else None)
    return Catalog(entries, tuple(roots), default)


# -- redaction --------------------------------------------------------------------------
#: Directories of an absolute POSIX path (the last part is kept); not inside a URL ("http://h/a/b"), nor the slash of
#: a closing tag in a name ("<b>x</b>" read "<b>x<b>", "</script>" "<script>").
_POSIX_DIRS = re.compile(r"(?<![\w.:/~})\]%<-])(?:/[^/\s'\"<>|,;()\[\]{}]+)*/(?=[^/\s])")
#: ``scheme://user:password@`` (a database or tile-server address with its password)
_URI_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*):[^\s/@]*@")
#: ``password=...`` of a libpq connection string (quoted or not)
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.IGNORECASE)
#: Directories of a Windows path ("C:\\data\\x\\", "\\\\server\\share\\").
_WIN_DIRS = re.compile(r"(?:\b[A-Za-z]:|\\\\[^\\\s]+)[\\/](?:[^\\/\s'\"<>|]+[\\/])*")


def _common_roots() -> list[Path]:
    out = [Path(tempfile.gettempdir()), ROOT, Path.home()]
    return [p for p in out if str(p) not in ("/", "")]


def redact(text: str, known: Mapping[str, str] | None = None, *, roots=()) -> str:
    """``text`` without server paths or passwords: known paths become their names, other paths their last part.

    A password in an address (``postgresql://user:secret@host/db``) or a
    connection string (``password=secret``) becomes ``***`` (after the known
    addresses have become their names).

    Parameters
    ----------
    text : str
        A message about to be shown in the app.
    known : mapping, optional
        ``{path: name to show}`` (workspaces, uploads), replaced first, longest first.
    roots : sequence of path
        Folders removed from the front of paths (data directories); the temp
        folder, the app folder and the home folder always are.

    Examples
    --------
    >>> redact("workspace /srv/planner/data/ws.gpkg is locked")
    'workspace ws.gpkg is locked'
    >>> redact("C:\\\\data\\\\ws.gpkg：无法打开; see http://tiles.intranet/a/b")
    'ws.gpkg：无法打开; see http://tiles.intranet/a/b'
    >>> redact("cannot open postgresql://gis:s3cret@db.office/planner")
    'cannot open postgresql://gis:***@db.office/planner'
    """
    s = str(text)
    pairs = {str(k): v for k, v in (known or {}).items() if k}
    for r in (*roots, *_common_roots()):  # folders whose names may hold spaces: cut them first
        r = str(r).rstrip("/\\")
        if r:
            pairs.setdefault(r + os.sep, "/")
    for k in sorted(pairs, key=len, reverse=True):
        if k in s:
            s = s.replace(k, pairs[k])
    s = _KV_PASSWORD.sub(r"\1***", _URI_PASSWORD.sub(r"\1:***@", s))
    s = _POSIX_DIRS.sub("", s.replace("file:///", "/"))
    return _WIN_DIRS.sub("", s)


__all__ = ["SAMPLE_SOURCE", "SAMPLE_WORKSPACE", "Catalog", "is_geopackage", "load_catalog", "redact",
           "working_sample"]
