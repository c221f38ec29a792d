"""Cold start on MovieLens 100k: tripletrec's hybrid model against LightFM, same features, one run.

Both systems get the same feature matrices (built by
:func:`tripletrec.data.movielens_features`): items: genres, release year by
decade and title words (words in at least two titles); users: age group,
gender and occupation (``--user-parts`` to change). Identity columns are on
for both (LightFM's default in its ``Dataset``): tripletrec adds them
itself; LightFM is given ``[features | identity]``, the same matrix. No row
normalisation for either.

Scenarios (positives: ratings >= 4):

1. **warm**: the official ``ua`` split. AUC (training items excluded) and
   precision@10 on ``ua.test``. Pure matrix factorisation (no features)
   runs beside the hybrids: features must not cost warm accuracy.
2. **cold items**: 20% of the items held out whole
   (:func:`tripletrec.data.cold_start_items`); the models are trained on
   the other items only and score the held-out ones from their feature
   rows alone (LightFM: ``get_item_representations`` of rows without an
   identity column). Ranked among the cold items (LightFM paper's
   protocol) and, separately, among all items.
3. **cold users**: 20% of the users held out whole
   (:func:`tripletrec.data.cold_start_users`), scored from their user
   features alone, ranked among all items.

Every metric comes from :func:`tripletrec.metrics.evaluate` on score
matrices ``user_vectors @ item_vectors.T + item_biases`` built from each
system's representations, so the two are measured by the same code. A
popularity row (training counts; cold items all tie) and a random row give
the floor.

Systems: tripletrec without features (``mf``), the hybrid, the hybrid with
``identity_dropout=0.3`` (items' identities left out of 30% of the steps,
so that features learn to stand for an item alone), and LightFM.

Tuning: each system picks, per scenario, the best of the same small grid --
loss in {bpr, warp}, epochs in {10, 30}, learning rate in {0.02, 0.05,
0.15} (LightFM's default 0.05 and tripletrec's 0.15 both in it), and the
weight of the given feature columns in {1, 0.25} (both matrices scaled
alike for every system, identity columns keeping weight 1: on ml-100k the
lighter features ranked cold items better for both libraries), dim 64,
each library's other defaults -- by AUC on a validation part carved from
the training part the same way as the test part (a random 10% of the
training pairs for warm; 20% of the training items / users for cold), then
is refitted on the whole training part with that setting ``--repeats``
times with different seeds (training on two threads is not
deterministic); the tables give the mean over the repeats and the JSON
output each repeat's figures.

Speed: training samples per second (interactions x epochs / wall seconds
of ``fit``, after a warm-up fit that loads compiled code) on the ``ua``
training data with all features, bpr and warp (both searching at most 10
negatives per positive, LightFM's default ``max_sampled``), 10 epochs,
learning rate 0.05, both on ``--threads`` threads; tripletrec also without
features.

LightFM is installed by ``bash benchmarks/install_lightfm.sh``; without it
only tripletrec's rows are printed.

Run: ``python benchmarks/cold_start.py [--threads 2] [--seed 0] [--quick] [--json]``
(``TRIPLETREC_DATA`` must point at the folder holding ``ml-100k.zip``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tripletrec.data import (
    IdMap,
    Interactions,
    cold_start_items,
    cold_start_users,
    movielens,
    movielens_features,
    random_split,
)
from tripletrec.metrics import evaluate
from tripletrec.models import MatrixFactorization

DIM = 64
METRICS = ["auc", "precision"]
GRID = {
    "loss": ("bpr", "warp"),
    "epochs": (10, 30),
    "learning_rate": (0.02, 0.05, 0.15),
    "feature_weight": (1.0, 0.25),
}
QUICK_GRID = {"loss": ("warp",), "epochs": (10,), "learning_rate": (0.05,), "feature_weight": (0.25,)}
#: Settings a system always gets on top of the grid's.
SYSTEM_SETTINGS = {"tripletrec hybrid + identity dropout": {"identity_dropout": 0.3}}


@dataclass
class Representation:
    """What a fitted system scores with: known rows' vectors and a way to represent new rows."""

    user_vectors: np.ndarray
    item_vectors: np.ndarray
    item_biases: np.ndarray
    new_users: object  # callable(given feature rows, csr) -> vectors
    new_items: object  # callable(given feature rows, csr) -> (vectors, biases)


