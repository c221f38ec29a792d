"""tripletrec against the libraries people would pick instead, on identical inputs.

Runs tripletrec and, where importable, implicit (BPR; ALS as a reference
point) and LightFM (BPR, WARP), each system in a process of its own with the
same thread count, and writes ``docs/benchmarks.md``, its plots under
``docs/img/`` and the summary block of ``README.md``. Every figure on the
page is computed here, in the run that writes it.

Workloads:

1. **Seed protocol**: MovieLens 100k ``ua``, ratings >= 4 as positives
   (weights set to 1 for every system), dim 100, 30 epochs. After each
   epoch: test auc_all (seed notebook's definition: training items count
   as negatives), precision@10 (training items excluded) and the cumulative
   training seconds (evaluation not counted). Plot: auc_all against training
   time, log time axis.
2. **Scale**: synthetic data (:func:`tripletrec.data.synthetic`) of 1M,
   5M and 20M interactions, dim 64: seconds per epoch (wall time of one
   ``fit`` call of several epochs, divided by the epochs, after a small
   warm-up fit that loads compiled code), samples per second (interactions
   times epochs over that wall time) and the peak resident memory of the
   process (``ru_maxrss``), with the memory of the loaded data alone beside
   it. Plot: samples per second against dataset size.
3. **Serving**: top-10 for every user of the 5M model (1M with
   ``--quick``), training items excluded, through each library's own batch
   recommend call.

Every system is used with its library defaults except the dimension,
epochs, threads and seed; the settings are printed on the page. BLAS is
limited to one thread while implicit trains (implicit's own advice; its
training is threaded by itself) and left at ``--threads`` for serving.

Usage::

    python benchmarks/compare.py            # full run: < 30 min on a 2-core laptop-class machine
    python benchmarks/compare.py --quick    # 1M only, 1 epoch for scale: < 5 min
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "RESULT "

#: name -> (library, what it is); the order of tables and legends.
SYSTEMS = {
    "tripletrec bpr": ("tripletrec", "MatrixFactorization(loss='bpr'), defaults (row-wise Adagrad)"),
    "tripletrec warp": (
        "tripletrec",
        "MatrixFactorization(loss='warp', negatives='unseen', optimizer='adagrad', "
        "learning_rate=0.05, l2=0.5, bias_l2=0.01): the best seed-protocol setting",
    ),
    "implicit bpr": ("implicit", "implicit.cpu.bpr.BayesianPersonalizedRanking, defaults (SGD, lr 0.01, reg 0.01)"),
    "implicit als": ("implicit", "implicit.cpu.als.AlternatingLeastSquares, defaults (reg 0.01, alpha 1)"),
    "lightfm bpr": ("lightfm", "LightFM(loss='bpr'), defaults (Adagrad, lr 0.05)"),
    "lightfm warp": ("lightfm", "LightFM(loss='warp'), defaults (Adagrad, lr 0.05, max_sampled 10)"),
}
#: Systems of the scale and serving workloads (WARP's cost depends on how
#: well trained the model is, so samples per second say little about it).
SCALE_SYSTEMS = ("tripletrec bpr", "implicit bpr", "implicit als", "lightfm bpr")
#: The README's three rows: the same loss in each library (ALS, a reference
#: point with another objective, is on the page only).
HEADLINE_SYSTEMS = ("tripletrec bpr", "implicit bpr", "lightfm bpr")

INSTALL_NOTES = {
    "implicit": "`pip install implicit` (the PyPI wheel).",
    "lightfm": (
        "`pip install lightfm` fails: LightFM 1.17, the latest release, does not build with current pip "
        "out of the box (its `setup.py` sets `__builtins__.__LIGHTFM_SETUP__`, and under pip's isolated "
        "build `__builtins__` is a dict: `AttributeError: 'dict' object has no attribute "
        "'__LIGHTFM_SETUP__'`). Built here from the 1.17 source release by pip's legacy build, which runs "
        "`setup.py` as a script, with `benchmarks/install_lightfm.sh` (with OpenMP)."
    ),
}

#: (label, users, items) of the synthetic sizes.
SCALE_SIZES = {1_000_000: (20_000, 10_000), 5_000_000: (100_000, 50_000), 20_000_000: (400_000, 100_000)}


# ====================================================================== worker
def _status_mib(field) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mib() -> float:
    return _status_mib("VmRSS")


def _reset_peak_rss() -> None:
    """Start VmHWM afresh at the current RSS (Linux >= 4.0), to see one phase's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass


