"""What compare.py measures: the tuning grids, the run plans and the jobs of a worker process.

Each job below runs in a process of its own (see ``compare.run_worker``), for
one system, and returns a JSON-able dict.

* :func:`tune_job`: a grid on a validation split carved from a training part
  (MovieLens ``ua``'s, or the 5M synthetic training part), never a test split.
* :func:`movielens_job`: :func:`tune_job` on ``ua``, then the chosen settings
  trained on the training part of each reported split: ``ub`` with a learning curve on its test part, then
  ``u1`` .. ``u5`` (final metrics only, for a mean and spread).
* :func:`synthetic_job`: the chosen settings on a synthetic training matrix,
  with a learning curve on the held-out pairs, under a training-time budget;
  optionally top-10 serving for every user afterwards.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
from systems import SYSTEMS, accuracy, learning_curve, make, peak_rss_mib, reset_peak_rss, rss_mib, tune, warm_up

#: Dimension of every factor model but the tripletrec default row (which
#: keeps the library's own).
DIM = 64


def _grid(**axes):
    """Every combination of the axes, as a list of dicts."""
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*axes.values())]


#: MovieLens grids, tuned on a validation fifth of ``ua``'s training pairs:
#: system -> (grid, most epochs). The epoch count is chosen on the same
#: validation curve (at the epochs of systems.SCHEDULE); a point stops
#: early once past its peak (systems.PATIENCE), so generous most-epochs
#: cost little where a point peaks early.
MOVIELENS_GRIDS = {
    "tripletrec warp": ([{}], 60),
    "implicit bpr": (_grid(learning_rate=[0.003, 0.01, 0.03, 0.1], regularization=[0.0001, 0.001, 0.01]), 200),
    "implicit als": (_grid(regularization=[1.0, 10.0, 100.0, 1000.0], alpha=[0.25, 1.0, 5.0, 20.0]), 30),
    # LightFM's own regularization (item_alpha, user_alpha) is left at 0:
    # in a trial of WARP (rates 0.01, 0.05, 0.1; 150 epochs), 1e-5 changed
    # the best validation p@10 by at most 0.002, about run-to-run noise (its
    # Hogwild threads make runs differ), and each axis multiplies the
    # longest runs of the whole benchmark.
    "lightfm bpr": (_grid(learning_rate=[0.01, 0.025, 0.05, 0.1]), 200),
    "lightfm warp": (_grid(learning_rate=[0.01, 0.025, 0.05, 0.1]), 200),
    "popularity": ([{}], 1),
    "item-knn": (_grid(k=[50, 100, 200, 400]), 1),
    "ease": (_grid(l2=[50.0, 100.0, 200.0, 400.0, 800.0, 1600.0]), 1),
}

#: Quick (smoke) run: one point per grid, few epochs.
QUICK_MOVIELENS_GRIDS = {
    "tripletrec warp": ([{}], 20),
    "implicit bpr": ([{"learning_rate": 0.05, "regularization": 0.01}], 40),
    "implicit als": ([{"regularization": 1.0, "alpha": 5.0}], 10),
    "lightfm bpr": ([{"learning_rate": 0.05}], 10),
    "lightfm warp": ([{"learning_rate": 0.05}], 10),
    "popularity": ([{}], 1),
    "item-knn": ([{"k": 200}], 1),
    "ease": ([{"l2": 400.0}], 1),
}


def synthetic_grid(system, movielens_choice, quick=False):
    """The reduced grid of ``system`` at the synthetic tuning size.

    The learning rate (or, for ALS, the regularization: a tenth, once and
    ten times the MovieLens choice, as it scales with the number of
    interactions) is searched again; the other axis keeps the MovieLens
    value. Baselines other than
    popularity do not run on synthetic data (their item x item matrices do
    not fit: 50,000^2 floats).
    """
    chosen = dict(movielens_choice or {})
    if quick or system in ("tripletrec warp", "popularity"):
        return [chosen] if system != "tripletrec warp" else [{}]
    if system == "implicit bpr":
        return [{**chosen, "learning_rate": rate} for rate in (0.01, 0.05, 0.1)]
    if system == "implicit als":
        return [{**chosen, "regularization": chosen["regularization"] * factor} for factor in (0.1, 1.0, 10.0)]
    if system in ("lightfm bpr", "lightfm warp"):
        # LightFM trains a few epochs in these budgets: its default rate
        # and twice it, rather than the small rates long MovieLens runs favour.
        return [{**chosen, "learning_rate": rate} for rate in (0.05, 0.1)]
    raise ValueError(f"{system} has no synthetic grid")


#: Systems run on the synthetic data (EASE and item-kNN need dense item x
#: item matrices) and those timed for serving (a batch top-k call exists).
SYNTHETIC_SYSTEMS = tuple(name for name in SYSTEMS if name not in ("item-knn", "ease"))
SERVE_SYSTEMS = ("tripletrec default", "tripletrec warp", "implicit bpr", "implicit als")


@dataclass
class Plan:
    """One run's sizes and budgets (full or ``--quick``)."""

    quick: bool
    movielens_grids: dict
    report_splits: tuple
    #: interactions -> (users, items) of the synthetic curve workloads; the
    #: first is also where the reduced grids are tuned.
    synthetic_sizes: dict
    #: training seconds allowed to one grid point at the tuning size, and
    #: the most epochs.
    tune_budget_s: float
    tune_max_epochs: int
    #: interactions -> training seconds allowed to one curve run.
    curve_budget_s: dict = field(default_factory=dict)


