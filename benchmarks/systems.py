"""The systems of ``compare.py``, behind one interface, and how they are measured.

Every system (tripletrec, implicit, LightFM, and the baselines of
``baselines.py``) is an adapter with

* ``train(train, max_epochs, after_epoch)``: trains epoch by epoch, calling
  ``after_epoch()`` after each one and stopping when it returns True (a
  baseline has one "epoch": its fit);
* ``scorer()``: something with ``score_indices`` for :func:`tripletrec.evaluate`;
* ``serve(train, k)``: top-k for every user through the library's own batch
  call (``NotImplementedError`` where there is none).

:func:`learning_curve` trains one adapter and evaluates it after the epochs
of :data:`SCHEDULE`, counting training time only; :func:`tune` runs it for
each point of a grid on a validation split and picks the best point and
epoch by validation precision@10.
"""

from __future__ import annotations

import math
import time

import numpy as np
from baselines import make_baseline

#: Epochs after which a learning curve is evaluated (plus the last one):
#: dense early, sparser later, about even on the log-time axes of the plots.
SCHEDULE = frozenset([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100, 120, 150, 200])

#: The warp setting compare.py has used as tripletrec's named configuration
#: (the best seed-protocol setting of benchmarks/seed_protocol.py).
TRIPLETREC_WARP = dict(loss="warp", negatives="unseen", optimizer="adagrad", learning_rate=0.05, l2=0.5, bias_l2=0.01)

#: name -> (library, what it is). Order of tables and legends.
SYSTEMS = {
    "tripletrec default": ("tripletrec", "MatrixFactorization() with every library default (printed below)"),
    "tripletrec warp": (
        "tripletrec",
        "MatrixFactorization(" + ", ".join(f"{key}={value!r}" for key, value in TRIPLETREC_WARP.items()) + ")",
    ),
    "implicit bpr": ("implicit", "implicit.cpu.bpr.BayesianPersonalizedRanking (SGD)"),
    "implicit als": ("implicit", "implicit.cpu.als.AlternatingLeastSquares (conjugate gradient)"),
    "lightfm bpr": ("lightfm", "LightFM(loss='bpr') (Adagrad)"),
    "lightfm warp": ("lightfm", "LightFM(loss='warp') (Adagrad, max_sampled 10)"),
    "popularity": ("baseline", "items ranked by their number of training users"),
    "item-knn": ("baseline", "cosine item-item kNN, k neighbours per item"),
    "ease": ("baseline", "EASE (Steck 2019), closed form, ridge weight l2"),
}


class Stop(Exception):
    """Raised from a library's per-iteration callback to end its fit early."""


# ------------------------------------------------------------------ memory
def _status_mib(field) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    return _status_mib("VmRSS")


