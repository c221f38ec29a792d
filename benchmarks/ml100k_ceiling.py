"""How high p@10 and auc_all go on MovieLens 100k ``ua``/``ub``: EASE against a WARP grid.

Issue 13 asks the default model for ``auc_all >= 0.925`` and
``p@10 >= 0.155`` on ``ua`` (ratings >= 4 as positives, training items
excluded from the top 10), in 0.3 s of fit. This script prints what the
strongest models we know reach there, so that a target can be judged
against the data rather than against one model:

* **EASE** (Steck, WWW 2019; :class:`benchmarks.baselines.EASE`) for
  ``lambda`` in ``--lambdas``: a closed-form item-item model, the strongest
  reference row of ``benchmarks/compare.py``;
* **MatrixFactorization with WARP** (unseen negatives, Adagrad, the
  configuration ``benchmarks/seed_protocol.py`` calls ``best``) over a grid
  of ``dim`` x ``l2``, ``--epochs`` epochs, scored every 5 epochs: the best
  p@10 of each run (with its epoch and auc_all), the last epoch, and the
  cumulative training seconds to the best epoch.

``auc_all`` is the seed notebook's AUC (training items count as negatives),
the one issue 13's figures use; ``p@10`` excludes training items.

Run: ``python benchmarks/ml100k_ceiling.py [--splits ua ub] [--epochs 40]``
(``TRIPLETREC_DATA`` must point at the folder holding ``ml-100k.zip``).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import EASE  # noqa: E402

from tripletrec import data as datasets  # noqa: E402
from tripletrec.metrics import evaluate  # noqa: E402
from tripletrec.models import MatrixFactorization  # noqa: E402

WARP = dict(loss="warp", negatives="unseen", optimizer="adagrad", learning_rate=0.05, bias_l2=0.01)


def scores_of(model_or_scores, test, train):
    result = evaluate(model_or_scores, test, train=train, k=10, metrics=("auc_all", "precision")).means
    return float(result["auc_all"]), float(result["precision@10"])


def ease_rows(train, test, lambdas):
    matrix = sp.csr_matrix(train.matrix, dtype=np.float64)
    everyone = np.arange(matrix.shape[0])
    for l2 in lambdas:
        started = time.perf_counter()
        model = EASE(l2).fit(matrix)
        seconds = time.perf_counter() - started
        auc_all, precision = scores_of(model.score_indices(everyone), test, train)
        print(f"  EASE lambda={l2:<6g} auc_all {auc_all:.4f}  p@10 {precision:.4f}  fit {seconds:.2f} s")


def warp_rows(train, test, dims, l2s, epochs, seed):
    for dim, l2 in itertools.product(dims, l2s):
        rows, elapsed = [], [0.0]

        def record(model, entry, rows=rows, elapsed=elapsed):
            elapsed[0] += entry["seconds"]
            if entry["epoch"] % 5 == 0:
                rows.append((entry["epoch"], elapsed[0], *scores_of(model, test, train)))

        MatrixFactorization(dim=dim, l2=l2, epochs=epochs, seed=seed, **WARP).fit(
            train, callbacks=[record], progress=False
        )
        best = max(rows, key=lambda row: row[3])
        last = rows[-1]
        print(
            f"  WARP dim {dim:<4d} l2 {l2:<4g} best p@10 {best[3]:.4f} (auc_all {best[2]:.4f}, epoch {best[0]}, "
            f"{best[1]:.2f} s)  last epoch {last[0]}: {last[3]:.4f} / {last[2]:.4f}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", nargs="+", default=["ua", "ub"])
    parser.add_argument("--lambdas", type=float, nargs="+", default=[200.0, 400.0, 800.0])
    parser.add_argument("--dims", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--l2s", type=float, nargs="+", default=[0.2, 0.5, 1.0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    MatrixFactorization(epochs=1, **WARP).fit(datasets.synthetic(50, 40, 400, seed=0).interactions, progress=False)
    for split in args.splits:
        data = datasets.movielens("ml-100k", split=split, min_rating=4)
        train, test = data.train.binarize(), data.test.binarize()
        print(f"\n== ml-100k {split}, ratings >= 4: {len(train):,} train / {len(test):,} test pairs")
        ease_rows(train, test, args.lambdas)
        warp_rows(train, test, args.dims, args.l2s, args.epochs, args.seed)


if __name__ == "__main__":
    main()
