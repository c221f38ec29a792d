"""The torch engine on MovieLens 100k and synthetic data, next to the numba engine, one run.

Sections:

1. **Notebook protocol** (``TripletNetwork`` with its defaults: the Keras
   notebook's configuration): ml-100k ``ua``, ratings >= 4 as positives,
   10 epochs; per epoch the notebook's AUC (``auc_all``: training items
   count as negatives), ``auc`` (training items excluded), precision@10 and
   seconds, for ``--seeds`` seeds.
2. **TwoTower with MovieLens features** (genres, release decade, title
   words; users' age, gender, occupation): warm AUC and precision@10 on
   ``ua``; cold items (20% of the items held out whole, scored from their
   features alone) ranked among the cold items and among all items, next
   to the hybrid ``MatrixFactorization`` on the same split and features
   (its settings: the ones :mod:`benchmarks.cold_start` picks most often).
3. **CPU samples per second** of both engines on the same data (ml-100k
   ``ua`` and synthetic 1M): ``MatrixFactorization(loss="bpr")`` against
   ``TripletNetwork(loss="bpr")`` at batch 64 (the notebook's) and 1024, and
   ``TwoTower`` (softmax, batch 1024), each on ``--threads`` threads, one
   epoch after a warm-up epoch.
4. **GPU** (when ``torch.cuda.is_available()``): synthetic 20M
   interactions, ``TwoTower`` (softmax, batch 8192) samples per second and
   the seconds to reach the precision@10 the numba engine's default reaches
   at its plateau on the same data; otherwise the section says it was
   skipped and why.

Run: ``python benchmarks/torch_engine.py [--threads 2] [--seeds 3] [--quick]``;
``--gpu-only [--device cuda]`` runs section 4 alone (it needs no MovieLens)
(``TRIPLETREC_DATA`` must point at the folder holding ``ml-100k.zip``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tripletrec import data as datasets  # noqa: E402
from tripletrec.data import cold_start_items, movielens, movielens_features  # noqa: E402
from tripletrec.metrics import evaluate  # noqa: E402
from tripletrec.models import MatrixFactorization  # noqa: E402

try:
    import torch

    from tripletrec.torch import TripletNetwork, TwoTower
except ImportError:  # the section headers say so
    torch = None

#: The hybrid MF's settings for the feature comparison (benchmarks/cold_start.py's most frequent pick).
HYBRID = dict(loss="warp", epochs=10, learning_rate=0.05, dim=64)
FEATURE_WEIGHT = 0.25


def ml100k():
    split = movielens("ml-100k", split="ua", min_rating=4)
    return split.train.binarize(), split.test.binarize()


def metrics_of(model, test, train):
    result = evaluate(model, test, train=train, k=10, metrics=("auc", "auc_all", "precision"))
    return result["auc"], result["auc_all"], result["precision@10"]


# ---------------------------------------------------------------- sections
def notebook_protocol(train, test, seeds, threads):
    print("\n== 1. notebook protocol: TripletNetwork() defaults, ml-100k ua, 10 epochs")
    print(f"{'seed':>4} {'epoch':>5} {'seconds':>8} {'auc_all':>8} {'auc':>7} {'p@10':>7}")
    finals = []
    for seed in range(seeds):
        rows = []

        def record(model, entry, rows=rows):
            rows.append((entry["epoch"], entry["seconds"], *metrics_of(model, test, train)))

        TripletNetwork(seed=seed, threads=threads, device="cpu").fit(train, callbacks=[record], progress=False)
        for epoch, seconds, auc, auc_all, precision in rows:
            print(f"{seed:>4} {epoch:>5} {seconds:>8.2f} {auc_all:>8.4f} {auc:>7.4f} {precision:>7.4f}")
        finals.append(rows[-1][3])
    print(f"auc_all after 10 epochs: mean {np.mean(finals):.4f} over seeds {list(range(seeds))} (notebook: 0.9154)")


def as_weighted(features, ids, weight):
    """``features`` rows aligned to ``ids``, values scaled (a scipy CSR, the same for both engines)."""
    import scipy.sparse as sp

    rows = features.ids.to_index(ids.ids)
    return sp.csr_matrix(features.matrix, dtype=np.float32)[rows] * np.float32(weight)


def feature_comparison(threads, seed):
    print("\n== 2. TwoTower with MovieLens features, next to the hybrid MatrixFactorization")
    everything = movielens("ml-100k", min_rating=4)
    user_features, item_features = movielens_features(
        everything, item=("genre", "year", "title"), user=("age", "gender", "occupation")
    )
    ua = movielens("ml-100k", split="ua", min_rating=4)
    train, test = ua.train.binarize(), ua.test.binarize()
    users = as_weighted(user_features, train.user_ids, FEATURE_WEIGHT)
    items = as_weighted(item_features, train.item_ids, FEATURE_WEIGHT)
    systems = {
        "TwoTower()": lambda: TwoTower(seed=seed, threads=threads, device="cpu"),
        "TwoTower(hidden=(128,))": lambda: TwoTower(hidden=(128,), epochs=8, seed=seed, threads=threads, device="cpu"),
        "MatrixFactorization (hybrid)": lambda: MatrixFactorization(**HYBRID, seed=seed, threads=threads),
    }
    print(f"{'system':<30} {'warm auc':>9} {'warm p@10':>9} {'cold auc (among cold)':>22} {'cold auc (among all)':>21}")
    data = everything.interactions.binarize()
    cold_train, cold_test = cold_start_items(data, 0.2, seed=seed)
    cold = (cold_test.item_counts() > 0) & (cold_train.item_counts() == 0)
    all_users = as_weighted(user_features, data.user_ids, FEATURE_WEIGHT)
    all_items = as_weighted(item_features, data.item_ids, FEATURE_WEIGHT)
    for name, make in systems.items():
        warm = make().fit(train, user_features=users, item_features=items, progress=False)
        warm_auc, _, warm_precision = metrics_of(warm, test, train)
        among_cold, among_all = cold_item_aucs(make(), cold_train, cold_test, cold, all_users, all_items)
        print(f"{name:<30} {warm_auc:>9.4f} {warm_precision:>9.4f} {among_cold:>22.4f} {among_all:>21.4f}")


def cold_item_aucs(model, train, test, cold, user_rows, item_rows):
    """AUC of the cold items' test pairs, scored from their features alone, among cold and among all items."""
    from cold_start import restrict  # benchmarks/cold_start.py: the same cut for both engines

    warm_items = ~cold
    all_users = np.ones(train.n_users, dtype=bool)
    warm_train = restrict(train, all_users, warm_items)
    model.fit(warm_train, user_features=user_rows, item_features=item_rows[warm_items], progress=False)
    vectors, biases = model.item_representations(item_rows[cold])
    item_vectors = np.zeros((train.n_items, vectors.shape[1]), dtype=np.float32)
    item_biases = np.zeros(train.n_items, dtype=np.float32)
    item_vectors[warm_items], item_biases[warm_items] = model.item_factors_, model.item_biases_
    item_vectors[cold], item_biases[cold] = vectors, biases
    scores = model.user_factors_ @ item_vectors.T + item_biases
    results = []
    for columns in (cold, np.ones(train.n_items, dtype=bool)):
        part = restrict(test, all_users, columns)
        excluded = restrict(train, all_users, columns)
        results.append(evaluate(scores[:, columns], part, train=excluded, metrics=("auc",))["auc"])
    return results


