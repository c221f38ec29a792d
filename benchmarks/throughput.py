"""Training throughput on synthetic interactions, against implicit's BPR.

Data: ``datasets.synthetic(users, items, interactions, planted dim 32,
popularity exponent 1.0, seed 0)`` at two shapes, both in one run (``--shapes``):

* ``large``: 100,000 users x 50,000 items, 5,000,000 interactions (the
  item vectors, 12.8 MB at dim 64, do not fit in the caches; memory
  traffic weighs);
* ``small``: 20,000 users x 10,000 items, 1,800,000 interactions (the item
  vectors fit in the shared cache: the per-sample arithmetic weighs).

For 2,000 random users a fifth of their pairs is held out to measure
accuracy (AUC and precision@10, training pairs excluded from the ranking);
everything else is the training matrix, the same CSR for every library.

Measured, all with dim 64 and 2 threads, in one run:

* tripletrec ``bpr`` with the default optimizer (row-wise Adagrad), with
  per-value Adagrad, and with SGD (the algorithm implicit runs); ``warp``
  (default ``max_sampled=100``, and 10 as LightFM's default);
* the visiting order: ``bpr`` with each user's positives together (the
  default) against ``random_order=True`` (every interaction of a thread in
  fully random order), for speed here and for accuracy here and on
  MovieLens 100k (``ua``, ratings >= 4, seed AUC and precision@10);
* ``implicit.cpu.bpr.BayesianPersonalizedRanking`` (when importable) on the
  same matrix, same factors (64), ``num_threads=2``, as many iterations as
  tripletrec's epochs, its other settings at their defaults; and the ratio.

Samples per second = training interactions x epochs / wall time of the
whole ``fit`` call, for both libraries, with the same number of epochs
(``--epochs``, iterations for implicit). On a shared 2-core machine other
processes steal time, so the bpr fits of both libraries run ``--repeats``
times, taking turns (so both see the same spells of load), and the best is
kept; tripletrec's fastest single epoch (from ``history_``) is printed too.
Accuracy is measured after the last fit.

Usage::

    python benchmarks/throughput.py [--epochs 3] [--warp-epochs 2] [--repeats 2] [--shapes large,small]
        [--bpr-only] [--interactions N --users N --items N  (replace the large shape)]

The visiting-order and warp rows and the MovieLens comparison run on the
large shape only (and not at all with ``--bpr-only``); each shape ends with
a line of ratios to implicit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from tripletrec import data as datasets
from tripletrec.metrics import evaluate
from tripletrec.models import MatrixFactorization


class _FactorScores:
    """Adapter: scores of a (user_factors, item_factors) pair for evaluate()."""

    def __init__(self, user_factors, item_factors):
        self.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)

    def score_indices(self, users):
        # evaluate() asks a model for score_indices(user_indices).
        return self.user_factors[users] @ self.item_factors.T


def split_some_users(interactions, n_users, share, seed):
    random = np.random.default_rng(seed)
    chosen = np.zeros(interactions.n_users, dtype=bool)
    chosen[random.choice(interactions.n_users, size=n_users, replace=False)] = True
    held_out = chosen[interactions.user_index()] & (random.random(len(interactions)) < share)
    return interactions.select(~held_out), interactions.select(held_out)


def accuracy(model, test, train):
    result = evaluate(model, test, train=train, k=10, metrics=("auc", "precision"))
    return result.means["auc"], result.means["precision@10"]


def fit_ours(params, train, epochs, seed):
    model = MatrixFactorization(dim=64, threads=2, seed=seed, epochs=epochs, **params)
    started = time.perf_counter()
    model.fit(train, progress=False)
    return model, time.perf_counter() - started


def fit_implicit(train, epochs, seed):
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    model = BayesianPersonalizedRanking(factors=64, iterations=epochs, num_threads=2, random_state=seed)
    started = time.perf_counter()
    model.fit(train.matrix.copy(), show_progress=False)
    return _FactorScores(model.user_factors, model.item_factors), time.perf_counter() - started


def report(name, model, walls, fastest_epoch, train, test, epochs):
    auc, precision = accuracy(model, test, train)
    best = len(train) * epochs / min(walls)
    epoch_figure = f"{len(train) / fastest_epoch:>12,.0f} (best epoch)" if fastest_epoch else f"{'':>25}"
    print(
        f"{name:<32} fit s {', '.join(f'{w:.2f}' for w in walls):<18} samples/s {best:>12,.0f} (best fit)  "
        f"{epoch_figure}  auc {auc:.4f}  p@10 {precision:.4f}",
        flush=True,
    )
    return best


def run_ours(name, params, train, test, epochs):
    model, wall = fit_ours(params, train, epochs, seed=0)
    fastest = min(record["seconds"] for record in model.history_)
    return report(name, model, [wall], fastest, train, test, epochs)


def compare_bpr_with_implicit(train, test, epochs, repeats):
    """tripletrec bpr (three optimizers) and implicit BPR, fitted in turn ``repeats`` times."""
    try:
        import implicit  # noqa: F401
        from implicit.cpu.bpr import BayesianPersonalizedRanking  # noqa: F401
    except ImportError:
        implicit = None
        print("implicit is not importable: no comparison")
    contenders = {
        "tripletrec bpr (default)": dict(),
        "tripletrec bpr (adagrad)": dict(optimizer="adagrad"),
        "tripletrec bpr (sgd)": dict(optimizer="sgd"),
    }
    walls = {name: [] for name in contenders}
    fastest = {name: float("inf") for name in contenders}
    models = {}
    implicit_walls = []
    # Interleaved, so that both libraries see the same spells of machine load.
    for repeat in range(repeats):
        for name, params in contenders.items():
            model, wall = fit_ours(params, train, epochs, seed=repeat)
            walls[name].append(wall)
            fastest[name] = min(fastest[name], min(record["seconds"] for record in model.history_))
            models[name] = model
        if implicit is not None:
            models["implicit"], wall = fit_implicit(train, epochs, seed=repeat)
            implicit_walls.append(wall)
    figures = {name: report(name, models[name], walls[name], fastest[name], train, test, epochs) for name in contenders}
    if implicit is None:
        return
    theirs = report(
        f"implicit {implicit.__version__} BPR", models["implicit"], implicit_walls, None, train, test, epochs
    )
    ratios = ", ".join(f"{name.removeprefix('tripletrec ')} {figure / theirs:.2f}x" for name, figure in figures.items())
    print(f"\nratio to implicit BPR (best fit wall time, same epochs): {ratios}\n")


def movielens_order_comparison(repeats):
    data = datasets.movielens("ml-100k", split="ua", min_rating=4)
    train, test = data.train, data.test
    print(
        "\nvisiting order on ml-100k ua (default model, 2 threads; auc_all: seed notebook's definition, training items count as negatives):"
    )
    for random_order in (False, True):
        aucs, precisions, walls = [], [], []
        for seed in range(repeats):
            model = MatrixFactorization(seed=seed, threads=2, random_order=random_order)
            started = time.perf_counter()
            model.fit(train, progress=False)
            walls.append(time.perf_counter() - started)
            aucs.append(evaluate(model, test, train=train, metrics=("auc_all",)).means["auc_all"])
            precisions.append(evaluate(model, test, train=train, metrics=("precision",)).means["precision@10"])
        label = "fully random order" if random_order else "user by user (default)"
        print(
            f"  {label:<24} auc_all {np.mean(aucs):.4f} +- {np.std(aucs):.4f}  p@10 {np.mean(precisions):.4f} "
            f"+- {np.std(precisions):.4f}  fit wall median {statistics.median(walls):.3f} s  ({repeats} seeds)"
        )


SHAPES = {"large": (100_000, 50_000, 5_000_000), "small": (20_000, 10_000, 1_800_000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each bpr fit (default 3)")
    parser.add_argument("--warp-epochs", type=int, default=2, help="epochs of each warp fit (default 2)")
    parser.add_argument("--repeats", type=int, default=2, help="fits of each library's bpr, best kept (default 2)")
    parser.add_argument("--shapes", default="large,small", help="comma-separated: large, small (default both)")
    parser.add_argument("--bpr-only", action="store_true", help="only the bpr comparisons with implicit")
    parser.add_argument("--interactions", type=int, default=SHAPES["large"][2], help="large shape's interactions")
    parser.add_argument("--users", type=int, default=SHAPES["large"][0], help="large shape's users")
    parser.add_argument("--items", type=int, default=SHAPES["large"][1], help="large shape's items")
    parser.add_argument("--movielens-repeats", type=int, default=3)
    args = parser.parse_args()
    shapes = {"large": (args.users, args.items, args.interactions), "small": SHAPES["small"]}
    names = [name.strip() for name in args.shapes.split(",") if name.strip()]
    unknown = [name for name in names if name not in shapes]
    if unknown:
        parser.error(f"--shapes: unknown {', '.join(unknown)}; valid: {', '.join(shapes)}")

    for shape in names:
        n_users, n_items, n_interactions = shapes[shape]
        started = time.perf_counter()
        data = datasets.synthetic(n_users, n_items, n_interactions, 32, 1.0, 0)
        print(f"\n{shape} shape: synthetic {data.interactions} generated in {time.perf_counter() - started:.1f} s")
        train, test = split_some_users(data.interactions, 2000, 0.2, seed=0)
        print(
            f"train {len(train):,} pairs, held out {len(test):,} pairs of 2,000 users; dim 64, 2 threads; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        # Compile (or load from numba's cache) every kernel variant first.
        warm = data.interactions.select(np.arange(len(data.interactions)) < 20_000)
        for params in (dict(), dict(optimizer="adagrad"), dict(optimizer="sgd"), dict(loss="warp")):
            MatrixFactorization(epochs=1, **params).fit(warm, progress=False)

        compare_bpr_with_implicit(train, test, args.epochs, args.repeats)
        if args.bpr_only:
            continue
        if shape == "large":
            run_ours("tripletrec bpr random order", dict(random_order=True), train, test, args.epochs)
            run_ours(
                "tripletrec bpr sgd random order", dict(optimizer="sgd", random_order=True), train, test, args.epochs
            )
        run_ours("tripletrec warp", dict(loss="warp"), train, test, args.warp_epochs)
        if shape == "large":
            run_ours("tripletrec warp max_sampled=10", dict(loss="warp", max_sampled=10), train, test, args.warp_epochs)
    if not args.bpr_only:
        movielens_order_comparison(args.movielens_repeats)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
