"""Micro-batching: jobs arriving within a few milliseconds are processed by one call.

:class:`MicroBatcher` keeps an asyncio queue. Its worker takes the first job,
waits until ``max_wait`` seconds after that job arrived (or until
``max_size`` jobs are queued), and hands every queued job to ``process`` in
one call, run in ``executor`` so that the event loop keeps accepting
requests meanwhile; jobs that arrive during that call form the next batch.
Under load batches fill while the previous one computes, so the wait costs
nothing; alone, a request waits ``max_wait`` at most.

``process`` must answer each job as it would alone: the batcher only groups.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MicroBatcher"]


class MicroBatcher:
    """Group concurrent jobs into batches for one ``process`` call each.

    Parameters
    ----------
    process : callable
        ``process(jobs)`` returns one result per job, in order; a result that
        is an exception is raised to that job's caller alone. An exception
        raised by ``process`` itself fails every job of the batch.
    max_size : int
        Most jobs in one batch.
    max_wait : float
        Seconds a batch stays open after its first job arrived.
    executor : concurrent.futures.Executor, optional
        Where ``process`` runs (default: a private single thread).

    Attributes
    ----------
    n_jobs, n_batches, largest : int
        Jobs and batches processed so far, and the largest batch.
    """

    def __init__(
        self,
        process: Callable[[Sequence[Any]], Sequence[Any]],
        *,
        max_size: int = 64,
        max_wait: float = 0.002,
        executor: concurrent.futures.Executor | None = None,
    ):
        if max_size < 1 or max_wait < 0:
            raise ValueError(f"max_size must be >= 1 and max_wait >= 0, got {max_size} and {max_wait}")
        self.process = process
        self.max_size = int(max_size)
        self.max_wait = float(max_wait)
        self._own_executor = executor is None
        self.executor = executor or concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tripletrec-batch")
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self.n_jobs = self.n_batches = self.largest = 0

    @property
    def running(self) -> bool:
        """Whether the worker is taking jobs."""
        return self._worker is not None and not self._worker.done()

    async def start(self) -> None:
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Stop the worker; jobs still queued fail with RuntimeError."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        while self._queue is not None and not self._queue.empty():
            _, _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("the server is shutting down"))
        if self._own_executor:
            self.executor.shutdown(wait=True)

    async def submit(self, job: Any) -> Any:
        """Queue ``job`` and wait for its result (or raise its exception)."""
        if not self.running:
            raise RuntimeError("the batcher is not running")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put_nowait((loop.time(), job, future))
        return await future

    def _drain(self, batch: list) -> None:
        while len(batch) < self.max_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            self._drain(batch)
            remaining = batch[0][0] + self.max_wait - loop.time()
            if len(batch) < self.max_size and remaining > 0:
                await asyncio.sleep(remaining)
                self._drain(batch)
            jobs = [job for _, job, _ in batch]
            try:
                results = await loop.run_in_executor(self.executor, self.process, jobs)
                if len(results) != len(jobs):
                    raise RuntimeError(f"process returned {len(results)} results for {len(jobs)} jobs")
            except asyncio.CancelledError:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(RuntimeError("the server is shutting down"))
                raise
            except Exception as error:
                results = [error] * len(jobs)
            self.n_jobs += len(jobs)
            self.n_batches += 1
            self.largest = max(self.largest, len(jobs))
            for (_, _, future), result in zip(batch, results):
                if future.done():  # the client went away
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
