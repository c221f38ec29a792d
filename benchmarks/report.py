"""The page (``docs/benchmarks.md``), its plots and the README summary, from one compare.py run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from protocol import DIM, SERVE_SYSTEMS, synthetic_grid
from systems import SCHEDULE, SYSTEMS

#: Fractions of the best p@10 of a workload whose crossing times are tabled.
LEVEL_FRACTIONS = (0.5, 0.75, 0.9, 0.95)

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

SUMMARY_START, SUMMARY_END = "<!-- benchmark-summary:start -->", "<!-- benchmark-summary:end -->"


def size_label(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def params_text(params):
    return ", ".join(f"{key}={value}" for key, value in params.items()) or "–"


def settings_text(system, params):
    """A row's settings: the tuned values, or what the fixed tripletrec rows are."""
    if system == "tripletrec default":
        return "library defaults"
    if system == "tripletrec warp":
        return "named warp configuration" + (f", {params_text(params)}" if params else "")
    return params_text(params)


def _number(value, digits=4):
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _mean_std(values, digits=4):
    return "–" if not values else f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def _failure(result):
    return result.get("error", result.get("skipped", "not run"))


# ====================================================================== figures
def _plot_quality(curves, title, path):
    """p@10 and AUC against cumulative training seconds (log), one line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for system, curve in curves.items():
        if not curve:
            continue
        seconds = [max(point["seconds"], 1e-3) for point in curve]
        style = dict(label=system, linewidth=2.2 if system.startswith("tripletrec") else 1.4)
        for axis, metric in zip(axes, ("p@10", "auc")):
            values = [point[metric] for point in curve]
            if len(curve) == 1:  # a baseline: one fit, one point
                axis.plot(seconds, values, marker="*", markersize=11, linestyle="none", **style)
            else:
                axis.plot(seconds, values, marker="o", markersize=3, **style)
    for axis, label in zip(axes, ("test precision@10", "test AUC (training items excluded)")):
        axis.set_xscale("log")
        axis.set_xlabel("cumulative training time (s, log scale)")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _plot_scale(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    for system in SYSTEMS:
        points = sorted((row["pairs"], row["samples_per_second"]) for row in rows if row["system"] == system)
        if points:
            axis.plot(
                [pairs for pairs, _ in points],
                [rate / 1e6 for _, rate in points],
                marker="o",
                label=system,
                linewidth=2.2 if system.startswith("tripletrec") else 1.4,
            )
    axis.set_xscale("log")
    axis.set_xlabel("training interactions (log scale)")
    axis.set_ylabel("million samples per second")
    axis.set_title("Training throughput of the curve runs (tuned settings)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


# ====================================================================== derived tables
def seconds_to_levels(curves):
    """(levels, {system: [seconds or None per level]}): when each curve first reaches each p@10 level.

    Levels are :data:`LEVEL_FRACTIONS` of the best p@10 any system reached on
    the workload, rounded to 3 decimals (so they read as fixed numbers).
    """
    best = max((point["p@10"] for curve in curves.values() for point in curve), default=0.0)
    levels = [round(best * fraction, 3) for fraction in LEVEL_FRACTIONS]
    reached = {}
    for system, curve in curves.items():
        reached[system] = [
            next((point["seconds"] for point in curve if point["p@10"] >= level), None) for level in levels
        ]
    return levels, reached


def workloads(context):
    """[(name, {system: curve})] of the time-to-quality workloads: MovieLens' first split, each synthetic size."""
    plan = context["plan"]
    split = plan.report_splits[0]
    found = []
    ml = {}
    for system, result in context["movielens"]["results"].items():
        if "splits" in result:
            ml[system] = result["splits"][split]["curve"]
    found.append((f"ml-100k {split}", ml))
    for size, stage in context["synthetic"]["sizes"].items():
        curves = {system: result["curve"] for system, result in stage["results"].items() if "curve" in result}
        found.append((f"synthetic {size_label(size)}", curves))
    return found


def throughput_rows(context):
    """Samples per second and memory of every curve run (MovieLens' first split and each synthetic size)."""
    rows = []
    split = context["plan"].report_splits[0]
    for system, result in context["movielens"]["results"].items():
        if "splits" in result:
            rows.append(_throughput(system, f"ml-100k {split}", result["splits"][split]))
    for size, stage in context["synthetic"]["sizes"].items():
        for system, result in stage["results"].items():
            if "curve" in result:
                rows.append(_throughput(system, f"synthetic {size_label(size)}", result))
    # A baseline's fit is no epoch of sampled pairs: samples per second would mean nothing.
    return [row for row in rows if SYSTEMS[row["system"]][0] != "baseline"]


