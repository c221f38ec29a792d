"""Concurrent calls from Python threads under numba's workqueue layer, which is not thread-safe.

Without serialised entry into the parallel kernels, two threads calling
``recommend`` at once abort the process ("Concurrent access has been
detected"). Each test runs in a fresh process: the layer is chosen at the
first parallel call and cannot change afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numba
import pytest

pytestmark = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="threading layers exist only with the JIT")

SCRIPT = textwrap.dedent(
    """
    import sys, threading
    import numba, numpy as np
    from tripletrec import MatrixFactorization, evaluate
    from tripletrec.data import synthetic, random_split

    data = synthetic(n_users=400, n_items=300, n_interactions=12_000, seed=0)
    train, test = random_split(data.interactions, test_fraction=0.2, seed=0)
    model = MatrixFactorization(dim=16, epochs=2, seed=0).fit(train, progress=False)
    users = train.user_ids.ids[:64]
    new_users = [train.item_ids.ids[[1, 2, 3]], train.item_ids.ids[[7, 8]]]

    def calls():
        return (
            model.recommend(users, k=10, exclude=train, threads=2),
            model.similar_items(train.item_ids.ids[:16], k=5, threads=2),
            model.recommend_new(new_users, k=5, seed=1, threads=2),
            evaluate(model, test, train=train, k=10).means,
        )

    expected = calls()
    failures = []

    def worker():
        for _ in range(20):
            got = calls()
            for index in range(3):
                if not (np.array_equal(got[index][0], expected[index][0])
                        and np.array_equal(got[index][1], expected[index][1])):
                    failures.append(index)
            if got[3] != expected[3]:
                failures.append(3)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(numba.threading_layer(), len(failures))
    """
)


def test_four_threads_of_twenty_calls_equal_the_serial_results_under_workqueue():
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "2", "TRIPLETREC_QUIET": "1"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    layer, failures = result.stdout.split()
    assert layer == "workqueue"
    assert failures == "0"