# ------------------------------------------------------------------ systems
def fit_tripletrec(train, user_given, item_given, config, threads, seed, features=True):
    """Fit tripletrec (hybrid unless ``features`` is False); return its Representation."""
    model = MatrixFactorization(**{"dim": DIM, "threads": threads, "seed": seed, **config})
    if features:
        model.fit(train, user_features=user_given, item_features=item_given, progress=False)
    else:
        model.fit(train, progress=False)

    def new_users(rows):
        return model.user_representations(rows)

    def new_items(rows):
        return model.item_representations(rows)

    return Representation(model.user_factors_, model.item_factors_, model.item_biases_, new_users, new_items)


def with_identity(given):
    return sp.hstack([given, sp.identity(given.shape[0], format="csr", dtype=np.float32)], format="csr")


def fit_lightfm(train, user_given, item_given, config, threads, seed):
    """Fit LightFM on ``[features | identity]``; return its Representation."""
    from lightfm import LightFM

    model = LightFM(no_components=DIM, loss=config["loss"], learning_rate=config["learning_rate"], random_state=seed)
    user_matrix, item_matrix = with_identity(user_given), with_identity(item_given)
    model.fit(
        sp.coo_matrix(train.matrix),
        user_features=user_matrix,
        item_features=item_matrix,
        epochs=config["epochs"],
        num_threads=threads,
    )
    _, user_vectors = model.get_user_representations(user_matrix)
    item_biases, item_vectors = model.get_item_representations(item_matrix)

    def padded(rows, width):
        # New rows have no identity column: zeros where the known rows' identities are.
        return sp.hstack([rows, sp.csr_matrix((rows.shape[0], width))], format="csr")

    def new_users(rows):
        return model.get_user_representations(padded(rows, user_given.shape[0]))[1]

    def new_items(rows):
        biases, vectors = model.get_item_representations(padded(rows, item_given.shape[0]))
        return vectors, biases

    return Representation(user_vectors, item_vectors, item_biases, new_users, new_items)


def lightfm_available():
    try:
        import lightfm  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------- scoring
def scores_for(rep, train, test, cold_users, cold_items, user_given, item_given):
    """Score matrix over ``test``'s users x items: known rows from the fit, cold ones from features."""
    n_users, n_items = test.shape
    user_vectors = np.zeros((n_users, rep.user_vectors.shape[1]), dtype=np.float64)
    warm_users = np.flatnonzero(~cold_users)
    user_vectors[warm_users] = rep.user_vectors[: len(warm_users)]
    if cold_users.any():
        user_vectors[cold_users] = rep.new_users(user_given[cold_users])
    item_vectors = np.zeros((n_items, rep.item_vectors.shape[1]), dtype=np.float64)
    item_biases = np.zeros(n_items, dtype=np.float64)
    warm_items = np.flatnonzero(~cold_items)
    item_vectors[warm_items] = rep.item_vectors[: len(warm_items)]
    item_biases[warm_items] = rep.item_biases[: len(warm_items)]
    if cold_items.any():
        vectors, biases = rep.new_items(item_given[cold_items])
        item_vectors[cold_items], item_biases[cold_items] = vectors, biases
    return (user_vectors @ item_vectors.T + item_biases).astype(np.float32)


def restrict(data, users, items):
    """``data`` on the given user and item rows (bool masks), id maps cut to them."""
    user_pos = np.cumsum(users) - 1
    item_pos = np.cumsum(items) - 1
    u, i, w = data.to_coo()
    keep = users[u] & items[i]
    return Interactions.from_indices(
        user_pos[u[keep]],
        item_pos[i[keep]],
        w[keep],
        shape=(int(users.sum()), int(items.sum())),
        user_ids=IdMap(data.user_ids.ids[users]),
        item_ids=IdMap(data.item_ids.ids[items]),
    )


def measure(scores, test, train, columns):
    """AUC and precision@10 of ``scores`` on ``test``, restricted to ``columns`` (bool mask)."""
    all_users = np.ones(test.n_users, dtype=bool)
    part = restrict(test, all_users, columns)
    excluded = None if train is None else restrict(train, all_users, columns)
    result = evaluate(scores[:, columns], part, train=excluded, k=10, metrics=METRICS)
    return {"auc": result["auc"], "p@10": result["precision@10"]}


# ---------------------------------------------------------------- scenarios
@dataclass
class Scenario:
    """A train/test cut: masks of the cold users and items (all False for warm)."""

    name: str
    train: Interactions
    test: Interactions
    cold_users: np.ndarray
    cold_items: np.ndarray
    rank_among: dict  # label -> bool mask of the candidate items