def samples_per_second(threads, quick):
    print(f"\n== 3. CPU samples per second, {threads} threads (one epoch after a warm-up epoch)")
    workloads = {"ml-100k ua": ml100k()[0]}
    if not quick:
        synthetic = datasets.synthetic(20_000, 10_000, 1_000_000, dim=32, popularity_exponent=1.0, seed=0)
        workloads["synthetic 1M"] = synthetic.interactions
    systems = {
        "numba MatrixFactorization(bpr)": lambda: MatrixFactorization(loss="bpr", dim=64, threads=threads, seed=0),
        "torch TripletNetwork(bpr, batch 64)": lambda: TripletNetwork(
            loss="bpr", dim=64, batch_size=64, threads=threads, seed=0, device="cpu"
        ),
        "torch TripletNetwork(bpr, batch 1024)": lambda: TripletNetwork(
            loss="bpr", dim=64, batch_size=1024, learning_rate=0.01, threads=threads, seed=0, device="cpu"
        ),
        "torch TwoTower(softmax, batch 1024)": lambda: TwoTower(
            dim=64, batch_size=1024, threads=threads, seed=0, device="cpu"
        ),
    }
    for workload, train in workloads.items():
        for name, make in systems.items():
            if quick and "batch 64" in name and workload != "ml-100k ua":
                continue
            make().set_params(epochs=1).fit(train, progress=False)
            started = time.perf_counter()
            make().set_params(epochs=1).fit(train, progress=False)
            seconds = time.perf_counter() - started
            print(f"{workload:<14} {name:<40} {len(train) / seconds:>14,.0f} samples/s")