def reset_peak_rss() -> None:
    """Start VmHWM afresh at the current RSS (Linux >= 4.0), to see one phase's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass


def peak_rss_mib() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent
    # through fork and exec, so a worker would report the parent's peak.
    return _status_mib("VmHWM")


# ------------------------------------------------------------------ adapters
class _Factors:
    """Scores of ``user_factors @ item_factors.T`` for :func:`tripletrec.evaluate`."""

    def __init__(self, user_factors, item_factors):
        self.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)

    def score_indices(self, users):
        return self.user_factors[users] @ self.item_factors.T


class _Tripletrec:
    def __init__(self, system, params, dim, threads, seed):
        from tripletrec import MatrixFactorization

        # The default row sets only what every system is given (threads,
        # seed): its dimension and epochs are the library's own.
        settings = dict(threads=threads, seed=seed)
        if system != "tripletrec default":
            settings.update(dim=dim, **TRIPLETREC_WARP)
        self.model = MatrixFactorization(**settings, **params)

    def train(self, train, max_epochs, after_epoch):
        self.model.set_params(epochs=max_epochs).fit(
            train, callbacks=[lambda model, record: bool(after_epoch())], progress=False
        )

    def scorer(self):
        return self.model

    def serve(self, train, k):
        return self.model.recommend(train.user_ids.ids, k, exclude=train)


class _Implicit:
    def __init__(self, system, params, dim, threads, seed):
        if system == "implicit bpr":
            from implicit.cpu.bpr import BayesianPersonalizedRanking as model_class
        else:
            from implicit.cpu.als import AlternatingLeastSquares as model_class
        self.model = model_class(factors=dim, num_threads=threads, random_state=seed, **params)
        self.threads = threads

    def train(self, train, max_epochs, after_epoch):
        from threadpoolctl import threadpool_limits

        def callback(*progress):
            # Evaluation may use every BLAS thread; training uses one.
            with threadpool_limits(self.threads, "blas"):
                if after_epoch():
                    raise Stop

        # One fit call with implicit's per-iteration callback: each fit call
        # restarts from random_state, so fitting epoch by epoch would not
        # continue training.
        self.model.iterations = max_epochs
        with threadpool_limits(1, "blas"):  # implicit's own advice
            try:
                self.model.fit(train.matrix, show_progress=False, callback=callback)
            except Stop:
                pass

    def scorer(self):
        return _Factors(self.model.user_factors, self.model.item_factors)

    def serve(self, train, k):
        users = np.arange(train.n_users)
        return self.model.recommend(users, train.matrix, N=k, filter_already_liked_items=True)


class _LightFM:
    def __init__(self, system, params, dim, threads, seed):
        from lightfm import LightFM

        self.model = LightFM(no_components=dim, loss=system.split()[1], random_state=seed, **params)
        self.threads = threads

    def train(self, train, max_epochs, after_epoch):
        coo = train.matrix.tocoo()
        for _ in range(max_epochs):
            self.model.fit_partial(coo, epochs=1, num_threads=self.threads)
            if after_epoch():
                return

    def scorer(self):
        # The user bias does not change a user's ranking; the item bias does.
        users = np.hstack([self.model.user_embeddings, np.ones((self.model.user_embeddings.shape[0], 1))])
        items = np.hstack([self.model.item_embeddings, self.model.item_biases[:, None]])
        return _Factors(users, items)

    def serve(self, train, k):
        raise NotImplementedError("LightFM has no batch top-k recommend (predict scores given pairs)")


class _Baseline:
    def __init__(self, system, params, dim, threads, seed):
        self.model = make_baseline(system, params)

    def train(self, train, max_epochs, after_epoch):
        self.model.fit(train.matrix)
        after_epoch()

    def scorer(self):
        return self.model

    def serve(self, train, k):
        raise NotImplementedError("a baseline of this benchmark, no serving path")


def make(system, params, dim, threads, seed):
    """The adapter of ``system`` with the settings ``params`` (beyond dim, threads and seed)."""
    library = SYSTEMS[system][0]
    adapter = {"tripletrec": _Tripletrec, "implicit": _Implicit, "lightfm": _LightFM, "baseline": _Baseline}[library]
    return adapter(system, dict(params), dim, threads, seed)


def warm_up(system, params, threads):
    """Load compiled code (numba's cache, extension modules) outside the timings."""
    import scipy.sparse as sp

    from tripletrec import Interactions

    tiny = sp.random(200, 100, density=0.1, format="csr", dtype=np.float32, random_state=1)
    tiny.data[:] = 1.0
    make(system, params, 8, threads, 0).train(Interactions.from_scipy(tiny), 1, lambda: True)


# ------------------------------------------------------------------ measuring
def accuracy(scorer, test, train, metrics=("auc", "precision")):
    """{"auc": ..., "p@10": ..., ["auc_all": ...]} on ``test``, training items excluded from the ranking."""
    from tripletrec import evaluate

    means = evaluate(scorer, test, train=train, k=10, metrics=metrics).means
    return {("p@10" if name == "precision@10" else name): float(value) for name, value in means.items()}


def learning_curve(adapter, train, test, max_epochs, budget_s=math.inf, evaluate_every=True, patience=None):
    """Train ``adapter`` and measure it along the way.

    Parameters
    ----------
    adapter : an adapter of :func:`make`
    train, test : Interactions
    max_epochs : int
        Training stops after this many epochs, or at the first epoch that ends
        after ``budget_s`` cumulative training seconds.
    evaluate_every : bool
        Evaluate (auc, p@10 on ``test``) after each epoch of
        :data:`SCHEDULE`; otherwise only after the last epoch.
    patience : int, optional
        Stop once this many evaluations in a row have not raised the best
        p@10 (for tuning: a point past its peak need not run to
        ``max_epochs``).

    Returns
    -------
    dict
        ``curve``: a list of {"epoch", "seconds", "auc", "p@10"}, seconds
        being cumulative training time (evaluation excluded; the first epoch
        includes each library's per-fit setup, such as converting the
        input); ``epochs`` and ``seconds``: what was trained; ``stopped_by``:
        "epochs" or "budget"; ``peak_rss_mib``: the peak resident memory
        while training (evaluations excluded).
    """
    curve = []
    state = {"seconds": 0.0, "epoch": 0, "peak": 0.0, "stopped_by": "epochs"}

    def after_epoch():
        state["seconds"] += time.perf_counter() - state["resumed"]
        state["peak"] = max(state["peak"], peak_rss_mib())
        state["epoch"] += 1
        epoch = state["epoch"]
        done = epoch >= max_epochs or state["seconds"] >= budget_s
        if done and epoch < max_epochs:
            state["stopped_by"] = "budget"
        if done or (evaluate_every and epoch in SCHEDULE):
            curve.append({"epoch": epoch, "seconds": state["seconds"], **accuracy(adapter.scorer(), test, train)})
            if not done and patience and _past_peak(curve, patience):
                done, state["stopped_by"] = True, "patience"
        reset_peak_rss()
        state["resumed"] = time.perf_counter()
        return done

    reset_peak_rss()
    state["resumed"] = time.perf_counter()
    adapter.train(train, max_epochs, after_epoch)
    return {
        "curve": curve,
        "epochs": state["epoch"],
        "seconds": state["seconds"],
        "stopped_by": state["stopped_by"],
        "peak_rss_mib": state["peak"],
    }


def _past_peak(curve, patience):
    """Whether ``curve`` is past its peak p@10: ``patience`` evaluations without a better one since.

    Also required: at least twice the best epoch and 20 epochs more, since
    some curves (implicit's SGD BPR) dip for a few epochs before they rise.
    """
    if len(curve) <= patience:
        return False
    best_before = max(curve[:-patience], key=lambda point: point["p@10"])
    epoch = curve[-1]["epoch"]
    return (
        all(point["p@10"] <= best_before["p@10"] for point in curve[-patience:])
        and epoch >= 2 * best_before["epoch"]
        and epoch >= best_before["epoch"] + 20
    )


#: Evaluations without a better validation p@10 after which a tuning run stops.
PATIENCE = 4


def tune(system, grid, fit_train, validation, dim, threads, seed, max_epochs, budget_s, log=print):
    """Pick a grid point and epoch count on a validation split, by precision@10.

    Each point of ``grid`` (a list of parameter dicts) trains up to
    ``max_epochs`` epochs or ``budget_s`` training seconds on ``fit_train``,
    evaluated on ``validation`` along :data:`SCHEDULE`, and stops early once
    past its peak (:data:`PATIENCE` evaluations without improvement, see
    ``_past_peak``); the best (point,
    epoch) wins, ties going to the earlier point and fewer epochs.

    Returns
    -------
    dict
        ``grid``: each point's params, its best validation p@10 and epoch,
        and how its run ended; ``params``, ``epochs``, ``p@10``: the choice;
        ``plateaued``: False when the best epoch was the last one trained
        (still improving when the run ended), so more epochs may help.
    """
    rows, best = [], None
    for params in grid:
        adapter = make(system, params, dim, threads, seed)
        result = learning_curve(adapter, fit_train, validation, max_epochs, budget_s, patience=PATIENCE)
        top = max(result["curve"], key=lambda point: (point["p@10"], -point["epoch"]))
        row = {
            "params": params,
            "p@10": top["p@10"],
            "auc": top["auc"],
            "epoch": top["epoch"],
            "trained_epochs": result["epochs"],
            "stopped_by": result["stopped_by"],
            "plateaued": top["epoch"] < result["epochs"],
        }
        rows.append(row)
        log(
            f"    {system:<18} {_params_text(params):<48} val p@10 {top['p@10']:.4f} at epoch {top['epoch']:>3}"
            f" of {result['epochs']} ({result['seconds']:.1f} s training)"
        )
        if best is None or row["p@10"] > best["p@10"]:
            best = row
    return {
        "grid": rows,
        "params": best["params"],
        "epochs": best["epoch"],
        "p@10": best["p@10"],
        "plateaued": best["plateaued"],
    }


def _params_text(params):
    return ", ".join(f"{key}={value}" for key, value in params.items()) or "(no parameters)"
