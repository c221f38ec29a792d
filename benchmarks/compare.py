"""tripletrec against the libraries people would pick instead, each tuned, on identical inputs.

Runs tripletrec (its defaults, and a named warp configuration), implicit
(BPR, ALS), LightFM (BPR, WARP) and three simple baselines (popularity,
cosine item-kNN, EASE), each system in a process of its own with the same
thread count, and writes ``docs/benchmarks.md``, its plots under
``docs/img/`` and the summary block of ``README.md``. Every figure on the
page is computed here, in the run that writes it.

Protocol (grids in ``protocol.py``, adapters in ``systems.py``):

1. **MovieLens 100k**, ratings >= 4 as positives (weights 1 for every
   system), dim 64. Each peer's settings and epoch count are chosen on a
   validation fifth of ``ua``'s training pairs (precision@10, training
   items excluded); ``ua``'s test part is never used. The chosen settings
   are then trained on ``ub`` (learning curve on its test part: p@10 and
   AUC against cumulative training seconds) and on ``u1`` .. ``u5`` (mean
   and standard deviation). The tripletrec default row is
   ``MatrixFactorization()`` as the library ships it, epochs included,
   with only threads and seed set: never tuned.
2. **Synthetic 5M and 20M** (:func:`tripletrec.data.synthetic`, planted
   dim 32, popularity exponent 1, seed 0; for 2,000 random users a fifth of
   their pairs held out as test), dim 64. Reduced grids are tuned at 5M on
   a validation split of the training part (2,000 other users); 20M reuses
   the 5M choice. Each run has a training-time budget; its learning curve
   gives the time-to-quality plot, the seconds to reach fixed p@10 levels,
   the samples per second and the peak memory while training.
3. **Serving**: top-10 for every user of the 5M models, training items
   excluded, through each library's own batch call.

BLAS is limited to one thread while implicit trains (implicit's own advice).

The run's raw results are saved as JSON (``benchmarks/results/compare.json``;
``compare-quick.json`` for ``--quick``, not committed), and
``--from-results FILE`` rewrites the page, plots and README from such a file
without running anything.

Usage::

    python benchmarks/compare.py            # full run: about 35-40 min on 2 quiet cores
    python benchmarks/compare.py --quick    # smoke run (1-point grids, 500k synthetic): about 3 min
    python benchmarks/compare.py --from-results benchmarks/results/compare.json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, also for workers

import report  # noqa: E402
from protocol import (  # noqa: E402
    FULL_PLAN,
    JOBS,
    QUICK_PLAN,
    SERVE_SYSTEMS,
    SYNTHETIC_SYSTEMS,
    make_synthetic,
    synthetic_grid,
)
from systems import SYSTEMS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "RESULT "


# ====================================================================== machine
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
        "baseline": "import numpy, scipy.sparse",
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


def tripletrec_defaults():
    """MatrixFactorization()'s parameters as installed now (the default row is whatever they are)."""
    from tripletrec import MatrixFactorization

    return MatrixFactorization().get_params()


# ====================================================================== workers
def worker(spec):
    print(RESULT_PREFIX + json.dumps(JOBS[spec["job"]](spec)), flush=True)


def run_worker(spec, timeout):
    """One job of one system in a fresh process; returns its result or {'error': ...}.

    The worker's other output (the tuning log) is echoed, indented.
    """
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
    result = None
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        elif line.strip():
            print(line, flush=True)
    if result is not None:
        return result
    last = (completed.stderr.strip().splitlines() or [f"exit status {completed.returncode}"])[-1]
    return {"error": last}


def _final_text(final):
    return f"p@10 {final['p@10']:.4f}  auc {final['auc']:.4f}  auc_all {final['auc_all']:.4f}"


def save_results(path, context):
    """The run's context as JSON (the plan by name; synthetic sizes' keys as strings, as JSON has it)."""
    saved = dict(context, plan="quick" if context["plan"].quick else "full")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1))


