"""Time top-10 recommendations for every user against one BLAS product.

A synthetic float32 model (default 50,000 users x 25,000 items, dim 64)
where every user has 20-100 random "training" items to exclude. The floor is
one ``user_vectors @ item_vectors.T`` of the same size into a preallocated,
already-touched output (pure compute and memory traffic, no page faults);
top-k cannot beat it by much because it computes the same scores. The target
is a ratio of at most 1.5.

Runs are interleaved (floor, then each top-k setting, repeated) and the best
of the repeats is reported, so a burst of load from other processes hits
both sides alike. Process CPU time (all threads) is printed next to wall
time: on a shared machine it shows the work done, including threads that
spin while they wait.

Usage::

    python benchmarks/recommend_speed.py
    python benchmarks/recommend_speed.py --block-sizes 335 1342 --sequential --biases
    python benchmarks/recommend_speed.py --users 10000 --item-chunks 4096  # quicker
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
import scipy.sparse as sp

from tripletrec.serving.exact import ITEM_CHUNK, _score_and_select, default_block_size, top_k


def random_exclusions(n_users: int, n_items: int, low: int, high: int, rng: np.random.Generator) -> sp.csr_matrix:
    """Each user gets a random set of ``low .. high`` items (fewer after dedup)."""
    counts = rng.integers(low, high + 1, size=n_users)
    rows = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    columns = rng.integers(0, n_items, size=len(rows))
    keys = np.unique(rows * n_items + columns)
    rows, columns = keys // n_items, keys % n_items
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_users))])
    data = np.ones(len(columns), dtype=np.float32)
    return sp.csr_matrix((data, columns.astype(np.int32), indptr), shape=(n_users, n_items))


def timed(function) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=25_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--block-sizes",
        type=int,
        nargs="*",
        default=[],
        help="extra block sizes to time besides the default",
    )
    parser.add_argument(
        "--item-chunks",
        type=int,
        nargs="*",
        default=[],
        help="also time tiles of this many items (blocks sized for 64 MiB tiles)",
    )
    parser.add_argument(
        "--sequential", action="store_true", help="also time the default without overlapping scoring and selection"
    )
    parser.add_argument("--biases", action="store_true", help="also time the default block size with item biases")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    user_vectors = rng.standard_normal((args.users, args.dim), dtype=np.float32) * 0.1
    item_vectors = rng.standard_normal((args.items, args.dim), dtype=np.float32) * 0.1
    item_biases = rng.standard_normal(args.items, dtype=np.float32) * 0.01
    exclude = random_exclusions(args.users, args.items, 20, 100, rng)
    print(
        f"model: {args.users} users x {args.items} items, dim {args.dim}, float32; "
        f"{exclude.nnz} excluded training items; {os.cpu_count()} CPUs, numba threads "
        f"{numba.get_num_threads()} ({numba.config.THREADING_LAYER} layer); "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    # Compile (or load the cached kernel) on small data first.
    top_k(user_vectors[:50], item_vectors[:100], 5, exclude=exclude[:50, :100])
    top_k(user_vectors[:50], item_vectors[:100], 5, item_biases=item_biases[:100])

    product = np.empty((args.users, args.items), dtype=np.float32)
    product.fill(0.0)  # touch every page so the floor has no page faults
    default = default_block_size(args.items)
    settings = {"floor": lambda: np.matmul(user_vectors, item_vectors.T, out=product)}
    for block_size in [default] + [size for size in args.block_sizes if size != default]:
        settings[(block_size, False)] = lambda size=block_size: top_k(
            user_vectors, item_vectors, args.k, exclude=exclude, block_size=size
        )
    exclude_indptr = exclude.indptr.astype(np.int64)
    exclude_indices = exclude.indices.astype(np.int64)
    if args.sequential:
        # The same loop with scoring and selection taking turns instead of
        # overlapping, to show what the overlap buys.
        settings[(default, "sequential")] = lambda: _score_and_select(
            user_vectors,
            item_vectors.T,
            args.k,
            np.empty(0, dtype=np.float32),
            exclude_indptr,
            exclude_indices,
            np.arange(args.items, dtype=np.int64),
            default,
            numba.get_num_threads(),
            ITEM_CHUNK,
            overlap=False,
        )
    threads = numba.get_num_threads()
    for chunk in args.item_chunks:
        size = default_block_size(chunk)
        settings[(size, ("chunk", chunk))] = lambda size=size, chunk=chunk: _score_and_select(
            user_vectors,
            item_vectors.T,
            args.k,
            np.empty(0, dtype=np.float32),
            exclude_indptr,
            exclude_indices,
            np.arange(args.items, dtype=np.int64),
            size,
            threads,
            chunk,
        )
    if args.biases:
        settings[(default, True)] = lambda: top_k(
            user_vectors,
            item_vectors,
            args.k,
            item_biases=item_biases,
            exclude=exclude,
            block_size=default,
        )
    times: dict = {key: [] for key in settings}
    for _ in range(args.repeats):
        for key, function in settings.items():
            times[key].append(timed(function))
    product = None  # free the scores before the next section

    floor_wall = min(wall for wall, _ in times["floor"])
    floor_cpu = min(cpu for _, cpu in times["floor"])
    print(
        f"BLAS floor: one {args.users}x{args.dim} @ {args.dim}x{args.items} float32 "
        f"product: {floor_wall:.3f} s wall, {floor_cpu:.3f} s CPU"
    )
    for key, runs in times.items():
        if key == "floor":
            continue
        block_size, variant = key
        label = {True: ", item biases", "sequential": ", scoring and selection not overlapped"}
        chunk = min(args.items, ITEM_CHUNK)
        if isinstance(variant, tuple):
            chunk = variant[1]
            label[variant] = f", tiles of {chunk} items"
        wall = min(run[0] for run in runs)
        cpu = min(run[1] for run in runs)
        print(
            f"top-{args.k} for every user, training items excluded"
            f"{label.get(variant, '')}, block_size {block_size}"
            f"{' (default)' if block_size == default else ''} "
            f"({min(block_size, args.users) * chunk * 4 / 2**20:.0f} MiB tiles): "
            f"{wall:.3f} s wall, "
            f"{cpu:.3f} s CPU; ratio to BLAS floor {wall / floor_wall:.2f}x wall, "
            f"{cpu / floor_cpu:.2f}x CPU"
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