def _peak_rss_mib() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent
    # through fork and exec, so a worker would report the parent's peak.
    return _status_mib("VmHWM")


class _Factors:
    """Scores of ``user_factors @ item_factors.T`` for :func:`tripletrec.evaluate`."""

    def __init__(self, user_factors, item_factors):
        self.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)

    def score(self, users):
        return self.user_factors[users] @ self.item_factors.T


class _Tripletrec:
    def __init__(self, system, dim, threads, seed):
        from tripletrec import MatrixFactorization

        params = dict(dim=dim, threads=threads, seed=seed)
        if system == "tripletrec warp":
            params.update(
                loss="warp", negatives="unseen", optimizer="adagrad", learning_rate=0.05, l2=0.5, bias_l2=0.01
            )
        self.model = MatrixFactorization(**params)

    def train(self, train, epochs, after_epoch=None):
        callbacks = [] if after_epoch is None else [lambda model, record: after_epoch()]
        self.model.set_params(epochs=epochs).fit(train, callbacks=callbacks, progress=False)

    def scorer(self):
        return self.model

    def serve(self, train, k):
        return self.model.recommend(train.user_ids.ids, k, exclude=train)


class _Implicit:
    def __init__(self, system, dim, threads, seed):
        if system == "implicit bpr":
            from implicit.cpu.bpr import BayesianPersonalizedRanking as model_class
        else:
            from implicit.cpu.als import AlternatingLeastSquares as model_class
        self.model = model_class(factors=dim, iterations=1, num_threads=threads, random_state=seed)

    def train(self, train, epochs, after_epoch=None):
        from threadpoolctl import threadpool_limits

        self.model.iterations = epochs
        # One fit call, with implicit's own per-iteration callback: each
        # fit call restarts the sampling generator from random_state.
        callback = None if after_epoch is None else (lambda *progress: after_epoch())
        with threadpool_limits(1, "blas"):
            self.model.fit(train.matrix, show_progress=False, callback=callback)

    def scorer(self):
        return _Factors(self.model.user_factors, self.model.item_factors)

    def serve(self, train, k):
        users = np.arange(train.n_users)
        return self.model.recommend(users, train.matrix, N=k, filter_already_liked_items=True)


class _LightFM:
    def __init__(self, system, dim, threads, seed):
        from lightfm import LightFM

        self.model = LightFM(no_components=dim, loss=system.split()[1], random_state=seed)
        self.threads = threads
        self.coo = None

    def train(self, train, epochs, after_epoch=None):
        if self.coo is None:
            self.coo = train.matrix.tocoo()
        if after_epoch is None:
            self.model.fit_partial(self.coo, epochs=epochs, num_threads=self.threads)
            return
        for _ in range(epochs):
            self.model.fit_partial(self.coo, epochs=1, num_threads=self.threads)
            after_epoch()

    def scorer(self):
        # The user bias does not change a user's ranking; the item bias does.
        users = np.hstack([self.model.user_embeddings, np.ones((self.model.user_embeddings.shape[0], 1))])
        items = np.hstack([self.model.item_embeddings, self.model.item_biases[:, None]])
        return _Factors(users, items)

    def serve(self, train, k):
        raise NotImplementedError("LightFM has no batch top-k recommend (predict scores given pairs)")