def gpu_section(quick, device="cuda"):
    print("\n== 4. GPU")
    if device == "cuda" and (torch is None or not torch.cuda.is_available()):
        print("skipped: torch sees no CUDA device on this machine (torch.cuda.is_available() is False)")
        return
    print(f"device: {torch.cuda.get_device_name(0) if device == 'cuda' else device}")
    size = 1_000_000 if quick else 20_000_000
    users, items = (20_000, 10_000) if quick else (400_000, 100_000)
    data = datasets.synthetic(users, items, size, dim=32, popularity_exponent=1.0, seed=0).interactions
    from throughput import split_some_users

    train, test = split_some_users(data, 2000, 0.2, 0)
    numba_curve = []
    numba_model = MatrixFactorization(dim=64, epochs=10, seed=0)
    numba_model.fit(
        train,
        callbacks=[lambda model, entry: numba_curve.append((entry["seconds"], metrics_of(model, test, train)[2]))],
        progress=False,
    )
    plateau = max(precision for _, precision in numba_curve)
    numba_seconds = np.cumsum([seconds for seconds, _ in numba_curve])
    reached_numba = numba_seconds[int(np.argmax([precision >= plateau for _, precision in numba_curve]))]
    print(f"numba default on the CPU: plateau p@10 {plateau:.4f}, reached after {reached_numba:.1f} s")
    curve = []
    model = TwoTower(dim=64, batch_size=8192, learning_rate=0.003, epochs=10, seed=0, device=device)
    model.fit(
        train,
        callbacks=[lambda model, entry: curve.append((entry["seconds"], metrics_of(model, test, train)[2]))],
        progress=False,
    )
    elapsed = np.cumsum([seconds for seconds, _ in curve])
    print(f"TwoTower on {device}: {len(train) / min(seconds for seconds, _ in curve):,.0f} samples/s (best epoch)")
    for (_, precision), total in zip(curve, elapsed):
        print(f"  {total:>8.1f} s  p@10 {precision:.4f}")
    reached = [total for (_, precision), total in zip(curve, elapsed) if precision >= plateau]
    print(f"seconds to the numba plateau's p@10: {reached[0]:.1f}" if reached else "did not reach the numba plateau")
    # Raw step throughput of the pairwise network at the batch sizes a GPU wants.
    for batch_size in (8192, 65536):
        network = TripletNetwork(loss="bpr", dim=64, batch_size=batch_size, learning_rate=0.01, epochs=1, seed=0)
        network.set_params(device=device).fit(train, progress=False)
        started = time.perf_counter()
        network.fit(train, progress=False)
        seconds = time.perf_counter() - started
        print(f"TripletNetwork(bpr, batch {batch_size}) on {device}: {len(train) / seconds:,.0f} samples/s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="one seed, ml-100k only (a smoke run)")
    parser.add_argument(
        "--gpu-only",
        action="store_true",
        help="section 4 alone (synthetic data only: no MovieLens needed, e.g. on a lent GPU machine)",
    )
    parser.add_argument("--device", default="cuda", help="the device of section 4 (default cuda)")
    args = parser.parse_args(argv)
    if torch is None:
        print("torch is not installed (pip install 'tripletrec[torch]'): nothing to measure")
        return
    started = time.perf_counter()
    print(f"{platform.processor() or platform.machine()}; torch {torch.__version__}; threads {args.threads}")
    if args.gpu_only:
        gpu_section(args.quick, args.device)
        print(f"\n{time.perf_counter() - started:.0f} s")
        return
    train, test = ml100k()
    notebook_protocol(train, test, 1 if args.quick else args.seeds, args.threads)
    feature_comparison(args.threads, args.seed)
    samples_per_second(args.threads, args.quick)
    gpu_section(args.quick)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
