"""The seed notebook's protocol on MovieLens 100k: per-epoch auc_all, precision@10 and time.

Protocol (the seed Keras notebook's): ml-100k official ``ua`` split, ratings
>= 4 are the positives (49,906 training and 5,469 test pairs). Per epoch:

* ``auc_all`` (seed notebook's definition: training items count as
  negatives): the seed's ``full_auc``, for each test user the AUC of its test
  items against every other item (``evaluate(model, test, train=train,
  metrics=("auc_all",))``);
* ``p@10``: precision@10 ranking only items the user did not train on
  (``evaluate(model, test, train=train)``);
* ``seconds``: training time of the epoch (evaluation excluded) and the
  cumulative training time.

Configurations:

* ``seed``: the seed's model: dim 100, the ``sigmoid`` loss (1 - sigmoid of
  the score difference), uniform negatives, no biases, ratings ignored;
  Adagrad (``seed-adam`` shows the same model with lazy Adam, the closest
  to the notebook's Keras Adam);
* ``default``: ``MatrixFactorization(seed=0)`` with every other parameter
  at its default;
* ``best``: the best configuration found: WARP with unseen negatives.

After the per-epoch table, each configuration is also fitted ``--repeats``
times without validation (kernels compiled, numba cache warm) and the wall
time of ``fit`` is reported (minimum and median): the figure the 0.15 s
target refers to. The machine's load average is printed, since other work on
a 2-core machine inflates every time.

Usage::

    python benchmarks/seed_protocol.py [--configs seed default best] [--repeats 5]
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

CONFIGS = {
    "seed": dict(
        dim=100,
        loss="sigmoid",
        negatives="uniform",
        optimizer="adagrad",
        learning_rate=0.3,
        l2=0.01,
        biases=False,
        use_weights=False,
        epochs=20,
    ),
    "seed-adam": dict(
        dim=100,
        loss="sigmoid",
        negatives="uniform",
        optimizer="adam",
        learning_rate=0.01,
        l2=0.0,
        biases=False,
        use_weights=False,
        epochs=20,
    ),
    "default": dict(),
    "best": dict(
        loss="warp", negatives="unseen", optimizer="adagrad", learning_rate=0.05, l2=0.5, bias_l2=0.01, epochs=25
    ),
}


def per_epoch_table(name, params, train, test):
    rows = []

    def measure(model, record):
        record["auc_all"] = evaluate(model, test, train=train, metrics=("auc_all",)).means["auc_all"]
        record["p@10"] = evaluate(model, test, train=train, k=10, metrics=("precision",)).means["precision@10"]
        rows.append(record)

    model = MatrixFactorization(**{"seed": 0, **params})
    model.fit(train, callbacks=[measure], progress=False)
    print(f"\n== {name}: {model!r}")
    print(f"{'epoch':>5} {'loss':>8} {'seconds':>8} {'cumulative':>10} {'auc_all':>7} {'p@10':>7}")
    cumulative = 0.0
    for record in rows:
        cumulative += record["seconds"]
        print(
            f"{record['epoch']:>5d} {record['loss']:>8.4f} {record['seconds']:>8.4f} {cumulative:>10.4f} "
            f"{record['auc_all']:>7.4f} {record['p@10']:>7.4f}"
        )
    return rows[-1], cumulative


def fit_times(params, train, repeats):
    times = []
    for repeat in range(repeats):
        model = MatrixFactorization(**{"seed": repeat, **params})
        started = time.perf_counter()
        model.fit(train, progress=False)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=5, help="timed fits per configuration (default 5)")
    args = parser.parse_args()

    data = datasets.movielens("ml-100k", split="ua", min_rating=4)
    train, test = data.train, data.test
    print(
        f"ml-100k ua, ratings >= 4: {train.n_users} x {train.n_items}, {len(train):,} train / {len(test):,} test pairs"
    )
    # Compile (or load from numba's cache) every kernel variant before timing.
    for params in CONFIGS.values():
        MatrixFactorization(**{**params, "epochs": 1}).fit(train, progress=False)
        evaluate(MatrixFactorization(epochs=1).fit(train, progress=False), test, train=train)

    summaries = []
    for name in args.configs:
        last, cumulative = per_epoch_table(name, CONFIGS[name], train, test)
        load_before = os.getloadavg()[0]
        times = fit_times(CONFIGS[name], train, args.repeats)
        summaries.append((name, last, cumulative, times, load_before))

    print(
        "\n== summary (auc_all (seed notebook's definition: training items count as negatives); p@10: train items excluded)"
    )
    for name, last, cumulative, times, load in summaries:
        print(
            f"{name:>9}: epochs {last['epoch']:>3d}  auc_all {last['auc_all']:.4f}  p@10 {last['p@10']:.4f}  "
            f"epoch-seconds sum {cumulative:.3f} s  fit() wall min {min(times):.3f} s "
            f"median {statistics.median(times):.3f} s over {len(times)}  (load average {load:.2f})"
        )
    print(f"numba threads: {__import__('numba').get_num_threads()}, cpus: {os.cpu_count()}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
