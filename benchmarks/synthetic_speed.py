"""Time tripletrec.data.synthetic() generator at scale.

Prints the wall time to generate the dataset (after a small warm-up call that
loads or compiles the numba kernels), interactions per second, the CPU time
summed over threads (wall time well above CPU time / threads means the cores
were busy with something else), and the peak resident memory of the process.

    python benchmarks/synthetic_speed.py                       # 20M interactions
    python benchmarks/synthetic_speed.py --n-interactions 2000000 --threads 1
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numba

from tripletrec.data.planted import synthetic


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux: KiB units)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-users", type=int, default=200_000)
    parser.add_argument("--n-items", type=int, default=50_000)
    parser.add_argument("--n-interactions", type=int, default=20_000_000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--popularity-exponent", type=float, default=1.0)
    parser.add_argument("--n-candidates", type=int, default=None, help="default: synthetic()'s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    if args.threads is not None:
        numba.set_num_threads(args.threads)
    options = {} if args.n_candidates is None else {"n_candidates": args.n_candidates}

    start = time.perf_counter()
    synthetic(n_users=20, n_items=10, n_interactions=50, dim=args.dim, **options)
    print(f"warm-up (load or compile kernels): {time.perf_counter() - start:.2f} s")
    baseline_mib = peak_rss_mib()

    for repeat in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        data = synthetic(
            n_users=args.n_users,
            n_items=args.n_items,
            n_interactions=args.n_interactions,
            dim=args.dim,
            popularity_exponent=args.popularity_exponent,
            seed=args.seed + repeat,
            **options,
        )
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        n = len(data.interactions)
        print(
            f"synthetic: {args.n_users:,} users x {args.n_items:,} items, {n:,} interactions, "
            f"dim {args.dim}, {numba.get_num_threads()} threads: {seconds:.2f} s "
            f"({n / seconds / 1e6:.2f} M interactions/s; CPU time {cpu_seconds:.2f} s, "
            f"{cpu_seconds / n * 1e9:.0f} ns per interaction)"
        )
        del data
    print(f"peak RSS: {peak_rss_mib():,.0f} MiB (after warm-up: {baseline_mib:,.0f} MiB)")


if __name__ == "__main__":
    main()
