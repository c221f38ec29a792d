"""The micro-batcher: concurrent jobs share one process call; each gets its own result or error."""

import asyncio
import threading

import pytest

from tripletrec.serving.batcher import MicroBatcher


def _run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_jobs_share_a_batch_and_get_their_own_results():
    calls = []

    def process(jobs):
        calls.append(list(jobs))
        return [ValueError(f"bad {job}") if job < 0 else job * 2 for job in jobs]

    async def main():
        batcher = MicroBatcher(process, max_size=8, max_wait=0.05)
        await batcher.start()
        try:
            results = await asyncio.gather(*(batcher.submit(job) for job in [1, 2, -3, 4]), return_exceptions=True)
            alone = await batcher.submit(5)
        finally:
            await batcher.stop()
        return results, alone, batcher

    results, alone, batcher = _run(main())
    assert results[:2] == [2, 4] and results[3] == 8 and alone == 10
    assert isinstance(results[2], ValueError) and "bad -3" in str(results[2])
    assert calls[0] == [1, 2, -3, 4] and calls[1] == [5]
    assert (batcher.n_jobs, batcher.n_batches, batcher.largest) == (5, 2, 4)


def test_batches_are_capped_and_a_failing_process_fails_its_batch_only():
    sizes = []
    lock = threading.Lock()

    def process(jobs):
        with lock:
            sizes.append(len(jobs))
        if "boom" in jobs:
            raise RuntimeError("process failed")
        return list(jobs)

    async def main():
        batcher = MicroBatcher(process, max_size=3, max_wait=0.05)
        await batcher.start()
        try:
            first = await asyncio.gather(*(batcher.submit(job) for job in "abcdefg"))
            with pytest.raises(RuntimeError, match="process failed"):
                await batcher.submit("boom")
            after = await batcher.submit("z")
        finally:
            await batcher.stop()
        return first, after

    first, after = _run(main())
    assert first == list("abcdefg") and after == "z"
    assert max(sizes) == 3


def test_submit_needs_a_running_batcher():
    async def main():
        batcher = MicroBatcher(list)
        with pytest.raises(RuntimeError, match="not running"):
            await batcher.submit(1)

    _run(main())