def load_results(path):
    """A saved context, with its plan and integer size keys back."""
    context = json.loads(path.read_text())
    context["plan"] = QUICK_PLAN if context["plan"] == "quick" else FULL_PLAN
    synthetic = context["synthetic"]
    synthetic["sizes"] = {int(size): stage for size, stage in synthetic["sizes"].items()}
    synthetic["tune_size"] = int(synthetic["tune_size"])
    return context


# ====================================================================== stages
def movielens_stage(plan, available, base, timeout, default_epochs):
    """Per system, one process: tune on ua's validation part, then train and test on the reported splits."""
    choices, results = {}, {}
    print(
        "\n1. MovieLens 100k: tuned on a validation fifth of ua's training pairs (p@10), reported on "
        + ", ".join(plan.report_splits),
        flush=True,
    )
    for system in SYSTEMS:
        if system not in available:
            continue
        spec = {**base, "job": "movielens", "system": system, "splits": list(plan.report_splits)}
        if system == "tripletrec default":
            spec["epochs"] = default_epochs  # the library's own, not tuned
        else:
            spec["grid"], spec["max_epochs"] = plan.movielens_grids[system]
        result = run_worker(spec, timeout)
        results[system] = result
        if "error" in result:
            choices[system] = {"error": result["error"]}
            print(f"  {system:<18} failed: {result['error']}", flush=True)
            continue
        choices[system] = choice = result["choice"]
        first = result["splits"][plan.report_splits[0]]
        chosen = report.settings_text(system, choice["params"])
        print(
            f"  {system:<18} chose {chosen}, {choice['epochs']} epoch(s); {plan.report_splits[0]}: "
            f"{_final_text(first['final'])}  training {first['seconds']:.2f} s",
            flush=True,
        )
    return {"choices": choices, "results": results}