FULL_PLAN = Plan(
    quick=False,
    movielens_grids=MOVIELENS_GRIDS,
    report_splits=("ub", "u1", "u2", "u3", "u4", "u5"),
    synthetic_sizes={5_000_000: (100_000, 50_000), 20_000_000: (400_000, 100_000)},
    tune_budget_s=30.0,
    tune_max_epochs=100,
    curve_budget_s={5_000_000: 60.0, 20_000_000: 120.0},
)
QUICK_PLAN = Plan(
    quick=True,
    movielens_grids=QUICK_MOVIELENS_GRIDS,
    report_splits=("ub", "u1", "u2"),
    synthetic_sizes={500_000: (10_000, 5_000)},
    tune_budget_s=3.0,
    tune_max_epochs=20,
    curve_budget_s={500_000: 6.0},
)


def default_epochs():
    """The epochs of tripletrec's default MatrixFactorization(), read at run time."""
    from tripletrec import MatrixFactorization

    return int(MatrixFactorization().get_params()["epochs"])


# ====================================================================== data
def hold_out(interactions, share, seed, n_users=None, exclude_users=None):
    """(kept, held out): a ``share`` of the pairs of ``n_users`` random users (all users when None).

    Users in ``exclude_users`` (a boolean mask) are never chosen, so a
    validation split can avoid the test users.
    """
    random = np.random.default_rng(seed)
    if n_users is None:
        chosen = np.ones(interactions.n_users, dtype=bool)
    else:
        allowed = np.flatnonzero(~exclude_users) if exclude_users is not None else np.arange(interactions.n_users)
        chosen = np.zeros(interactions.n_users, dtype=bool)
        chosen[random.choice(allowed, size=n_users, replace=False)] = True
    held_out = chosen[interactions.user_index()] & (random.random(len(interactions)) < share)
    return interactions.select(~held_out), interactions.select(held_out)


def movielens_validation(seed=0):
    """``ua``'s training part split into (fit, validation): a random fifth of each user's pairs held out."""
    from tripletrec import data as datasets

    train = datasets.movielens("ml-100k", split="ua", min_rating=4).train.binarize()
    return hold_out(train, 0.2, seed)


def save_matrix(path, interactions):
    matrix = interactions.matrix
    np.savez(path, indptr=matrix.indptr, indices=matrix.indices, shape=np.array(matrix.shape))


def load_matrix(path):
    import scipy.sparse as sp

    from tripletrec import Interactions

    arrays = np.load(path)
    matrix = sp.csr_matrix(
        (np.ones(len(arrays["indices"]), dtype=np.float32), arrays["indices"], arrays["indptr"]),
        shape=tuple(arrays["shape"]),
    )
    return Interactions.from_scipy(matrix)