def cut(name, data, kind, seed):
    """Split ``data`` (warm: random 10%; cold items / users: 20% held out whole)."""
    none_users = np.zeros(data.n_users, dtype=bool)
    none_items = np.zeros(data.n_items, dtype=bool)
    if kind == "warm":
        train, test = random_split(data, 0.1, seed=seed)
        return Scenario(name, train, test, none_users, none_items, {"all": ~none_items})
    if kind == "items":
        train, test = cold_start_items(data, 0.2, seed=seed)
        cold = (test.item_counts() > 0) & (train.item_counts() == 0)
        return Scenario(name, train, test, none_users, cold, {"cold": cold, "all": ~none_items})
    train, test = cold_start_users(data, 0.2, seed=seed)
    cold = (test.user_counts() > 0) & (train.user_counts() == 0)
    return Scenario(name, train, test, cold, none_items, {"all": ~none_items})


def run_system(system, scenario, user_given, item_given, config, threads, seed):
    """Fit ``system`` on the scenario's warm part; metrics per candidate set."""
    config = {**config, **SYSTEM_SETTINGS.get(system, {})}
    # The same scaling of both feature matrices for every system (identity columns keep weight 1).
    weight = np.float32(config.pop("feature_weight", 1.0))
    user_given, item_given = user_given * weight, item_given * weight
    warm_train = restrict(scenario.train, ~scenario.cold_users, ~scenario.cold_items)
    fit_user = user_given[~scenario.cold_users]
    fit_item = item_given[~scenario.cold_items]
    if system == "lightfm":
        rep = fit_lightfm(warm_train, fit_user, fit_item, config, threads, seed)
    else:
        rep = fit_tripletrec(
            warm_train, fit_user, fit_item, config, threads, seed, features=system.startswith("tripletrec hybrid")
        )
        if system == "tripletrec mf":
            # No features: cold rows get nothing to go by (zero vectors).
            dim = rep.user_vectors.shape[1]
            rep.new_users = lambda rows: np.zeros((rows.shape[0], dim))
            rep.new_items = lambda rows: (np.zeros((rows.shape[0], dim)), np.zeros(rows.shape[0]))
    scores = scores_for(
        rep, scenario.train, scenario.test, scenario.cold_users, scenario.cold_items, user_given, item_given
    )
    return {
        label: measure(scores, scenario.test, scenario.train, columns) for label, columns in scenario.rank_among.items()
    }


def baselines(scenario, seed):
    counts = scenario.train.item_counts().astype(np.float32)
    popularity = np.broadcast_to(counts, scenario.test.shape).copy()
    random_scores = np.random.default_rng(seed).random(scenario.test.shape, dtype=np.float32)
    return {
        name: {
            label: measure(scores, scenario.test, scenario.train, columns)
            for label, columns in scenario.rank_among.items()
        }
        for name, scores in (("popularity", popularity), ("random", random_scores))
    }


def tune(system, scenario_name, data, kind, user_given, item_given, grid, threads, seed):
    """The grid setting with the best validation AUC, on a part carved from ``data`` like the test."""
    validation = cut(scenario_name, data, kind, seed + 1)
    best, best_auc = None, -1.0
    if system == "tripletrec mf":
        grid = {name: values for name, values in grid.items() if name != "feature_weight"}
    for values in itertools.product(*grid.values()):
        config = dict(zip(grid, values))
        result = run_system(system, validation, user_given, item_given, config, threads, seed)
        auc = next(iter(result.values()))["auc"]
        if auc > best_auc:
            best, best_auc = config, auc
    return best, best_auc


# ------------------------------------------------------------------- speed
def samples_per_second(system, train, user_given, item_given, loss, threads, seed, features=True, epochs=10):
    config = {"loss": loss, "epochs": epochs, "learning_rate": 0.05}
    if system != "lightfm" and loss == "warp":
        # LightFM's default: both then search at most 10 negatives per positive.
        config["max_sampled"] = 10
    fit = (
        (lambda: fit_lightfm(train, user_given, item_given, config, threads, seed))
        if system == "lightfm"
        else (lambda: fit_tripletrec(train, user_given, item_given, config, threads, seed, features=features))
    )
    warm_up = dict(config, epochs=1)
    if system == "lightfm":
        fit_lightfm(train, user_given, item_given, warm_up, threads, seed)
    else:
        fit_tripletrec(train, user_given, item_given, warm_up, threads, seed, features=features)
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        fit()
        best = min(best, time.perf_counter() - started)
    return len(train) * epochs / best