def synthetic_stage(plan, available, base, timeout, default_epochs, movielens_choices):
    """Reduced grids tuned at the first size; curves (and serving at the first size) at every size."""
    stages = {}
    sizes = list(plan.synthetic_sizes)
    tune_size = sizes[0]
    choices = {}
    with tempfile.TemporaryDirectory(prefix="tripletrec-compare-") as directory:
        for size in sizes:
            users, items = plan.synthetic_sizes[size]
            started = time.perf_counter()
            paths = make_synthetic(directory, size, users, items, with_validation=size == tune_size)
            label = report.size_label(size)
            print(
                f"\n2. synthetic {label}: {users:,} users x {items:,} items "
                f"(generated in {time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            systems = [system for system in SYNTHETIC_SYSTEMS if system in available]
            if size == tune_size:
                print(
                    f"   tuning (reduced grids) on a validation split of the training part, "
                    f"{plan.tune_budget_s:.0f} s of training per point",
                    flush=True,
                )
                for system in systems:
                    if system in ("tripletrec default", "popularity"):
                        fixed = default_epochs if system == "tripletrec default" else 1
                        choices[system] = {"params": {}, "epochs": fixed, "plateaued": True, "tuned": False}
                        continue
                    previous = movielens_choices.get(system, {})
                    grid = synthetic_grid(system, previous.get("params"), plan.quick)
                    choice = run_worker(
                        {
                            **base,
                            "job": "tune",
                            "system": system,
                            "data": paths,
                            "grid": grid,
                            "max_epochs": plan.tune_max_epochs,
                            "budget_s": plan.tune_budget_s,
                        },
                        timeout,
                    )
                    choices[system] = choice
                    if "error" in choice:
                        print(f"  {system:<18} failed: {choice['error']}", flush=True)
                        continue
                    print(
                        f"  {system:<18} chose {report.settings_text(system, choice['params'])}, {choice['epochs']} "
                        f"epoch(s){'' if choice['plateaued'] else ' (still improving)'}",
                        flush=True,
                    )
            budget = plan.curve_budget_s[size]
            print(f"   curves: chosen settings, at most {budget:.0f} s of training each", flush=True)
            results = {}
            for system in systems:
                choice = choices.get(system, {"error": "not tuned"})
                if "error" in choice:
                    results[system] = {"error": choice["error"]}
                    continue
                # A choice still improving when its tuning budget ran out runs on to the budget here.
                epochs = choice["epochs"] if choice.get("plateaued", True) else plan.tune_max_epochs
                result = run_worker(
                    {
                        **base,
                        "job": "synthetic",
                        "system": system,
                        "params": choice["params"],
                        "epochs": epochs,
                        "budget_s": budget,
                        "data": paths,
                        "serve": size == tune_size and system in SERVE_SYSTEMS,
                    },
                    timeout,
                )
                results[system] = result
                if "error" in result:
                    print(f"  {system:<18} failed: {result['error']}", flush=True)
                    continue
                served = f"  top-10 all users {result['serve_seconds']:.1f} s" if "serve_seconds" in result else ""
                print(
                    f"  {system:<18} {_final_text(result['final'])}  {result['epochs']} epoch(s), "
                    f"{result['seconds']:.1f} s training ({result['stopped_by']}){served}",
                    flush=True,
                )
            stages[size] = {"results": results, "users": users, "items": items, "budget_s": budget}
            print(f"   ({label} done in {(time.perf_counter() - started) / 60:.1f} min)", flush=True)
            for path in paths.values():
                os.remove(path)
    return {"tune_size": tune_size, "choices": choices, "sizes": stages}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1-point grids, ml splits ub/u1/u2, 500k synthetic (< 5 min)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of every system")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where benchmarks.md and img/ go")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="README whose summary to update")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds allowed to one worker process")
    parser.add_argument(
        "--results",
        type=Path,
        help="where the run's raw results go as JSON (default: benchmarks/results/compare[-quick].json)",
    )
    parser.add_argument(
        "--from-results", type=Path, help="write the page, plots and README from a saved results file; no run"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.from_results:
        context = load_results(args.from_results)
        print(report.write_all(args.out, args.readme, context))
        return

    began = time.perf_counter()
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    command = "python benchmarks/compare.py" + (" --quick" if args.quick else "")
    machine = machine_info(args.threads)
    load_before = os.getloadavg()
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory']}, {machine['os']}, "
        f"Python {machine['python']}, BLAS {machine['blas']}"
    )
    print("versions: " + ", ".join(f"{name} {version or '-'}" for name, version in machine["versions"].items()))
    status = {library: importable(library) for library in ("tripletrec", "implicit", "lightfm", "baseline")}
    for library, (ok, detail) in status.items():
        print(f"  {library}: {'ok' + (' ' + str(detail) if detail else '') if ok else 'skipped: ' + detail}")
    available = [system for system in SYSTEMS if status[SYSTEMS[system][0]][0]]
    defaults = tripletrec_defaults()
    print("tripletrec default row: MatrixFactorization() = " + report.params_text(defaults))
    base = {"threads": args.threads, "seed": args.seed}

    movielens = movielens_stage(plan, available, base, args.timeout, defaults["epochs"])
    print(f"   ({(time.perf_counter() - began) / 60:.1f} min so far)", flush=True)
    synthetic = synthetic_stage(plan, available, base, args.timeout, defaults["epochs"], movielens["choices"])
    print(f"   ({(time.perf_counter() - began) / 60:.1f} min so far)", flush=True)

    context = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "duration": time.perf_counter() - began,
        # Other work on the machine inflates every time on the page: say how busy it was.
        "load": {"start": list(load_before), "end": list(os.getloadavg())},
        "machine": machine,
        "status": status,
        "available": available,
        "defaults": defaults,
        "plan": plan,
        "movielens": movielens,
        "synthetic": synthetic,
    }
    results = args.results or ROOT / "benchmarks" / "results" / f"compare{'-quick' if args.quick else ''}.json"
    save_results(results, context)
    print(f"\nraw results: {results}")
    tables = report.write_all(args.out, args.readme, context)
    print("\n" + tables)
    print(f"\nwrote {args.out / 'benchmarks.md'} and its plots in {(time.perf_counter() - began) / 60:.1f} min")


if __name__ == "__main__":
    main()