def _adapter(system, dim, threads, seed):
    library = SYSTEMS[system][0]
    return {"tripletrec": _Tripletrec, "implicit": _Implicit, "lightfm": _LightFM}[library](system, dim, threads, seed)


def _load_synthetic(path):
    import scipy.sparse as sp

    from tripletrec import Interactions

    arrays = np.load(path)
    matrix = sp.csr_matrix(
        (np.ones(len(arrays["indices"]), dtype=np.float32), arrays["indices"], arrays["indptr"]),
        shape=tuple(arrays["shape"]),
    )
    return Interactions.from_scipy(matrix)


def _warm_up(system, threads):
    """Load compiled code (numba's cache, extension modules) outside the timings."""
    import scipy.sparse as sp

    from tripletrec import Interactions

    tiny = sp.random(200, 100, density=0.1, format="csr", dtype=np.float32, random_state=1)
    tiny.data[:] = 1.0
    _adapter(system, 8, threads, 0).train(Interactions.from_scipy(tiny), 1)


def run_seed_protocol(spec):
    from tripletrec import data as datasets
    from tripletrec import evaluate

    data = datasets.movielens("ml-100k", split="ua", min_rating=4)
    train, test = data.train.binarize(), data.test
    _warm_up(spec["system"], spec["threads"])
    system = _adapter(spec["system"], 100, spec["threads"], spec["seed"])
    curve = []
    evaluating = 0.0  # time spent in the evaluations, taken off the training time

    def after_epoch():
        nonlocal evaluating
        paused = time.perf_counter()
        scorer = system.scorer()
        auc_all = evaluate(scorer, test, train=train, metrics=("auc_all",)).means["auc_all"]
        precision = evaluate(scorer, test, train=train, k=10, metrics=("precision",)).means["precision@10"]
        curve.append(
            {
                "epoch": len(curve) + 1,
                "seconds": paused - started - evaluating,
                "auc_all": auc_all,
                "precision@10": precision,
            }
        )
        evaluating += time.perf_counter() - paused

    started = time.perf_counter()
    system.train(train, spec["epochs"], after_epoch)
    return {"curve": curve, "peak_rss_mib": _peak_rss_mib()}


def run_scale(spec):
    train = _load_synthetic(spec["data"])
    _warm_up(spec["system"], spec["threads"])
    ready_rss = _rss_mib()
    _reset_peak_rss()
    system = _adapter(spec["system"], 64, spec["threads"], spec["seed"])
    started = time.perf_counter()
    system.train(train, spec["epochs"])
    wall = time.perf_counter() - started
    result = {
        "interactions": len(train),
        "epochs": spec["epochs"],
        "seconds_per_epoch": wall / spec["epochs"],
        "samples_per_second": len(train) * spec["epochs"] / wall,
        "ready_rss_mib": ready_rss,
        "peak_rss_mib": _peak_rss_mib(),
    }
    if spec.get("serve"):
        _reset_peak_rss()
        try:
            started = time.perf_counter()
            ids, _ = system.serve(train, 10)
            result["serve_seconds"] = time.perf_counter() - started
            result["serve_users"] = int(len(ids))
        except NotImplementedError as error:
            result["serve_skipped"] = str(error)
    result["serve_peak_rss_mib"] = _peak_rss_mib()
    return result


def worker(spec):
    runner = {"seed": run_seed_protocol, "scale": run_scale}[spec["workload"]]
    print(RESULT_PREFIX + json.dumps(runner(spec)), flush=True)


# ====================================================================== parent
def library_version(library):
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return None


def importable(library):
    """(True, version) or (False, reason)."""
    probe = {
        "tripletrec": "import tripletrec",
        "implicit": "import implicit.cpu.bpr, implicit.cpu.als",
        "lightfm": "from lightfm import LightFM",
    }[library]
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if completed.returncode == 0:
        return True, library_version(library)
    last = (completed.stderr.strip().splitlines() or ["unknown error"])[-1]
    return False, last