def _throughput(system, workload, run):
    seconds = max(run["seconds"], 1e-9)
    return {
        "system": system,
        "workload": workload,
        "pairs": run["pairs"],
        "epochs": run["epochs"],
        "seconds_per_epoch": seconds / run["epochs"],
        "samples_per_second": run["pairs"] * run["epochs"] / seconds,
        "peak_rss_mib": run["peak_rss_mib"],
        "ready_rss_mib": run["ready_rss_mib"],
    }


# ====================================================================== page
def _movielens_table(context):
    plan, ml = context["plan"], context["movielens"]
    first, rest = plan.report_splits[0], plan.report_splits[1:]
    spread = f"{rest[0]}..{rest[-1]}" if rest else "–"
    lines = [
        f"| system | settings (chosen on ua validation) | epochs | {first} p@10 | {first} auc | {first} auc_all "
        f"| {first} training s | {spread} p@10 | {spread} auc | {spread} auc_all |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for system, choice in ml["choices"].items():
        result = ml["results"].get(system, {})
        if "splits" not in result:
            lines.append(f"| {system} | failed: {_failure(result)} | | | | | | | | |")
            continue
        settings = settings_text(system, choice["params"])
        head = result["splits"][first]
        finals = [result["splits"][split]["final"] for split in rest]
        lines.append(
            f"| {system} | {settings} | {choice['epochs']} | {head['final']['p@10']:.4f} | "
            f"{head['final']['auc']:.4f} | {head['final']['auc_all']:.4f} | {head['seconds']:.2f} | "
            + " | ".join(_mean_std([final[name] for final in finals]) for name in ("p@10", "auc", "auc_all"))
            + " |"
        )
    return lines


def _synthetic_table(stage):
    lines = [
        "| system | settings | epochs trained | training s | p@10 | auc | auc_all | stopped by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system, result in stage["results"].items():
        if "curve" not in result:
            lines.append(f"| {system} | failed: {_failure(result)} | | | | | | |")
            continue
        final = result["final"]
        lines.append(
            f"| {system} | {settings_text(system, result.get('params', {}))} | {result['epochs']} | {result['seconds']:.1f} | "
            f"{final['p@10']:.4f} | {final['auc']:.4f} | {final['auc_all']:.4f} | {result['stopped_by']} |"
        )
    return lines


def _levels_table(name, curves):
    levels, reached = seconds_to_levels(curves)
    lines = [
        f"**{name}** (levels: " + ", ".join(f"{int(f * 100)}%" for f in LEVEL_FRACTIONS) + " of the best p@10 reached)",
        "",
        "| system | " + " | ".join(f"p@10 ≥ {level:.3f}" for level in levels) + " |",
        "|---|" + "---|" * len(levels),
    ]
    for system, seconds in reached.items():
        lines.append(f"| {system} | " + " | ".join("not reached" if s is None else f"{s:.2f}" for s in seconds) + " |")
    return lines


def _grid_text(grid):
    """A grid as its axes: {'a': [1, 2], 'b': [3]}."""
    axes = {}
    for point in grid:
        for key, value in point.items():
            axes.setdefault(key, [])
            if value not in axes[key]:
                axes[key].append(value)
    return "; ".join(f"{key} ∈ {{{', '.join(str(v) for v in values)}}}" for key, values in axes.items()) or "–"


def _tuning_section(context):
    plan, ml, synthetic = context["plan"], context["movielens"], context["synthetic"]
    tune_label = size_label(synthetic["tune_size"])
    lines = [
        "## 4. Tuning: the grids and what they chose",
        "",
        "Selection metric: precision@10 (training items excluded) on a validation split carved from a "
        "training part, never on a test split. Epochs are chosen on the same validation curve, evaluated after "
        f"epochs {', '.join(str(epoch) for epoch in sorted(SCHEDULE))} (and the last), so an epoch count is one "
        f"of those. Every factor model has dim {DIM}, {context['machine']['threads']} threads, seed "
        "0; LightFM's `item_alpha` and `user_alpha` take the same value.",
        "",
        "**MovieLens 100k**: validation = a random fifth of each user's pairs in `ua`'s training part "
        "(ratings >= 4); the rest trains.",
        "",
        "| system | grid | most epochs | chosen | validation p@10 |",
        "|---|---|---|---|---|",
    ]
    for system, choice in ml["choices"].items():
        if choice.get("tuned") is False:
            lines.append(f"| {system} | not tuned: library defaults | {choice['epochs']} (default) | – | – |")
            continue
        grid, most = plan.movielens_grids[system]
        if "error" in choice:
            lines.append(f"| {system} | {_grid_text(grid)} | {most} | failed: {choice['error']} | |")
            continue
        lines.append(
            f"| {system} | {_grid_text(grid)} | {most} | {settings_text(system, choice['params'])}, "
            f"{choice['epochs']} epoch(s) | {choice['p@10']:.4f} |"
        )
    lines += [
        "",
        f"**Synthetic {tune_label}** (reduced grids, around the MovieLens choice): validation = a fifth of the "
        f"training pairs of 2,000 random users other than the test users; each point trains at most "
        f"{plan.tune_max_epochs} epochs or {plan.tune_budget_s:.0f} s. The other axes keep the MovieLens choice. "
        "A choice whose best epoch was its last (still improving when the point's budget ran out) trains on to "
        "the curve budget in section 2. Larger synthetic sizes reuse this choice, untuned. EASE and item-kNN "
        "are not run on synthetic data: their dense item x item matrices (50,000² and 100,000² floats) do not fit. "
        "The tripletrec warp row has no parameter to tune; only its epochs are chosen.",
        "",
        "| system | grid | chosen | validation p@10 | still improving |",
        "|---|---|---|---|---|",
    ]
    for system, choice in synthetic["choices"].items():
        if choice.get("tuned") is False:
            lines.append(
                f"| {system} | not tuned | {params_text(choice['params'])}, {choice['epochs']} epoch(s) | – | |"
            )
            continue
        previous = ml["choices"].get(system, {}).get("params")
        grid = synthetic_grid(system, previous, plan.quick)
        if "error" in choice:
            lines.append(f"| {system} | {_grid_text(grid)} | failed: {choice['error']} | | |")
            continue
        lines.append(
            f"| {system} | {_grid_text(grid)} | {settings_text(system, choice['params'])}, {choice['epochs']} "
            f"epoch(s) | {choice['p@10']:.4f} | {'no' if choice['plateaued'] else 'yes'} |"
        )
    return lines


def load_lines(load):
    """A sentence on how busy the machine was (1-minute load averages), if the run recorded it."""
    if not load:
        return []
    if "start" in load:
        measured = (
            f"Machine load (1-minute load average) at the start {load['start'][0]:.1f}, at the end {load['end'][0]:.1f}"
        )
    else:
        measured = "Machine load (1-minute load average)"
    text = (
        measured
        + (f": {load['note']}" if load.get("note") else "")
        + ". Above the core count, other work shared the cores and every time below is inflated, for "
        "every system alike (they ran one after another, so not necessarily by the same factor)."
    )
    return [text, ""]


def write_page(path, context, image_names):
    info, plan, synthetic = context["machine"], context["plan"], context["synthetic"]
    first = plan.report_splits[0]
    lines = [
        "# Benchmarks: tripletrec against implicit, LightFM and simple baselines",
        "",
        f"Generated by `{context['command']}` on {context['date']} ({context['mode']} run, "
        f"{context['duration'] / 60:.1f} minutes, {info['cores']} cores, {info['threads']} threads per system). "
        "Every figure below comes from that run; reproduce it with the same command (`--quick` for a short "
        "version). Each peer is tuned on a validation split (section 4); tripletrec's default row is "
        "`MatrixFactorization()` exactly as shipped, never tuned.",
        "",
        *load_lines(context.get("load")),
        f"tripletrec's defaults in this run: `{params_text(context['defaults'])}` (threads and seed set "
        "as for every system). tripletrec warp is the named configuration "
        f"`{SYSTEMS['tripletrec warp'][1]}` (the best seed-protocol setting of `benchmarks/seed_protocol.py`), "
        f"dim {DIM}: no parameter tuned, only its epochs chosen on validation as the peers' are.",
        "",
        "Metrics ([`tripletrec.evaluate`](../src/tripletrec/metrics.py)): precision@10 ranks only items the "
        "user did not train on; `auc` likewise removes training items from the ranking (LightFM's convention); "
        "`auc_all` is the seed notebook's definition, training items counting as negatives. Training seconds "
        "are cumulative and leave out evaluation; they include each library's per-fit setup (input "
        "conversion), after a warm-up fit on tiny data that loads compiled code.",
        "",
        f"## 1. MovieLens 100k (ratings >= 4): tuned on `ua`, reported on `{first}` and "
        f"`{plan.report_splits[1]}`..`{plan.report_splits[-1]}`",
        "",
        f"Settings and epochs chosen on `ua` (section 4), then trained on each split's training part with seed 0 "
        f"and tested on its test part. Mean ± standard deviation over the {len(plan.report_splits) - 1} splits. "
        "`ua`/`ub` test parts hold 10 ratings of each user (9,430), `u1`..`u5` a fifth of all ratings (20,000 "
        "each, so more positives per test user): precision@10 is higher on the latter; compare systems within "
        "a column.",
        "",
        *_movielens_table(context),
        "",
        f"![p@10 and AUC against training time, ml-100k {first}](img/{image_names[0]})",
        "",
        f"Learning curves on `{first}`: one point per evaluated epoch; a star is a baseline (one fit).",
        "",
        "## 2. Time to quality on synthetic data",
        "",
        "`tripletrec.data.synthetic(users, items, pairs, dim=32, popularity_exponent=1.0, seed=0)`; for 2,000 "
        "random users a fifth of their pairs is held out as the test set; everything else trains, the same CSR "
        f"for every library. Dim {DIM} (the tripletrec default row: its own). Each run trains the settings "
        f"chosen at {size_label(synthetic['tune_size'])} (section 4) until its chosen epochs or a training "
        "budget, whichever comes first ('stopped by'), evaluating along the way.",
        "",
    ]
    for (size, stage), image in zip(synthetic["sizes"].items(), image_names[1:]):
        lines += [
            f"### {size_label(size)}: {stage['users']:,} users x {stage['items']:,} items, "
            f"budget {stage['budget_s']:.0f} s",
            "",
            *_synthetic_table(stage),
            "",
            f"![p@10 and AUC against training time, synthetic {size_label(size)}](img/{image})",
            "",
        ]
    lines += [
        "## 3. Seconds of training to reach p@10 levels",
        "",
        "The cumulative training seconds at the first evaluated epoch whose test p@10 reaches the level (so "
        "within the resolution of the evaluation schedule); a baseline's figure is its fit time.",
        "",
    ]
    for name, curves in workloads(context):
        lines += [*_levels_table(name, curves), ""]
    lines += _tuning_section(context)
    rows = throughput_rows(context)
    lines += [
        "",
        "## 5. Throughput and memory",
        "",
        "From the curve runs above (tuned settings): seconds per epoch and samples per second are training "
        "seconds over epochs (one sample per training pair per epoch; for ALS, pairs processed per second). "
        "WARP's cost per epoch depends on how well trained the model is, so its samples per second are those "
        "of its own run. Peak RSS is the process's peak while training (Linux VmHWM, reset when training "
        "starts and after each evaluation); in brackets the RSS before training (interpreter, libraries, "
        "compiled code and the loaded data).",
        "",
        f"![samples per second against dataset size](img/{image_names[-1]})",
        "",
        "| workload | system | epochs | s/epoch | samples/s | peak RSS MiB (before training) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['workload']} | {row['system']} | {row['epochs']} | {row['seconds_per_epoch']:.3f} | "
            f"{row['samples_per_second'] / 1e6:.2f}M | {row['peak_rss_mib']:.0f} ({row['ready_rss_mib']:.0f}) |"
        )
    tune_stage = synthetic["sizes"].get(synthetic["tune_size"], {"results": {}})
    lines += [
        "",
        f"## 6. Serving: top-10 for every user of the {size_label(synthetic['tune_size'])} models",
        "",
        "Training items excluded, through each library's batch call: `MatrixFactorization.recommend(users, "
        "10, exclude=train)` and implicit's `recommend(users, user_items, N=10, "
        "filter_already_liked_items=True)`. LightFM has no batch top-k call.",
        "",
        "| system | users | seconds | peak RSS while serving (MiB) |",
        "|---|---|---|---|",
    ]
    for system in SERVE_SYSTEMS:
        result = tune_stage["results"].get(system, {})
        if "serve_seconds" in result:
            lines.append(
                f"| {system} | {result['serve_users']:,} | {result['serve_seconds']:.2f} | "
                f"{result['serve_peak_rss_mib']:.0f} |"
            )
        else:
            lines.append(f"| {system} | – | skipped: {result.get('serve_skipped', _failure(result))} | |")
    lines += [
        "",
        "## Machine and systems",
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
    lines += [f"| {name} | {version or 'not installed'} |" for name, version in info["versions"].items()]
    lines += ["", "| system | what ran | status |", "|---|---|---|"]
    for system, (library, description) in SYSTEMS.items():
        ok, detail = context["status"][library]
        lines.append(f"| {system} | {description} | {'ran' if ok else 'skipped: ' + detail} |")
    lines += [
        "",
        "Each system runs in a process of its own (one per tuning job, one per reported workload), on the "
        "same data (the same CSR matrix, weights set to 1) with the same number of threads. BLAS is limited "
        "to one thread while implicit trains (implicit's own advice) and left at the thread count otherwise.",
        "",
        "How each peer was installed:",
        "",
    ]
    lines += [f"- **{library}**: {note}" for library, note in INSTALL_NOTES.items()]
    lines.append("")
    Path(path).write_text("\n".join(lines))


# ====================================================================== README
def summary_table(context):
    """The README's table: MovieLens (first split and the spread), the first synthetic size, serving."""
    plan, ml, synthetic = context["plan"], context["movielens"], context["synthetic"]
    first, rest = plan.report_splits[0], plan.report_splits[1:]
    size = synthetic["tune_size"]
    stage = synthetic["sizes"].get(size, {"results": {}})
    label = size_label(size)
    curves = dict(next(curves for name, curves in workloads(context) if name == f"synthetic {label}"))
    levels, reached = seconds_to_levels(curves)
    level_at = LEVEL_FRACTIONS.index(0.9)
    lines = [
        f"| system | ml-100k {first} p@10 | {rest[0]}..{rest[-1]} p@10 | {first} auc | {label} p@10 "
        f"| {label}: s to p@10 ≥ {levels[level_at]:.3f} | {label} samples/s | {label} top-10 all users (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system in SYSTEMS:
        result = ml["results"].get(system, {})
        if "splits" not in result:
            continue
        head = result["splits"][first]
        spread = _mean_std([result["splits"][split]["final"]["p@10"] for split in rest], 3)
        synth = stage["results"].get(system, {})
        p10 = _number(synth.get("final", {}).get("p@10"))
        to_level = reached.get(system, [None] * len(levels))[level_at]
        rate = next(
            (
                row["samples_per_second"]
                for row in throughput_rows(context)
                if row["system"] == system and row["workload"] == f"synthetic {label}"
            ),
            None,
        )
        serve = synth.get("serve_seconds")
        lines.append(
            f"| {system} | {head['final']['p@10']:.4f} | {spread} | {head['final']['auc']:.4f} | {p10} | "
            f"{'–' if synth.get('curve') is None else ('not reached' if to_level is None else f'{to_level:.1f}')} | "
            f"{'–' if rate is None or SYSTEMS[system][0] == 'baseline' else f'{rate / 1e6:.2f}M'} | "
            f"{_number(serve, 1)} |"
        )
    return "\n".join(lines)


def update_readme(readme, table, context, image):
    text = readme.read_text()
    if SUMMARY_START not in text or SUMMARY_END not in text:
        print(f"README has no {SUMMARY_START} ... {SUMMARY_END} block: not updated")
        return
    plan = context["plan"]
    block = "\n".join(
        [
            SUMMARY_START,
            f"![p@10 and AUC against training time on MovieLens 100k {plan.report_splits[0]}](docs/img/{image})",
            "",
            table,
            "",
            "MovieLens 100k (ratings >= 4), each peer tuned on a validation part of `ua`'s training data, "
            f"tripletrec at its defaults; synthetic {size_label(context['synthetic']['tune_size'])} pairs, dim "
            f"{DIM}, reduced grids tuned there; all from one run of `python benchmarks/compare.py` on a "
            f"{context['machine']['cores']}-core machine. Grids, time-to-quality curves, the machine and how "
            "each peer was installed: [docs/benchmarks.md](docs/benchmarks.md).",
            SUMMARY_END,
        ]
    )
    before, rest = text.split(SUMMARY_START, 1)
    after = rest.split(SUMMARY_END, 1)[1]
    readme.write_text(before + block + after)


def write_all(out, readme, context):
    """Plots, the page and the README block; returns the summary table."""
    images = out / "img"
    images.mkdir(parents=True, exist_ok=True)
    names = []
    for name, curves in workloads(context):
        image = "quality_" + name.replace("synthetic ", "").replace(" ", "_") + ".png"
        _plot_quality(curves, f"{name}: test quality against training time", images / image)
        names.append(image)
    names.append("scale.png")
    _plot_scale(throughput_rows(context), images / "scale.png")
    write_page(out / "benchmarks.md", context, names)
    table = summary_table(context)
    update_readme(readme, table, context, names[0])
    return table