# -------------------------------------------------------------------- main
def as_matrix(features, ids):
    """The rows of ``features`` aligned to ``ids`` as CSR float32."""
    rows = features.ids.to_index(ids.ids)
    return sp.csr_matrix(features.matrix, dtype=np.float32)[rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="one grid point, fewer figures (a smoke run)")
    parser.add_argument("--repeats", type=int, default=3, help="final fits per system and scenario (seeds)")
    parser.add_argument("--user-parts", default="age,gender,occupation")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    args = parser.parse_args(argv)
    grid = QUICK_GRID if args.quick else GRID
    started = time.perf_counter()

    ua = movielens("ml-100k", split="ua", min_rating=4)
    everything = movielens("ml-100k", min_rating=4)
    user_features, item_features = movielens_features(
        everything, item=("genre", "year", "title"), user=tuple(args.user_parts.split(","))
    )
    data = everything.interactions.binarize()
    user_given = as_matrix(user_features, data.user_ids)
    item_given = as_matrix(item_features, data.item_ids)
    systems = ["tripletrec mf", "tripletrec hybrid", "tripletrec hybrid + identity dropout"]
    systems += ["lightfm"] if lightfm_available() else []

    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, threads {args.threads}"
    }
    results["features"] = {"user columns": user_given.shape[1], "item columns": item_given.shape[1]}
    scenarios = {
        "warm (ua)": (
            "warm",
            Scenario(
                "warm (ua)",
                ua.train.binarize(),
                ua.test.binarize(),
                np.zeros(data.n_users, bool),
                np.zeros(data.n_items, bool),
                {"all": np.ones(data.n_items, bool)},
            ),
        ),
        "cold items": ("items", cut("cold items", data, "items", args.seed)),
        "cold users": ("users", cut("cold users", data, "users", args.seed)),
    }
    for name, (kind, scenario) in scenarios.items():
        rows = {}
        for system in systems:
            config, validation_auc = tune(
                system, name, scenario.train, kind, user_given, item_given, grid, args.threads, args.seed
            )
            repeats = [
                run_system(system, scenario, user_given, item_given, config, args.threads, args.seed + repeat)
                for repeat in range(args.repeats)
            ]
            rows[system] = {"setting": config, "validation auc": validation_auc, **mean_of(repeats), "repeats": repeats}
        rows.update(baselines(scenario, args.seed))
        results[name] = rows
        print_scenario(name, rows, file=sys.stderr if args.json else sys.stdout)

    speed = {}
    train = ua.train.binarize()
    for loss in ("bpr", "warp"):
        speed[f"tripletrec hybrid {loss}"] = samples_per_second(
            "tripletrec", train, user_given, item_given, loss, args.threads, args.seed
        )
        speed[f"tripletrec mf {loss}"] = samples_per_second(
            "tripletrec", train, user_given, item_given, loss, args.threads, args.seed, features=False
        )
        if lightfm_available():
            speed[f"lightfm {loss}"] = samples_per_second(
                "lightfm", train, user_given, item_given, loss, args.threads, args.seed
            )
    results["samples per second"] = speed
    results["seconds"] = time.perf_counter() - started
    results["settings"] = {"grid": grid, "repeats": args.repeats, "seed": args.seed, "dim": DIM}
    if args.json:
        print(json.dumps(results, indent=2, default=float))
    else:
        print_speed(speed)
        print(
            f"\n{results['machine']}; features: {user_given.shape[1]} user columns, {item_given.shape[1]} item columns; {results['seconds']:.0f} s"
        )


def mean_of(repeats):
    """The metrics averaged over repeated fits."""
    return {
        label: {metric: float(np.mean([run[label][metric] for run in repeats])) for metric in repeats[0][label]}
        for label in repeats[0]
    }


def print_scenario(name, rows, file):
    labels = [label for label in next(iter(rows.values())) if label not in ("setting", "validation auc", "repeats")]
    print(f"\n{name}", file=file)
    header = (
        f"{'system':<38}"
        + "".join(f"{label + ' auc':>12}{label + ' p@10':>12}" for label in labels)
        + "  setting (validation auc)"
    )
    print(header, file=file)
    for system, row in rows.items():
        cells = "".join(f"{row[label]['auc']:>12.4f}{row[label]['p@10']:>12.4f}" for label in labels)
        setting = ""
        if "setting" in row:
            setting = (
                "  "
                + ", ".join(f"{key}={value}" for key, value in row["setting"].items())
                + f" ({row['validation auc']:.4f})"
            )
        print(f"{system:<38}{cells}{setting}", file=file)


def print_speed(speed):
    print("\ntraining samples per second (ua train, all features, 10 epochs)")
    for loss in ("bpr", "warp"):
        ours = speed[f"tripletrec hybrid {loss}"]
        line = f"{loss:<5} tripletrec hybrid {ours:>12,.0f}   without features {speed[f'tripletrec mf {loss}']:>12,.0f}"
        if f"lightfm {loss}" in speed:
            theirs = speed[f"lightfm {loss}"]
            line += f"   lightfm {theirs:>12,.0f}   ratio {ours / theirs:.1f}x"
        print(line)


if __name__ == "__main__":
    main()
