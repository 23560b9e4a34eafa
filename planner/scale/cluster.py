"""The Dask cluster the partitioned engine runs on: a local one by default, or any scheduler address.

>>> from planner.scale.cluster import dask_client
>>> with dask_client(n_workers=1, processes=False, say=lambda m: None) as client:
...     client.submit(sum, [1, 2]).result()
3
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from planner.errors import Note, PlannerError, message_in
from planner.i18n import t


class ClusterError(PlannerError):
    """The Dask scheduler cannot be reached, or a worker failed."""


#: Seconds to wait for a scheduler given by address.
CONNECT_TIMEOUT = 20


@contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int | None = None, threads_per_worker: int = 1,
                processes: bool = True, memory_limit: str | float | None = "auto",
                say: Callable[[str], None] = print) -> Iterator:
    """A ``distributed.Client`` on ``scheduler`` (``tcp://host:8786``), or on a new ``LocalCluster``.

    The local cluster has ``n_workers`` (default: the cores, at most 4) worker
    processes of ``threads_per_worker`` threads each (shapely releases the GIL,
    but one thread a worker keeps peak memory predictable). It is shut down on
    exit; a remote cluster is only disconnected from. The dashboard address is
    told through ``say`` (a :class:`~planner.errors.Note`: English, with its
    Chinese in ``zh``).
    """
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        try:
            _shake_hands(scheduler, CONNECT_TIMEOUT)
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except Exception as exc:  # whatever answers there (or nothing): the user is told which address
            why = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, TimeoutError) and not str(exc):
                why = f"no Dask handshake within {CONNECT_TIMEOUT} s; is it the scheduler's port (8786 by default), " \
                      "not the dashboard's (8787)?"
            msg = f"cannot reach the Dask scheduler at {scheduler} ({why}); check the address " \
                  "(tcp://HOST:8786) and that the scheduler runs"
            raise ClusterError(msg, zh=f"无法连接 Dask 调度器 {scheduler}；请检查地址（tcp://主机:8786）及调度器是否在运行") \
                from exc
    else:
        n = n_workers or max(1, min(4, os.cpu_count() or 1))
        cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=processes,
                               memory_limit=memory_limit, dashboard_address=":0", silence_logs=40)
        client = Client(cluster)
    try:
        check_workers(client, scheduler or "the local cluster", where_zh=scheduler or "本地集群")
        n = len(client.scheduler_info(n_workers=-1)["workers"])
        where = {lang: scheduler or t("scale_local_cluster", lang, n=n) for lang in ("en", "zh")}
        link = client.dashboard_link
        say(Note(t("scale_dashboard", "en", where=where["en"], link=link),
                 zh=t("scale_dashboard", "zh", where=where["zh"], link=link)))
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _shake_hands(address: str, timeout: float) -> None:
    """Connect to ``address`` and exchange Dask's handshake within ``timeout`` seconds, or raise.

    ``distributed.Client(address, timeout=...)`` bounds the TCP connection but then waits for the handshake
    reply forever: an address where something else listens (the dashboard's port 8787, a web server, a
    firewall that accepts and stays silent) hung the command.
    """
    from distributed.comm import connect
    from distributed.security import Security

    async def shake() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout,
                                              **Security().get_connection_args("client")), timeout)
        await comm.close()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, also when the caller's thread runs one
        pool.submit(asyncio.run, shake()).result()


#: What each worker evaluates to say which planner it runs (``eval`` travels by name: a worker without planner
#: can run it, where unpickling one of planner's functions would break the worker's connection).
_PLANNER_VERSION = "__import__('planner').__version__"


def check_workers(client, where: str, timeout: float | None = None, *, where_zh: str | None = None) -> None:
    """Refuse a cluster with no worker within ``timeout`` (:data:`CONNECT_TIMEOUT`), or workers without planner
    (``where``: the cluster as the refusal names it, ``where_zh`` in Chinese; default: ``where``).

    Without these checks the first task waited forever: on a scheduler no worker had joined, and on workers
    that cannot import planner (unpickling the task failed, the worker was restarted, and was sent it again).
    """
    import planner

    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    where_zh = where_zh or where
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as exc:
        msg = (f"the Dask scheduler at {where} has no workers (none joined within {timeout:g} s); start them with "
               f"`dask worker {client.scheduler.address}` on machines with planner {planner.__version__} installed")
        raise ClusterError(msg, zh=f"Dask 调度器 {where_zh} 没有工作进程（{timeout:g} 秒内无人加入）；请在装有 planner "
                                   f"{planner.__version__} 的机器上运行 dask worker {client.scheduler.address}") from exc
    got = client.run(eval, _PLANNER_VERSION, on_error="return")
    bad = {w: v for w, v in got.items() if v != planner.__version__}
    if bad:
        w, v = next(iter(bad.items()))
        what = f"cannot import planner ({type(v).__name__}: {v})" if isinstance(v, BaseException) else \
            f"run planner {v}"
        msg = (f"{len(bad)} of {len(got)} Dask workers at {where} {what}, e.g. {w}; this client runs planner "
               f"{planner.__version__}: install that version (and the same Python packages) on every worker")
        raise ClusterError(msg, zh=f"{where_zh} 的 {len(got)} 个 Dask 工作进程中有 {len(bad)} 个未安装或版本不同于本机的 "
                                   f"planner {planner.__version__}（如 {w}）；请在每个工作进程上安装相同版本")


def gather_with_progress(client, futures: list, label: str, say: Callable[[str], None] | None = None,
                         bar: bool = True, lang: str = "en") -> list:
    """Results of ``futures`` in order, with a progress bar fed by the scheduler's completion events.

    ``label`` names the stage (a :class:`~planner.errors.Note` for one said in both languages): the bar shows it in
    ``lang``; ``say`` is told the stage is done (a Note). A failed task raises :class:`ClusterError` naming the
    stage and the task.
    """
    from distributed import as_completed
    from tqdm import tqdm

    index = {f.key: i for i, f in enumerate(futures)}
    out: list = [None] * len(futures)
    zh = message_in(label, "zh")
    with tqdm(total=len(futures), desc=message_in(label, lang), unit=t("cli_part_unit", lang), disable=not bar, leave=False) as pb:
        for fut in as_completed(futures):
            try:
                out[index[fut.key]] = fut.result()
            except PlannerError:
                raise
            except Exception as exc:
                msg = f"{label}: task {fut.key} failed on the cluster: {type(exc).__name__}: {exc}"
                raise ClusterError(msg, zh=f"{zh}：集群任务 {fut.key} 失败：{exc}") from exc
            pb.update(1)
    if say:
        say(Note(t("scale_tasks_done", "en", label=label, n=len(futures)),
                 zh=t("scale_tasks_done", "zh", label=zh, n=len(futures))))
    return out


def submit_each(client, func, items: Iterable, *args, key: str, **kwargs) -> list:
    """``client.submit(func, item, *args, **kwargs)`` for each item, keys ``<key>-<i>`` (unique per call)."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    return [client.submit(func, item, *args, key=f"{key}-{tag}-{i}", pure=False, **kwargs)
            for i, item in enumerate(items)]
