"""The measuring helpers of benchmarks/compare.py: validation splits, learning curves, tuning, levels."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from protocol import hold_out  # noqa: E402
from report import seconds_to_levels  # noqa: E402
from systems import _past_peak, learning_curve, make, tune  # noqa: E402

from tripletrec import data as datasets  # noqa: E402


def _small():
    interactions = datasets.synthetic(300, 120, 6000, 8, 1.0, 0).interactions.binarize()
    return hold_out(interactions, 0.2, seed=0, n_users=100)


def test_hold_out_takes_pairs_of_chosen_users_only_and_avoids_excluded_ones():
    interactions = datasets.synthetic(300, 120, 6000, 8, 1.0, 0).interactions.binarize()
    excluded = np.zeros(interactions.n_users, dtype=bool)
    excluded[:150] = True
    kept, held = hold_out(interactions, 0.5, seed=1, n_users=40, exclude_users=excluded)
    assert len(kept) + len(held) == len(interactions)
    users = np.unique(held.user_index())
    assert 0 < len(users) <= 40 and users.min() >= 150
    # The same pair is never on both sides.
    keys = lambda part: set(zip(part.user_index().tolist(), part.indices.tolist()))  # noqa: E731
    assert not keys(kept) & keys(held)


def test_past_peak_needs_patience_points_without_a_better_value_and_enough_epochs():
    curve = [{"epoch": epoch, "p@10": value} for epoch, value in zip((1, 10, 30, 40), (0.1, 0.2, 0.15, 0.19))]
    assert not _past_peak(curve, 3)
    assert _past_peak(curve, 2)
    assert not _past_peak(curve + [{"epoch": 50, "p@10": 0.21}], 2)
    # A peak at epoch 2 with a dip after it: not before epoch 22.
    early = [{"epoch": epoch, "p@10": value} for epoch, value in zip((1, 2, 3, 4, 5, 6), (0.1, 0.2, 0, 0, 0, 0))]
    assert not _past_peak(early, 4)
    assert _past_peak(early + [{"epoch": 25, "p@10": 0.1}], 4)


def test_learning_curve_of_a_baseline_is_one_point_and_budget_stops_a_model():
    train, test = _small()
    run = learning_curve(make("ease", {"l2": 10.0}, 8, 1, 0), train, test, 1)
    assert [point["epoch"] for point in run["curve"]] == [1] and run["stopped_by"] == "epochs"
    run = learning_curve(make("tripletrec warp", {}, 8, 1, 0), train, test, 50, budget_s=0.0)
    assert run["epochs"] == 1 and run["stopped_by"] == "budget" and len(run["curve"]) == 1


def test_tune_picks_the_best_validation_point():
    train, validation = _small()
    result = tune("item-knn", [{"k": 1}, {"k": 50}], train, validation, 8, 1, 0, 1, np.inf, log=lambda line: None)
    scores = [row["p@10"] for row in result["grid"]]
    assert result["p@10"] == max(scores) and result["params"] == result["grid"][int(np.argmax(scores))]["params"]


def test_seconds_to_levels_takes_the_first_point_at_or_above_each_level():
    curves = {
        "a": [{"seconds": 1.0, "p@10": 0.05}, {"seconds": 2.0, "p@10": 0.1}],
        "b": [{"seconds": 0.5, "p@10": 0.09}],
    }
    levels, reached = seconds_to_levels(curves)
    assert levels == [0.05, 0.075, 0.09, 0.095]
    assert reached == {"a": [1.0, 2.0, 2.0, 2.0], "b": [0.5, 0.5, 0.5, None]}
