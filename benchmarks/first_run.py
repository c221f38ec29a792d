"""How long does a new user wait the first time? Cold against warm numba cache.

Each repeat makes an empty numba cache (a fresh ``NUMBA_CACHE_DIR`` temporary
folder, which takes precedence over the in-tree ``__pycache__``), then runs
the same script twice, each in a fresh Python process: the first (cold)
compiles every kernel it touches and fills the cache, the second (warm)
loads them from it. The script times, in order:

- ``import``: ``import tripletrec.models`` (numba's own import included);
- ``load``: ``movielens('ml-100k', split='ua', min_rating=4)`` (it compiles
  the text parser; shown, but not part of the target);
- ``fit``: ``MatrixFactorization(seed=0).fit(train, progress=False)``;
- ``evaluate``: ``evaluate(model, test, train=train, k=10)``;
- ``recommend``: ``model.recommend([1, 2], k=10, exclude=train)``;
- ``recommend_new``: ``model.recommend_new([[1, 2, 3]], k=10)`` (fold-in).

On ml-100k, ``evaluate`` and ``recommend`` (and the ranking inside
``recommend_new``) are small enough to run in numpy rather than in compiled
kernels (the size rules of :func:`tripletrec.metrics.evaluate` and
:data:`tripletrec.serving.exact.NUMPY_SELECTION_MAX_SCORES`): they compile
nothing, and their cold and warm times differ only by noise.

``compile`` is cold minus warm: the compilation (and cache writing) that the
first process pays. ``cold cpu`` is the cold step's CPU seconds (all of the
process's threads); compilation runs on one thread, so on a busy machine it
moves less than the wall-clock figures do. The target is cold ``fit + evaluate + recommend`` under
10 s. Figures are medians over the repeats.

It measures whatever ``tripletrec`` the child processes import, i.e. the tree
on ``PYTHONPATH``: ``PYTHONPATH=src python benchmarks/first_run.py``.
MovieLens 100k is read from ``TRIPLETREC_DATA``.

Run: ``python benchmarks/first_run.py [--repeats N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

TARGET_SECONDS = 10.0
STEPS = ("import", "load", "fit", "evaluate", "recommend", "recommend_new")
TARGET_STEPS = ("fit", "evaluate", "recommend")

# Runs in the child; prints one JSON line of seconds per step.
CHILD = r"""
import json, sys, time
times, cpu = {}, {}
start, start_cpu = time.perf_counter(), time.process_time()
import tripletrec.models
times["import"] = time.perf_counter() - start
cpu["import"] = time.process_time() - start_cpu

from tripletrec import evaluate
from tripletrec.data import movielens
from tripletrec.models import MatrixFactorization

def timed(name, call):
    start, start_cpu = time.perf_counter(), time.process_time()
    result = call()
    times[name] = time.perf_counter() - start
    cpu[name] = time.process_time() - start_cpu
    return result

data = timed("load", lambda: movielens("ml-100k", split="ua", min_rating=4))
train, test = data.train, data.test
model = timed("fit", lambda: MatrixFactorization(seed=0).fit(train, progress=False))
timed("evaluate", lambda: evaluate(model, test, train=train, k=10))
timed("recommend", lambda: model.recommend([1, 2], k=10, exclude=train))
timed("recommend_new", lambda: model.recommend_new([[1, 2, 3]], k=10))
info = {"tripletrec": tripletrec.__file__, "version": tripletrec.__version__}
import numba
info["numba"] = numba.__version__
info["threads"] = numba.config.NUMBA_NUM_THREADS
print(json.dumps({"times": times, "cpu": cpu, "info": info}))
"""


def run_child(cache_dir: str) -> dict:
    """Run :data:`CHILD` in a fresh interpreter with ``cache_dir`` as numba's cache."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.pop("NUMBA_DISABLE_JIT", None)  # a disabled JIT would measure nothing
    result = subprocess.run([sys.executable, "-c", CHILD], check=False, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"child process failed (exit {result.returncode}):\n{result.stderr}")
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # The compile notices the process printed: which kernel groups compiled.
    outcome["notices"] = [line for line in result.stderr.splitlines() if line.startswith("tripletrec: compiling")]
    return outcome


def measure(repeats: int, progress: bool) -> dict:
    """Cold and warm seconds per step, ``repeats`` times, each with a new empty cache."""
    cold: dict[str, list[float]] = {step: [] for step in STEPS}
    warm: dict[str, list[float]] = {step: [] for step in STEPS}
    cold_cpu: dict[str, list[float]] = {step: [] for step in STEPS}
    notices: dict[str, list[str]] = {}
    info: dict = {}
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory(prefix="tripletrec-first-run-") as cache_dir:
            for label, sink in (("cold", cold), ("warm", warm)):
                if progress:
                    print(f"repeat {repeat + 1}/{repeats}: {label} process ...", file=sys.stderr, flush=True)
                outcome = run_child(cache_dir)
                info = outcome["info"]
                notices[label] = outcome["notices"]
                for step in STEPS:
                    sink[step].append(outcome["times"][step])
                    if label == "cold":
                        cold_cpu[step].append(outcome["cpu"][step])
    median = {
        step: {
            "cold": statistics.median(cold[step]),
            "warm": statistics.median(warm[step]),
            "cold_cpu": statistics.median(cold_cpu[step]),
        }
        for step in STEPS
    }
    for figures in median.values():
        figures["compile"] = figures["cold"] - figures["warm"]
    total = sum(median[step]["cold"] for step in TARGET_STEPS)
    info.update(
        python=platform.python_version(),
        machine=platform.machine(),
        cpus=os.cpu_count(),
        repeats=repeats,
    )
    return {
        "median": median,
        "cold": cold,
        "warm": warm,
        "cold_cpu": cold_cpu,
        "notices": notices,
        "target": {"steps": list(TARGET_STEPS), "cold_total": total, "seconds": TARGET_SECONDS},
        "info": info,
    }


def print_table(report: dict) -> None:
    """The human-readable summary of :func:`measure`'s report."""
    info = report["info"]
    print(
        f"tripletrec {info['version']} ({info['tripletrec']}), numba {info['numba']}, "
        f"Python {info['python']}, {info['cpus']} CPUs ({info['threads']} numba threads), "
        f"median of {info['repeats']} repeat(s)"
    )
    print(f"{'step':<15}{'cold s':>9}{'warm s':>9}{'compile s':>11}{'cold cpu s':>12}")
    for step in STEPS:
        f = report["median"][step]
        print(f"{step:<15}{f['cold']:>9.2f}{f['warm']:>9.2f}{f['compile']:>11.2f}{f['cold_cpu']:>12.2f}")
    total = report["target"]["cold_total"]
    verdict = "meets" if total <= TARGET_SECONDS else "misses"
    print(f"cold {' + '.join(TARGET_STEPS)} = {total:.2f} s: {verdict} the {TARGET_SECONDS:.0f} s target")
    for label, lines in report["notices"].items():
        print(f"compile notices, last {label} process: {len(lines)}")
        for line in lines:
            print(f"  {line}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="cold/warm pairs, each with a new empty cache")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON instead of a table")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    report = measure(args.repeats, progress=not args.json)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
