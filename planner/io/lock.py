"""Writing a workspace file safely: the writer lock, write access, and what a failed write means.

Private helper of :mod:`planner.io.store`.

- :class:`WriterLock`: an ``flock`` on ``.<workspace>.lock`` beside the
  workspace, re-entrant within one thread, that records its holder (user,
  host, process id, command, action, since when) and gives up after a
  timeout with a :class:`~planner.errors.StoreError` naming the holder.
  While waiting it logs one ``planner.store`` warning naming the holder
  (Python prints unhandled warnings to stderr, so the CLI shows it).
- :func:`check_writable`: refuse a read-only workspace, folder or file system
  before anything is written.
- :func:`write_errors`: turn a full disk or a read-only file met while
  writing into a clear :class:`StoreError`.
- :func:`copy_ownership`: give a replacement file the original's mode, owner
  and group where the process may.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import getpass
import json
import logging
import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from planner.errors import StoreError

#: Seconds a writer waits for another writer before giving up (``PLANNER_LOCK_TIMEOUT`` overrides).
DEFAULT_LOCK_TIMEOUT = 300.0

_log = logging.getLogger("planner.store")
#: Workspaces whose lock this thread holds, with the nesting depth.
_held = threading.local()


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


#: Which signed-in account a write is made for (installed by the app through
#: :func:`planner.workflow.permissions.set_actor_provider`); None: the process's own user.
_account_provider: Callable[[object], str | None] | None = None


def set_account_provider(provider: Callable[[object], str | None] | None) -> None:
    """Install (the app) or remove the function naming the signed-in account a write of a store is made for."""
    global _account_provider
    _account_provider = provider


def account_for(store) -> str | None:
    """The signed-in account writing ``store`` from this thread, or None (the CLI; the provider failing)."""
    if _account_provider is None:
        return None
    try:
        return _account_provider(store)
    except Exception:  # who holds a lock is told as well as it can be; it never stops the write
        return None


def holder_record(action: str | None, account: str | None = None) -> dict:
    """What a writer records about itself while it holds a workspace's lock (:func:`describe_holder` tells it)."""
    me = user_name()
    command = " ".join(os.path.basename(a) if i == 0 else _without_password(a) for i, a in enumerate(sys.argv))[:300]
    info = {"user": account or me, "host": socket.gethostname(), "pid": os.getpid(), "command": command,
            "action": action, "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    if account and account != me:  # an app server writing for a signed-in colleague
        info["process_user"] = me
    return info


def _without_password(arg: str) -> str:
    """A command-line argument as a holder record may show it: a workspace URI in it without its password."""
    for scheme in ("postgresql://", "postgres://"):
        at = arg.find(scheme)
        if at >= 0:
            from planner.errors import StoreError
            from planner.io._pgconn import parse_uri

            try:
                return arg[:at] + parse_uri(arg[at:]).display
            except StoreError:
                return arg[:at] + scheme + "…"
    return arg


def describe_holder(h: dict | None, nobody: str = "another process (it recorded no details)", *,
                    lang: str = "en", nobody_zh: str = "另一个进程（未记录详情）") -> str:
    """Who holds a writer lock, in words: user (and the server's user for an app account), command, pid, host, since.

    Examples
    --------
    >>> h = {"user": "ann", "command": "planner ingest s.zip", "pid": 7, "host": "pc1", "since": "2026-12-07T02:00:00+00:00"}
    >>> describe_holder(h)
    'ann with `planner ingest s.zip`, pid 7 on pc1, since 2026-12-07T02:00:00+00:00'
    >>> describe_holder(h, lang="zh")
    'ann（`planner ingest s.zip`，进程 7，主机 pc1，自 2026-12-07T02:00:00+00:00 起）'
    >>> describe_holder({**h, "action": "publish_survey"}, lang="zh").split("，")[0]
    'ann（`planner ingest s.zip`（发布调查版本）'
    """
    if not h:
        return nobody_zh if lang == "zh" else nobody
    zh = lang == "zh"
    what = f"`{h['command']}`" if h.get("command") else ("某个进程" if zh else "a process")
    if h.get("action"):
        from planner.i18n import value_label

        what += f"（{value_label('action', h['action'], 'zh')}）" if zh else f" ({h['action']})"
    user = str(h.get("user", "?"))
    if h.get("process_user"):
        user += (f"（在 {h['process_user']} 运行的应用中登录）" if zh
                 else f" (signed in to the app run by {h['process_user']})")
    if zh:
        host = "数据库服务器本机" if h.get("host") == "the database server" else h.get("host", "?")
        return f"{user}（{what}，进程 {h.get('pid', '?')}，主机 {host}，自 {h.get('since', '?')} 起）"
    return f"{user} with {what}, pid {h.get('pid', '?')} on {h.get('host', '?')}, since {h.get('since', '?')}"


#: Told when a writer starts waiting for another (:func:`set_wait_listener`); None: only the log is.
_wait_listener = None


def set_wait_listener(fn) -> None:
    """Have ``fn(holder, timeout)`` told whenever a writer of this process starts waiting for another writer.

    ``holder``: the holder's record (None when it recorded none), ``timeout``: the seconds it will wait. ``fn``
    may return a callable, called with True when the wait is over and the lock taken, with False when it gave
    up. The app shows the wait on the page of the person whose save waits (the log line alone reached only the
    server's operator: a publish waiting minutes for a colleague's looked like a page that hung).
    """
    global _wait_listener
    _wait_listener = fn


def tell_waiting(holder: dict | None, timeout: float):
    """Tell the listener (:func:`set_wait_listener`) that this thread waits; return what to call when it stops.

    A listener that fails is logged and otherwise ignored: telling never stops a write.
    """
    fn = _wait_listener
    done = None
    if fn is not None:
        try:
            done = fn(holder, timeout)
        except Exception:  # a page that cannot show it: the write goes on
            _log.debug("telling a writer's wait failed", exc_info=True)

    def over(taken: bool) -> None:
        if done is not None:
            with contextlib.suppress(Exception):
                done(taken)

    return over


def seconds_text(seconds: float) -> str:
    """A waiting time as a message shows it: whole seconds from 10 s, else up to two significant digits.

    ``PLANNER_LOCK_TIMEOUT=0.2`` was told as "gave up after waiting 0 s".

    Examples
    --------
    >>> [seconds_text(t) for t in (300, 12.6, 2.5, 1, 0.2, 0.05, 0.0)]
    ['300', '13', '2.5', '1', '0.2', '0.05', '0']
    """
    t = float(seconds)
    if t >= 10 or t == int(t):
        return f"{t:.0f}"
    return f"{t:.2g}" if t < 1 else f"{t:.1f}".rstrip("0").rstrip(".")


def lock_timeout(value: float | None) -> float:
    """The lock timeout: ``value``, else ``PLANNER_LOCK_TIMEOUT``, else :data:`DEFAULT_LOCK_TIMEOUT`."""
    if value is None:
        env = os.environ.get("PLANNER_LOCK_TIMEOUT", "").strip()
        if not env:
            return DEFAULT_LOCK_TIMEOUT
        try:
            value = float(env)
        except ValueError:
            msg = f"PLANNER_LOCK_TIMEOUT={env!r}: give a number of seconds, e.g. 60"
            raise StoreError(msg, zh=f"PLANNER_LOCK_TIMEOUT={env!r}：请填写秒数，例如 60") from None
    if not value >= 0:
        msg = f"lock timeout {value!r}: give a number of seconds >= 0"
        raise StoreError(msg, zh=f"锁等待时间 {value!r} 无效：请填写不小于 0 的秒数")
    return float(value)


class WriterLock:
    """The writer lock of one workspace file.

    Parameters
    ----------
    path : Path
        The workspace file; the lock file is ``.<name>.lock`` beside it.
    timeout : float
        Seconds :meth:`held` waits for another writer.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")

    @contextlib.contextmanager
    def held(self, action: str | None = None, account: str | None = None) -> Iterator[None]:
        """Hold the lock (re-entrant in one thread); the workspace is checked writable first."""
        key = os.path.abspath(self.path)
        held = _held.__dict__.setdefault("paths", {})
        if held.get(key):
            held[key] += 1
            try:
                yield
            finally:
                held[key] -= 1
            return
        check_writable(self.path)
        fh = self._open()
        try:
            self._acquire(fh, action, account)
            held[key] = 1
            try:
                yield
            finally:
                held.pop(key, None)
                if fh.writable():
                    with contextlib.suppress(OSError):  # the holder record goes with the lock
                        fh.truncate(0)
        finally:
            fh.close()  # closing releases the flock

    def _open(self):
        lp = self.lock_path
        existed = lp.exists()
        try:  # unbuffered: recording the holder never leaves bytes to flush on a full disk
            fh = open(lp, "a+b", buffering=0)  # noqa: SIM115 - held by held()
        except PermissionError:
            if not existed:
                raise readonly_error(self.path, f"cannot create the lock file {lp.name} in its folder {_folder(self.path)}",
                                     f"无法在所在文件夹 {_folder(self.path)} 中创建锁文件 {lp.name}") from None
            try:  # another user's lock file: flock works on a read-only descriptor too
                return open(lp, "rb", buffering=0)
            except OSError as exc:
                raise readonly_error(self.path, f"cannot open the lock file {lp.name} ({exc.strerror})",
                                     f"无法打开锁文件 {lp.name}（{exc.strerror}）") from exc
        except OSError as exc:
            raise readonly_error(self.path, f"cannot create the lock file {lp.name} ({exc.strerror})",
                                 f"无法创建锁文件 {lp.name}（{exc.strerror}）") from exc
        if not existed:  # group members who may write the workspace may take its lock
            with contextlib.suppress(OSError):
                os.chmod(lp, stat.S_IMODE(self.path.stat().st_mode) & 0o666)
        return fh

    def _acquire(self, fh, action: str | None, account: str | None = None) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: single writer assumed
            return
        deadline = time.monotonic() + self.timeout
        over = None  # set once the wait is told (log and listener)
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if over is None:
                h = self.holder()
                _log.warning("workspace %s is being written by %s; waiting up to %s s (PLANNER_LOCK_TIMEOUT)",
                             self.path, describe_holder(h), seconds_text(self.timeout))
                over = tell_waiting(h, self.timeout)
            if time.monotonic() >= deadline:
                over(False)
                h = self.holder()
                waited = seconds_text(self.timeout)
                msg = (f"workspace {self.path.name} is being written by {describe_holder(h)}; gave up after waiting "
                       f"{waited} s. Nothing was written: try again when it is done, or wait longer "
                       "(PLANNER_LOCK_TIMEOUT=SECONDS)")
                raise StoreError(msg, zh=f"工作空间 {self.path.name} 正在被 {describe_holder(h, lang='zh')} 写入；"
                                         f"已等待 {waited} 秒后放弃，未写入任何内容。请稍后重试，或延长等待时间"
                                         "（PLANNER_LOCK_TIMEOUT）")
            time.sleep(0.05)
        if over is not None:
            over(True)
        if fh.writable():
            info = holder_record(action, account)
            with contextlib.suppress(OSError):
                fh.truncate(0)
                fh.write(json.dumps(info, ensure_ascii=False).encode("utf-8"))

    def holder(self) -> dict | None:
        """Who holds the lock, as recorded in the lock file; None when nobody does (or it is unknown)."""
        try:
            info = json.loads(self.lock_path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    def holder_text(self) -> str:
        return describe_holder(self.holder())


def _name_of(ident: int, db: str) -> str:
    """User (``db="pw"``) or group (``"gr"``) name of a numeric id, else the number."""
    try:
        import grp
        import pwd

        return pwd.getpwuid(ident).pw_name if db == "pw" else grp.getgrgid(ident).gr_name
    except (ImportError, KeyError):
        return str(ident)


def _folder(path: Path) -> str:
    """The folder of a workspace as a message names it: its own name, not its server path (the CLI's user typed it)."""
    return Path(os.path.abspath(path)).parent.name or str(Path(path).parent)


def readonly_error(path: Path, detail: str, detail_zh: str | None = None) -> StoreError:
    """A workspace that cannot be written; ``detail`` says why (``detail_zh`` in Chinese, else ``detail``).

    The workspace is named by its file name (:attr:`GpkgStore.label`), never by its server path.
    """
    msg = (f"workspace {path.name} cannot be written: {detail}. Nothing was changed. Ask the folder's owner for write "
           "access (writes put a copy beside the workspace and need the folder), or work on a copy in a writable "
           "folder")
    return StoreError(msg, zh=f"工作空间 {path.name} 无法写入：{detail_zh or detail}。未做任何修改。请向文件夹所有者申请写权限"
                              "（写入时会在工作空间旁生成副本，需要文件夹的写权限），或复制到可写的文件夹中使用")


def check_writable(path: Path) -> None:
    """Refuse, before anything is written, a workspace that is read-only or sits in a read-only place."""
    try:
        st = path.stat()
    except FileNotFoundError:
        msg = f"workspace {path.name} no longer exists (moved or deleted); nothing was written"
        raise StoreError(msg, zh=f"工作空间 {path.name} 已不存在（被移动或删除），未写入任何内容") from None
    with contextlib.suppress(OSError, AttributeError):  # statvfs: POSIX only
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            raise readonly_error(path, "it is on a read-only file system", "它位于只读文件系统上")
    mode = stat.filemode(st.st_mode)
    if not st.st_mode & 0o222:
        msg = (f"workspace {path.name} is read-only (permissions {mode}); nothing was written. Whoever made it read-only "
               "meant it to stay as it is: ask its owner to make it writable (chmod u+w), or work on a copy")
        raise StoreError(msg, zh=f"工作空间 {path.name} 为只读（权限 {mode}），未写入任何内容。"
                                 "请联系其所有者开放写权限（chmod u+w），或复制一份再使用")
    if not os.access(path, os.W_OK):
        owner = f"owner {_name_of(st.st_uid, 'pw')}, group {_name_of(st.st_gid, 'gr')}"
        msg = (f"workspace {path.name} is not writable by user {user_name()} (permissions {mode}, {owner}); nothing was "
               "written. Ask its owner for write access (e.g. membership of its group), or work on a copy")
        raise StoreError(msg, zh=f"用户 {user_name()} 无权写入工作空间 {path.name}（权限 {mode}，{owner}），"
                                 "未写入任何内容。请向其所有者申请写权限（如加入其用户组），或复制一份再使用")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise readonly_error(path, f"its folder {_folder(path)} is read-only for user {user_name()}",
                             f"其所在文件夹 {_folder(path)} 对用户 {user_name()} 为只读")


#: Text of errors that mean the disk is full, or the file or file system is read-only.
_FULL_TEXT = ("disk is full", "no space left", "disk quota", "sqlite_full")
_READONLY_TEXT = ("readonly database", "read-only file system", "permission denied")


def _write_failure(exc: BaseException) -> str | None:
    """``"full"``, ``"readonly"`` or None (an error that is neither: raised as it is)."""
    code = getattr(exc, "errno", None)
    text = str(exc).casefold()
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)) or any(t in text for t in _FULL_TEXT):
        return "full"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or any(t in text for t in _READONLY_TEXT):
        return "readonly"
    return None


