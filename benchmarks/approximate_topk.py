"""Approximate top-k (faiss HNSW) against exact top-k for every user of a large synthetic model.

Model: ``MatrixFactorization()`` defaults (dim 64, 10 epochs) fitted on
``tripletrec.data.synthetic(100_000 users, 50_000 items, 5_000_000
interactions, planted dim 32, popularity exponent 1.0, seed 0)``. Then the
top-10 of all 100,000 users, with nothing excluded and with the training
items excluded, through ``model.recommend`` exactly and with
``approximate=True`` for several search breadths: the index build time, the
query time, the speed-up over exact and recall@10 (the share of each user's
exact top-10 that the approximate answer holds, averaged over users). Both
paths use ``--threads`` threads (numba for exact, faiss's OpenMP for HNSW).

Run: ``python benchmarks/approximate_topk.py [--threads 2] [--quick]``
(``pip install 'tripletrec[ann]'`` for faiss).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tripletrec import data as datasets
from tripletrec.models import MatrixFactorization


def recall_at_k(found: np.ndarray, expected: np.ndarray) -> float:
    """Mean over rows of |found ∩ expected| / |expected| (ids; padded slots never match)."""
    hits = (found[:, :, None] == expected[:, None, :]).any(axis=2).sum(axis=1)
    return float(np.mean(hits / expected.shape[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20,000 x 10,000 items, 1M interactions")
    parser.add_argument("--breadths", type=int, nargs="+", default=[16, 32, 48, 96])
    args = parser.parse_args(argv)
    users, items, size = (20_000, 10_000, 1_000_000) if args.quick else (100_000, 50_000, 5_000_000)
    train = datasets.synthetic(users, items, size, dim=32, popularity_exponent=1.0, seed=0).interactions
    started = time.perf_counter()
    model = MatrixFactorization(dim=64, seed=0, threads=args.threads).fit(train, progress=False)
    print(f"{users:,} users x {items:,} items, {size:,} interactions; fit {time.perf_counter() - started:.1f} s")
    everyone = train.user_ids.ids
    for label, exclude in (("nothing excluded", None), ("training items excluded", train)):
        model.recommend(everyone[:100], k=10, exclude=exclude, threads=args.threads)  # compile / warm up
        started = time.perf_counter()
        exact_ids, _ = model.recommend(everyone, k=10, exclude=exclude, threads=args.threads)
        exact_seconds = time.perf_counter() - started
        print(f"\n{label}: exact {exact_seconds:.2f} s for all {len(everyone):,} users")
        print(f"{'search breadth':>14} {'build s':>8} {'query s':>8} {'speed-up':>9} {'recall@10':>10}")
        for breadth in args.breadths:
            index = model.approximate_index(threads=args.threads, search_breadth=breadth)
            started = time.perf_counter()
            ids, _ = model.recommend(everyone, k=10, exclude=exclude, approximate=True, threads=args.threads)
            seconds = time.perf_counter() - started
            recall = recall_at_k(ids, exact_ids)
            print(
                f"{breadth:>14} {index.build_seconds:>8.2f} {seconds:>8.2f} {exact_seconds / seconds:>8.1f}x "
                f"{recall:>10.4f}"
            )


if __name__ == "__main__":
    main()
