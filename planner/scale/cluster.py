"""The Dask cluster the partitioned engine runs on: a local one by default, or any scheduler address.

>>> from planner.scale.cluster import dask_client
>>> with dask_client(n_workers=1, processes=False, say=lambda m: None) as client:
...     client.submit(sum, [1, 2]).result()
3
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from planner.errors import PlannerError


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
    told through ``say``.
    """
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            msg = f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}: {exc}); check the address " \
                  "(tcp://HOST:8786) and that the scheduler runs"
            raise ClusterError(msg, zh=f"无法连接 Dask 调度器 {scheduler}；请检查地址（tcp://主机:8786）及调度器是否在运行") \
                from exc
    else:
        n = n_workers or max(1, min(4, os.cpu_count() or 1))
        cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=processes,
                               memory_limit=memory_limit, dashboard_address=":0", silence_logs=40)
        client = Client(cluster)
    try:
        where = scheduler or f"a local cluster of {len(client.scheduler_info(n_workers=-1)['workers'])} workers"
        say(f"Dask: {where}; dashboard {client.dashboard_link}")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def gather_with_progress(client, futures: list, label: str, say: Callable[[str], None] | None = None,
                         bar: bool = True) -> list:
    """Results of ``futures`` in order, with a progress bar fed by the scheduler's completion events.

    A failed task raises :class:`ClusterError` naming the stage and the task.
    """
    from distributed import as_completed
    from tqdm import tqdm

    index = {f.key: i for i, f in enumerate(futures)}
    out: list = [None] * len(futures)
    with tqdm(total=len(futures), desc=label, unit="part", disable=not bar, leave=False) as pb:
        for fut in as_completed(futures):
            try:
                out[index[fut.key]] = fut.result()
            except PlannerError:
                raise
            except Exception as exc:
                msg = f"{label}: task {fut.key} failed on the cluster: {type(exc).__name__}: {exc}"
                raise ClusterError(msg, zh=f"{label}：集群任务 {fut.key} 失败：{exc}") from exc
            pb.update(1)
    if say:
        say(f"{label}: {len(futures)} tasks done")
    return out


def submit_each(client, func, items: Iterable, *args, key: str, **kwargs) -> list:
    """``client.submit(func, item, *args, **kwargs)`` for each item, keys ``<key>-<i>`` (unique per call)."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    return [client.submit(func, item, *args, key=f"{key}-{tag}-{i}", pure=False, **kwargs)
            for i, item in enumerate(items)]