#: Free bytes under which a GDAL write failure that gives no reason is taken for a full disk.
_NEARLY_FULL = 1 << 20


def _nearly_full(path: Path, exc: BaseException) -> bool:
    """A GDAL (pyogrio) write that failed without a reason, on a file system with under 1 MiB free.

    GDAL says only "Error while writing batch to OGR layer." when SQLite runs
    out of space inside an attribute-only batch (it did name the full disk
    when a geometry layer's write failed).
    """
    if not type(exc).__module__.startswith("pyogrio"):
        return False
    try:
        st = os.statvfs(path.parent)
    except (OSError, AttributeError):
        return False
    return st.f_bavail * st.f_frsize < _NEARLY_FULL


@contextlib.contextmanager
def write_errors(path: Path, what: str, what_zh: str | None = None) -> Iterator[None]:
    """Turn a full disk or a read-only file met while ``what`` (``what_zh`` in Chinese) into a clear :class:`StoreError`."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:  # OSError, sqlite3.Error, pyogrio's errors
        kind = _write_failure(exc) or ("full" if _nearly_full(Path(path), exc) else None)
        if kind is None:
            raise
        why = getattr(exc, "strerror", None) or str(exc)
        if kind == "full":
            why = getattr(exc, "strerror", None) or os.strerror(errno.ENOSPC)  # not GDAL's SQL statement
            msg = (f"workspace {path.name}: the disk is full ({why}) while {what}; nothing was changed (a partial "
                   "write is dropped). Free space (a layer write needs about the size of the layer) and run it again")
            raise StoreError(msg, zh=f"工作空间 {path.name}：{what_zh or what}时磁盘已满（{why}），未做任何修改（未写完的部分会被删除）。"
                                     "请清理出空间（写入图层约需与该图层同样大小的空余空间）后重试") from exc
        raise readonly_error(path, f"{what} failed ({why})", f"{what_zh or what}失败（{why}）") from exc


def copy_ownership(like: os.stat_result, path: Path) -> None:
    """Give ``path`` the mode, owner and group of ``like`` where the process may (best effort)."""
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IMODE(like.st_mode))
    if hasattr(os, "chown"):
        try:
            os.chown(path, like.st_uid, like.st_gid)
        except OSError:  # not root: keep at least the group (when the process belongs to it)
            with contextlib.suppress(OSError):
                os.chown(path, -1, like.st_gid)
