"""Dynamic batching: requests wait up to ``max_wait_s`` for company, then run as pipeline calls
of up to ``max_batch`` rows through the shared row executor (``diffblocks._front._rows``).

One worker thread runs every pipeline call, one at a time: a pipeline's stateful components (its
scheduler) are therefore never used by two calls at once, and while a call runs the next batch
fills up, which is where the throughput comes from. The event loop only queues and wakes.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import time
from dataclasses import dataclass, field

from .._front._rows import Row, RowResult, RowRunner
from ._metrics import Metrics


class QueueFull(Exception):
    """The queue holds ``max_queue`` requests; the caller should retry after ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Job:
    row: Row
    future: asyncio.Future[RowResult]
    arrived: float = field(default_factory=time.monotonic)
    #: set when the client went away; a job not yet started is then dropped
    abandoned: bool = False
    batch_size: int = 0


class Batcher:
    def __init__(
        self,
        runner: RowRunner,
        metrics: Metrics,
        *,
        max_batch: int,
        max_wait_s: float,
        max_queue: int,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch and max_queue must be at least 1 and max_wait_ms at least 0")
        self.runner = runner
        self.metrics = metrics
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._waiting: collections.deque[Job] = collections.deque()
        self._wake = asyncio.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="diffblocks-pipeline")
        self._last_call_s = 1.0
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    # -- the request side ---------------------------------------------------------------------
    def submit(self, row: Row) -> Job:
        """Queue a row; raises :class:`QueueFull` when ``max_queue`` rows are waiting."""
        self._prune()
        if len(self._waiting) >= self.max_queue:
            calls_ahead = -(-len(self._waiting) // self.max_batch)
            raise QueueFull(max(1, round(calls_ahead * self._last_call_s)))
        job = Job(row, asyncio.get_running_loop().create_future())
        self._waiting.append(job)
        self.metrics.queue_length.set(len(self._waiting))
        self._wake.set()
        return job

    def abandon(self, job: Job) -> None:
        """The client left: drop the job if its batch has not started."""
        job.abandoned = True
        self._prune()

    def _prune(self) -> None:
        if any(j.abandoned for j in self._waiting):
            for job in [j for j in self._waiting if j.abandoned]:
                self._waiting.remove(job)  # counted as 'disconnected' by the request metrics
                if not job.future.done():
                    job.future.cancel()
            self.metrics.queue_length.set(len(self._waiting))

    # -- the worker side ----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="diffblocks-batcher")

    async def stop(self) -> None:
        """Finish what is queued, then stop (the server has stopped taking requests by now)."""
        while self._waiting or self._busy:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._pool.shutdown(wait=True)

    async def _loop(self) -> None:
        while True:
            self._prune()
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                continue
            # the oldest request sets the deadline; a full batch goes at once
            deadline = self._waiting[0].arrived + self.max_wait_s
            while len(self._waiting) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except asyncio.TimeoutError:
                    break
                self._prune()
            jobs = [self._waiting.popleft() for _ in range(min(self.max_batch, len(self._waiting)))]
            self.metrics.queue_length.set(len(self._waiting))
            if jobs:
                self._busy = True
                try:
                    await self._run(jobs)
                finally:
                    self._busy = False

    async def _run(self, jobs: list[Job]) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._pool, self._execute, jobs)
        except Exception as exc:  # the executor itself broke: every job of the batch learns why
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        for job, result in zip(jobs, results):
            if not job.future.done():
                job.future.set_result(result)

    def _execute(self, jobs: list[Job]) -> list[RowResult]:
        """In the worker thread: group compatible rows, one pipeline call per group."""
        rows = [job.row for job in jobs]
        by_row = {id(job.row): job for job in jobs}
        results: dict[int, RowResult] = {}
        for group in self.runner.group(rows):
            start = time.perf_counter()
            for result in self.runner.run_batch(group):
                results[id(result.row)] = result
            self._last_call_s = time.perf_counter() - start
            self.metrics.batch_size.observe(len(group))
            self.metrics.batch_seconds.observe(self._last_call_s)
            for row in group:
                by_row[id(row)].batch_size = len(group)
        return [results[id(row)] for row in rows]

    def queue_length(self) -> int:
        return len(self._waiting)


__all__ = ["Batcher", "Job", "QueueFull"]