def make_synthetic(directory, size, users, items, with_validation, seed=0):
    """Write the synthetic workload of ``size`` pairs; returns {part: path}.

    ``train``/``test``: for 2,000 random users a fifth of their pairs held out
    (the test pairs). With ``with_validation``, ``fit``/``valid``: the same
    from ``train`` for 2,000 other users, for tuning.
    """
    from tripletrec import data as datasets

    interactions = datasets.synthetic(users, items, size, 32, 1.0, seed).interactions.binarize()
    train, test = hold_out(interactions, 0.2, seed, n_users=2000)
    parts = {"train": train, "test": test}
    if with_validation:
        test_users = np.zeros(train.n_users, dtype=bool)
        test_users[np.unique(test.user_index())] = True
        parts["fit"], parts["valid"] = hold_out(train, 0.2, seed + 1, n_users=2000, exclude_users=test_users)
    paths = {}
    for part, value in parts.items():
        paths[part] = f"{directory}/synthetic-{size}-{part}.npz"
        save_matrix(paths[part], value)
    return paths


# ====================================================================== jobs
def tune_job(spec):
    """Tune one system: on MovieLens ``ua`` (``spec["data"] == "movielens"``) or synthetic fit/valid files."""
    if spec["data"] == "movielens":
        fit, validation = movielens_validation()
    else:
        fit, validation = load_matrix(spec["data"]["fit"]), load_matrix(spec["data"]["valid"])
    warm_up(spec["system"], spec["grid"][0], spec["threads"])
    result = tune(
        spec["system"],
        spec["grid"],
        fit,
        validation,
        spec.get("dim", DIM),
        spec["threads"],
        spec["seed"],
        spec["max_epochs"],
        spec.get("budget_s") or math.inf,
        log=lambda line: print(line, flush=True),
    )
    result["validation"] = {"fit_pairs": len(fit), "validation_pairs": len(validation)}
    return result


def movielens_job(spec):
    """Tune on ``ua``'s validation part (when ``spec`` has a grid), then report the chosen settings.

    The chosen settings train on each reported split: a learning curve on
    the first, final metrics on all. Tuning and reporting share the process
    (one per system) to save interpreter and library start-ups.
    """
    from tripletrec import data as datasets

    system = spec["system"]
    if spec.get("grid"):
        choice = tune_job({**spec, "data": "movielens"})
    else:
        choice = {"params": {}, "epochs": spec["epochs"], "tuned": False}
    params, epochs = choice["params"], choice["epochs"]
    warm_up(system, params, spec["threads"])
    splits = {}
    for position, split in enumerate(spec["splits"]):
        data = datasets.movielens("ml-100k", split=split, min_rating=4)
        train, test = data.train.binarize(), data.test
        adapter = make(system, params, spec.get("dim", DIM), spec["threads"], spec["seed"])
        ready = rss_mib()
        run = learning_curve(adapter, train, test, epochs, evaluate_every=position == 0)
        final = accuracy(adapter.scorer(), test, train, metrics=("auc", "auc_all", "precision"))
        splits[split] = {**run, "final": final, "pairs": len(train), "ready_rss_mib": ready}
        if position > 0:
            del splits[split]["curve"]  # one evaluation, the final one
    return {"choice": choice, "splits": splits}


def synthetic_job(spec):
    """Chosen settings on a synthetic training matrix, under a training-time budget."""
    train, test = load_matrix(spec["data"]["train"]), load_matrix(spec["data"]["test"])
    system, params = spec["system"], spec["params"]
    warm_up(system, params, spec["threads"])
    adapter = make(system, params, spec.get("dim", DIM), spec["threads"], spec["seed"])
    ready = rss_mib()
    run = learning_curve(adapter, train, test, spec["epochs"], spec["budget_s"])
    run["final"] = accuracy(adapter.scorer(), test, train, metrics=("auc", "auc_all", "precision"))
    run["ready_rss_mib"] = ready
    run["pairs"] = len(train)
    run["params"] = params
    if spec.get("serve"):
        reset_peak_rss()
        try:
            started = time.perf_counter()
            ids, _ = adapter.serve(train, 10)
            run["serve_seconds"] = time.perf_counter() - started
            run["serve_users"] = int(len(ids))
            run["serve_peak_rss_mib"] = peak_rss_mib()
        except NotImplementedError as error:
            run["serve_skipped"] = str(error)
    return run


JOBS = {"tune": tune_job, "movielens": movielens_job, "synthetic": synthetic_job}
