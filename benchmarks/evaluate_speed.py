"""How fast is tripletrec.evaluate?

(a) MovieLens 100k ``ua`` split, ratings >= 4 as positives, a dim-100 model:
    AUC, precision@10, recall@10, NDCG@10 and MRR, with the training pairs
    removed from the candidates and without. Target: under 50 ms.
(b) Synthetic 50,000 users x 25,000 items, dim-64 model, 10,000 test users
    with 1 to 5 test positives each: the same metrics, against the floor of
    one BLAS matrix product of the same size (10,000 x 64 times 64 x 25,000,
    float32) timed in the same run. Target: within 2x of the floor.

The models are random float32 factors: evaluation time depends on the shapes
and the numbers of positives and training items, not on how good the scores
are. Times are the best of several warm runs (a first call compiles or loads
the kernels); in (b) evaluate and the floor take turns, so that both see the
same machine load.

Run: ``python benchmarks/evaluate_speed.py`` (part (a) reads ``ml-100k.zip``
from ``TRIPLETREC_DATA``, by default ``../shared/datasets`` beside the
repository).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numba
import numpy as np

from tripletrec import Interactions
from tripletrec.metrics import evaluate

METRICS = ("auc", "precision", "recall", "ndcg", "mrr")
REPOSITORY = Path(__file__).resolve().parents[1]


class FactorModel:
    """Scores ``user_factors[users] @ item_factors.T`` (float32)."""

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray):
        self.user_factors = user_factors
        self.item_factors = item_factors
        self.n_users = len(user_factors)
        self.n_items = len(item_factors)

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T


def seconds_of(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def movielens_part(repeats: int) -> None:
    from tripletrec.data import movielens

    dataset = movielens("ml-100k", split="ua", min_rating=4, download=False, progress=False)
    train, test = dataset.train, dataset.test
    rng = np.random.default_rng(0)
    model = FactorModel(
        rng.normal(0, 0.1, (train.n_users, 100)).astype(np.float32),
        rng.normal(0, 0.1, (train.n_items, 100)).astype(np.float32),
    )
    print(
        f"(a) ml-100k ua, ratings >= 4: {test.n_users} users x {test.n_items} items, "
        f"{len(train):,} train / {len(test):,} test pairs, dim-100 random model, k=10"
    )
    for label, excluded in (("train removed", train), ("train=None   ", None)):
        evaluate(model, test, excluded, k=10, metrics=METRICS)  # compile / load the kernels
        best = min(
            seconds_of(lambda excluded=excluded: evaluate(model, test, excluded, k=10, metrics=METRICS))
            for _ in range(repeats)
        )
        verdict = "OK" if best < 0.050 else "MISSED"
        print(f"    evaluate, {label}: {best * 1e3:7.2f} ms   (target < 50 ms: {verdict})")


def synthetic_test_set(n_users: int, n_items: int, n_test_users: int, rng) -> Interactions:
    """1 to 5 distinct random test items for each of n_test_users random users."""
    test_users = rng.choice(n_users, n_test_users, replace=False)
    positives_per_user = rng.integers(1, 6, n_test_users)
    users = np.repeat(test_users, positives_per_user)
    # Items start + 997 * j (mod n_items), j < 5: distinct since 997 * j < n_items.
    starts = np.repeat(rng.integers(0, n_items, n_test_users), positives_per_user)
    offsets = np.arange(len(users)) - np.repeat(np.cumsum(positives_per_user) - positives_per_user, positives_per_user)
    items = (starts + offsets * 997) % n_items
    return Interactions.from_indices(users, items, shape=(n_users, n_items), duplicates="error")


def synthetic_part(repeats: int, block_size: int | None) -> None:
    n_users, n_items, dim, n_test_users = 50_000, 25_000, 64, 10_000
    rng = np.random.default_rng(1)
    user_factors = rng.normal(0, 0.1, (n_users, dim)).astype(np.float32)
    item_factors = rng.normal(0, 0.1, (n_items, dim)).astype(np.float32)
    model = FactorModel(user_factors, item_factors)
    test = synthetic_test_set(n_users, n_items, n_test_users, rng)
    print(
        f"(b) synthetic {n_users:,} users x {n_items:,} items, dim {dim}, "
        f"{n_test_users:,} test users, {len(test):,} test pairs, k=10"
    )
    test_users = np.flatnonzero(test.user_counts())
    left = np.ascontiguousarray(user_factors[test_users])
    right = np.ascontiguousarray(item_factors.T)
    product = np.empty((n_test_users, n_items), dtype=np.float32)

    def run_evaluate():
        return evaluate(model, test, k=10, metrics=METRICS, block_size=block_size)

    run_evaluate()
    times = {"evaluate": [], "floor": [], "reused": []}
    for _ in range(repeats):
        times["evaluate"].append(seconds_of(run_evaluate))
        times["floor"].append(seconds_of(lambda: left @ right))
        times["reused"].append(seconds_of(lambda: np.matmul(left, right, out=product)))
    best = {name: min(values) for name, values in times.items()}
    ratio = best["evaluate"] / best["floor"]
    verdict = "OK" if ratio <= 2.0 else "MISSED"
    shape = f"{n_test_users}x{dim} @ {dim}x{n_items}"
    print(f"    evaluate:                                        {best['evaluate'] * 1e3:8.1f} ms")
    print(f"    floor, one BLAS product {shape} (new output): {best['floor'] * 1e3:8.1f} ms")
    print(f"    the same product into a reused output buffer:    {best['reused'] * 1e3:8.1f} ms")
    print(
        f"    ratio evaluate / floor: {ratio:.2f}x   (target <= 2x: {verdict}); "
        f"vs the reused-buffer product: {best['evaluate'] / best['reused']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure (best is kept)")
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--block-size", type=int, default=None, help="users per block in (b); default: evaluate's")
    arguments = parser.parse_args()
    default_data = REPOSITORY.parent / "shared" / "datasets"
    if default_data.is_dir():
        os.environ.setdefault("TRIPLETREC_DATA", str(default_data))
    print(
        f"numba threads: {numba.get_num_threads()}, cpus: {os.cpu_count()}, load average: {', '.join(f'{load:.1f}' for load in os.getloadavg())}"
    )
    if arguments.part in ("a", "both"):
        movielens_part(max(arguments.repeats, 10))
    if arguments.part in ("b", "both"):
        synthetic_part(arguments.repeats, arguments.block_size)


if __name__ == "__main__":
    main()