def machine_info(threads):
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = "unknown"
    try:
        with open("/proc/meminfo") as info:
            memory = f"{int(info.readline().split()[1]) / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {
        name: library_version(name) for name in ("tripletrec", "numpy", "scipy", "numba", "implicit", "lightfm")
    }
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info

        found = [
            f"{entry['internal_api']} {entry['version']}"
            for entry in threadpool_info()
            if entry.get("user_api") == "blas"
        ]
        blas = ", ".join(sorted(set(found))) or "none found"
    except ImportError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "blas": blas,
        "versions": versions,
    }


def run_worker(spec, timeout):
    """One system in a fresh process; returns its result or {'error': ...}."""
    threads = str(spec["threads"])
    environment = dict(
        os.environ,
        OPENBLAS_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        OMP_NUM_THREADS=threads,
        NUMBA_NUM_THREADS=threads,
    )
    try:
        completed = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            env=environment,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    last = (completed.stderr.strip().splitlines() or [f"exit status {completed.returncode}"])[-1]
    return {"error": last}


def size_label(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def make_synthetic(directory, sizes):
    from tripletrec import data as datasets

    paths = {}
    for size in sizes:
        users, items = SCALE_SIZES[size]
        matrix = datasets.synthetic(users, items, size, 32, 1.0, 0).interactions.matrix
        path = Path(directory) / f"synthetic-{size_label(size)}.npz"
        np.savez(path, indptr=matrix.indptr, indices=matrix.indices, shape=np.array(matrix.shape))
        paths[size] = str(path)
        print(f"  synthetic {size_label(size)}: {users:,} users x {items:,} items", flush=True)
    return paths


# ------------------------------------------------------------------ the page
def _figure(value, digits=2):
    return "–" if value is None else f"{value:,.{digits}f}"


def plot_seed(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    for system, result in results.items():
        if "curve" not in result:
            continue
        curve = result["curve"]
        axis.plot(
            [point["seconds"] for point in curve],
            [point["auc_all"] for point in curve],
            marker="o",
            markersize=3,
            label=system,
            linewidth=2.2 if system.startswith("tripletrec") else 1.4,
        )
    axis.set_xscale("log")
    axis.set_xlabel("cumulative training time (s, log scale)")
    axis.set_ylabel("test auc_all (training items count as negatives)")
    axis.set_title("MovieLens 100k ua, ratings >= 4, dim 100: one point per epoch")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_scale(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    for system in SCALE_SYSTEMS:
        points = sorted(
            (size, result["samples_per_second"])
            for (name, size), result in results.items()
            if name == system and "samples_per_second" in result
        )
        if points:
            axis.plot(
                [size for size, _ in points],
                [rate / 1e6 for _, rate in points],
                marker="o",
                label=system,
                linewidth=2.2 if system.startswith("tripletrec") else 1.4,
            )
    axis.set_xscale("log")
    axis.set_xlabel("training interactions (log scale)")
    axis.set_ylabel("million samples per second")
    axis.set_title("Synthetic data, dim 64: training throughput")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def summary_rows(seed_results, scale_results, serve_size):
    """The README's table: one row per headline system that ran."""
    rows = []
    for system in HEADLINE_SYSTEMS:
        seed = seed_results.get(system, {})
        if "curve" not in seed:
            continue
        last = seed["curve"][-1]
        scale = scale_results.get((system, serve_size), {})
        rows.append(
            (
                system,
                last["auc_all"],
                last["precision@10"],
                last["seconds"],
                scale.get("samples_per_second"),
                scale.get("serve_seconds"),
            )
        )
    return rows


def summary_table(rows, serve_size, epochs):
    label = size_label(serve_size)
    lines = [
        f"| system | ml-100k auc_all after {epochs} epochs | precision@10 | training s | samples/s at {label} "
        f"| top-10 for all users of the {label} model (s) |",
        "|---|---|---|---|---|---|",
    ]
    for system, auc_all, precision, seconds, rate, serve in rows:
        lines.append(
            f"| {system} | {auc_all:.4f} | {precision:.4f} | {seconds:.2f} | "
            f"{'–' if rate is None else f'{rate / 1e6:.2f}M'} | {_figure(serve)} |"
        )
    return "\n".join(lines)


def write_page(path, context):
    info = context["machine"]
    lines = [
        "# Benchmarks: tripletrec against implicit and LightFM",
        "",
        f"Generated by `{context['command']}` on {context['date']} ({context['mode']} run, "
        f"{context['duration'] / 60:.1f} minutes). Every figure below comes from that run; reproduce it "
        f"with the same command (`--quick` for a short version).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {info['cpu']}, {info['cores']} cores |",
        f"| memory | {info['memory']} |",
        f"| OS | {info['os']} |",
        f"| Python | {info['python']} |",
        f"| BLAS | {info['blas']} |",
        f"| threads per system | {info['threads']} |",
    ]
    for name, version in info["versions"].items():
        lines.append(f"| {name} | {version or 'not installed'} |")
    lines += ["", "## Systems", "", "| system | what ran | status |", "|---|---|---|"]
    for system, (library, description) in SYSTEMS.items():
        status = context["status"][library]
        lines.append(f"| {system} | {description} | {'ran' if status[0] else 'skipped: ' + status[1]} |")
    lines += ["", "How each peer was installed:", ""]
    for library, note in INSTALL_NOTES.items():
        lines.append(f"- **{library}**: {note}")
    lines += [
        "",
        "Each system runs in a process of its own, on the same data (the same CSR matrix, weights set to 1) "
        "and with the same number of threads. Library defaults are kept except dimension, epochs, threads "
        "and seed. BLAS is limited to one thread while implicit trains (implicit's own advice).",
        "",
        f"## 1. Seed protocol: MovieLens 100k, {context['seed_epochs']} epochs",
        "",
        "`ua` split, ratings >= 4 are the positives, dim 100. The AUC is auc_all (seed notebook's definition: "
        "training items count as negatives); precision@10 excludes training items. Training seconds are cumulative and "
        "leave out the evaluation.",
        "",
        "![auc_all against training time](img/seed_protocol.png)",
        "",
        "| system | auc_all | precision@10 | best auc_all (epoch) | training s | peak RSS (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for system, result in context["seed"].items():
        if "curve" not in result:
            lines.append(f"| {system} | {result.get('error', result.get('skipped', ''))} | | | | |")
            continue
        last = result["curve"][-1]
        best = max(result["curve"], key=lambda point: point["auc_all"])
        lines.append(
            f"| {system} | {last['auc_all']:.4f} | {last['precision@10']:.4f} | "
            f"{best['auc_all']:.4f} ({best['epoch']}) | {last['seconds']:.2f} | {result['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        "## 2. Scale: synthetic interactions, dim 64",
        "",
        f"`tripletrec.data.synthetic` (planted rank 32, popularity exponent 1). Each fit runs "
        f"{context['scale_epochs']} epoch(s) after a warm-up fit on tiny data; seconds per epoch are the "
        "fit's wall time over its epochs, so they include each library's per-fit setup. Samples per second "
        "count one sample per training interaction per epoch (for ALS: interactions processed per second). "
        "Peak RSS is the process's peak during training (Linux VmHWM, reset when training starts); in "
        "brackets its RSS before training (interpreter, libraries, compiled code and the loaded data), so "
        "the difference is what training took.",
        "",
        "![Samples per second against dataset size](img/scale.png)",
        "",
        "| size | users x items | system | s/epoch | samples/s | peak RSS MiB (before training) |",
        "|---|---|---|---|---|---|",
    ]
    for (system, size), result in context["scale"].items():
        users, items = SCALE_SIZES[size]
        prefix = f"| {size_label(size)} | {users:,} x {items:,} | {system} |"
        if "samples_per_second" not in result:
            lines.append(f"{prefix} {result.get('error', result.get('skipped', ''))} | | |")
            continue
        lines.append(
            f"{prefix} {result['seconds_per_epoch']:.2f} | {result['samples_per_second'] / 1e6:.2f}M | "
            f"{result['peak_rss_mib']:.0f} ({result['ready_rss_mib']:.0f}) |"
        )
    ratios = context["ratios"]
    if ratios:
        lines += ["", "tripletrec bpr's samples per second over each peer's, same size, same run:", ""]
        lines += [
            f"- {size_label(size)}: " + ", ".join(f"{peer} {ratio:.2f}x" for peer, ratio in by_peer.items())
            for size, by_peer in ratios.items()
        ]
    serve = context["serve_size"]
    lines += [
        "",
        f"## 3. Serving: top-10 for every user of the {size_label(serve)} model",
        "",
        "Training items excluded, through each library's batch call: `MatrixFactorization.recommend(users, "
        "10, exclude=train)` and implicit's `recommend(users, user_items, N=10, "
        "filter_already_liked_items=True)`.",
        "",
        "| system | users | seconds | peak RSS while serving (MiB) |",
        "|---|---|---|---|",
    ]
    for system in SCALE_SYSTEMS:
        result = context["scale"].get((system, serve), {})
        if "serve_seconds" in result:
            lines.append(
                f"| {system} | {result['serve_users']:,} | {result['serve_seconds']:.2f} | "
                f"{result['serve_peak_rss_mib']:.0f} |"
            )
        else:
            reason = result.get("serve_skipped", result.get("error", result.get("skipped", "not run")))
            lines.append(f"| {system} | – | skipped: {reason} | |")
    lines.append("")
    Path(path).write_text("\n".join(lines))


def update_readme(readme, table, epochs, cores):
    start, end = "<!-- benchmark-summary:start -->", "<!-- benchmark-summary:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        print(f"README has no {start} ... {end} block: not updated")
        return
    block = "\n".join(
        [
            start,
            "![auc_all against training time on MovieLens 100k](docs/img/seed_protocol.png)",
            "",
            table,
            "",
            f"MovieLens 100k `ua` (ratings >= 4), dim 100, {epochs} epochs; throughput on synthetic data, dim 64; "
            f"all from one run of `python benchmarks/compare.py` on a {cores}-core machine. Details, the machine and "
            "how each peer was installed: [docs/benchmarks.md](docs/benchmarks.md).",
            end,
        ]
    )
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    readme.write_text(before + block + after)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1M interactions only, 1 epoch for scale (< 5 min)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of every system")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where benchmarks.md and img/ go")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="README whose summary to update")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed to one system's process")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return

    began = time.perf_counter()
    command = "python benchmarks/compare.py" + (" --quick" if args.quick else "")
    machine = machine_info(args.threads)
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory']}, {machine['os']}, "
        f"Python {machine['python']}, BLAS {machine['blas']}"
    )
    print("versions: " + ", ".join(f"{name} {version or '-'}" for name, version in machine["versions"].items()))
    status = {library: importable(library) for library in ("tripletrec", "implicit", "lightfm")}
    for library, (ok, detail) in status.items():
        print(f"  {library}: {'version ' + str(detail) if ok else 'skipped: ' + detail}")
    available = [system for system in SYSTEMS if status[SYSTEMS[system][0]][0]]

    seed_epochs = 30
    sizes = [1_000_000] if args.quick else sorted(SCALE_SIZES)
    scale_epochs = 1 if args.quick else 3
    serve_size = 1_000_000 if args.quick else 5_000_000

    print(f"\n1. seed protocol (ml-100k ua, dim 100, {seed_epochs} epochs)", flush=True)
    seed_results = {}
    for system in SYSTEMS:
        if system not in available:
            seed_results[system] = {"skipped": status[SYSTEMS[system][0]][1]}
            continue
        result = run_worker(
            {"workload": "seed", "system": system, "threads": args.threads, "seed": args.seed, "epochs": seed_epochs},
            args.timeout,
        )
        seed_results[system] = result
        if "curve" in result:
            last = result["curve"][-1]
            print(
                f"  {system:<16} auc_all {last['auc_all']:.4f}  p@10 {last['precision@10']:.4f}  "
                f"training {last['seconds']:.2f} s",
                flush=True,
            )
        else:
            print(f"  {system:<16} failed: {result['error']}", flush=True)

    print(
        f"\n2. scale ({', '.join(size_label(size) for size in sizes)}; dim 64, {scale_epochs} epoch(s)) "
        f"and 3. serving ({size_label(serve_size)})",
        flush=True,
    )
    scale_results = {}
    with tempfile.TemporaryDirectory(prefix="tripletrec-compare-") as directory:
        paths = make_synthetic(directory, sizes)
        for size in sizes:
            for system in SCALE_SYSTEMS:
                if system not in available:
                    scale_results[system, size] = {"skipped": status[SYSTEMS[system][0]][1]}
                    continue
                result = run_worker(
                    {
                        "workload": "scale",
                        "system": system,
                        "threads": args.threads,
                        "seed": args.seed,
                        "epochs": scale_epochs,
                        "data": paths[size],
                        "serve": size == serve_size,
                    },
                    args.timeout,
                )
                scale_results[system, size] = result
                if "samples_per_second" in result:
                    served = f"  top-10 all users {result['serve_seconds']:.2f} s" if "serve_seconds" in result else ""
                    print(
                        f"  {size_label(size):>4} {system:<16} {result['seconds_per_epoch']:7.2f} s/epoch "
                        f"{result['samples_per_second'] / 1e6:6.2f}M samples/s  peak RSS "
                        f"{result['peak_rss_mib']:6.0f} MiB (before training {result['ready_rss_mib']:.0f}){served}",
                        flush=True,
                    )
                else:
                    print(f"  {size_label(size):>4} {system:<16} failed: {result['error']}", flush=True)

    ratios = {}
    for size in sizes:
        ours = scale_results.get(("tripletrec bpr", size), {}).get("samples_per_second")
        if ours:
            ratios[size] = {
                peer: ours / scale_results[peer, size]["samples_per_second"]
                for peer in SCALE_SYSTEMS[1:]
                if "samples_per_second" in scale_results.get((peer, size), {})
            }
    for size, by_peer in ratios.items():
        print(
            f"  tripletrec bpr / peer at {size_label(size)}: "
            + ", ".join(f"{peer} {ratio:.2f}x" for peer, ratio in by_peer.items())
        )

    image_directory = args.out / "img"
    image_directory.mkdir(parents=True, exist_ok=True)
    plot_seed(seed_results, image_directory / "seed_protocol.png")
    plot_scale(scale_results, image_directory / "scale.png")
    rows = summary_rows(seed_results, scale_results, serve_size)
    table = summary_table(rows, serve_size, seed_epochs)
    print("\n" + table)
    context = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "duration": time.perf_counter() - began,
        "machine": machine,
        "status": status,
        "seed": seed_results,
        "seed_epochs": seed_epochs,
        "scale": scale_results,
        "scale_epochs": scale_epochs,
        "ratios": ratios,
        "serve_size": serve_size,
    }
    write_page(args.out / "benchmarks.md", context)
    update_readme(args.readme, table, seed_epochs, machine["cores"])
    print(
        f"\nwrote {args.out / 'benchmarks.md'}, {image_directory}/seed_protocol.png, scale.png "
        f"in {(time.perf_counter() - began) / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
